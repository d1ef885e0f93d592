//! `hrsync serve`: the admin API and the scheduler, until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use hrsync_runtime::{EgressAllowance, Runtime};
use hrsync_server::api::{app, ApiSettings, AppState};
use hrsync_server::control::notify::{MailSettings, Notifier};
use hrsync_server::control::{default_max_concurrent_runs, scheduler, Control};
use hrsync_server::vault::Vault;
use hrsync_store::Store;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HRSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`; by default `hrsync.db` in the
    /// data folder.
    #[arg(long, env = "HRSYNC_DATABASE_URL")]
    database_url: Option<String>,
    /// Holds the default SQLite file and the secret key file.
    #[arg(long, env = "HRSYNC_DATA_DIR", default_value = "hrsync-data")]
    data_dir: PathBuf,
    /// 64 hex digits sealing secrets at rest; by default read from (or
    /// created in) `<data-dir>/secret.key`. Every process sharing a
    /// database needs the same key.
    #[arg(long, env = "HRSYNC_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Creates tenants (`POST /api/v1/tenants`); without it no tenant can
    /// be created over HTTP.
    #[arg(long, env = "HRSYNC_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// SMTP relay for failure e-mails, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:password@mail.example.com`.
    #[arg(long, env = "HRSYNC_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of failure e-mails.
    #[arg(long, env = "HRSYNC_MAIL_FROM", default_value = "hrsync <hrsync@localhost>")]
    mail_from: String,
    /// How often the scheduler looks for due integrations, in ms.
    #[arg(long, env = "HRSYNC_SCHEDULER_TICK_MS", default_value_t = 1000)]
    scheduler_tick_ms: u64,
    /// Failed authentications per client address and minute before the
    /// address is refused for the rest of the minute.
    #[arg(long, env = "HRSYNC_MAX_AUTH_FAILURES", default_value_t = hrsync_server::api::auth::MAX_FAILURES)]
    max_auth_failures: usize,
    /// The shortest time between two scheduled runs of an integration, in
    /// seconds: a schedule that runs more often is refused.
    #[arg(long, env = "HRSYNC_MIN_SCHEDULE_INTERVAL_SECS", default_value_t = 300)]
    min_schedule_interval_secs: u64,
    /// Failed authentications of all client addresses together per minute
    /// before every address that failed is refused for the rest of it.
    #[arg(long, env = "HRSYNC_MAX_TOTAL_AUTH_FAILURES", default_value_t = hrsync_server::api::auth::MAX_TOTAL_FAILURES)]
    max_total_auth_failures: usize,
    /// A tenant's quota, `NAME=VALUE`, repeated or comma-separated: plugins
    /// (versions, 100), plugin-mib (1024), installations (200), integrations
    /// (100), secret-bytes (per installation, 65536), runs-per-hour (600).
    #[arg(long = "quota", env = "HRSYNC_QUOTAS", value_delimiter = ',')]
    quotas: Vec<String>,
    /// Show plugin names in `/metrics` labels (tenants choose them); by
    /// default each is `p_` and 8 hex digits of its BLAKE3 hash.
    #[arg(long, env = "HRSYNC_METRICS_PLUGIN_NAMES")]
    metrics_plugin_names: bool,
    /// Largest plugin component accepted, in MiB.
    #[arg(long, env = "HRSYNC_MAX_PLUGIN_MIB", default_value_t = 32)]
    max_plugin_mib: usize,
    /// Non-public addresses tenants' plugins and notification webhooks may
    /// reach: ranges (`10.20.0.0/16`), addresses (`127.0.0.1`) or origins
    /// (`http://127.0.0.1:7002`); repeat the flag or separate by commas.
    /// By default they reach public addresses only.
    #[arg(long, env = "HRSYNC_EGRESS_ALLOW", value_delimiter = ',')]
    egress_allow: Vec<String>,
    /// Load balancers or proxies in front of this server (ranges like
    /// `10.0.0.0/8`, or addresses), repeated or comma-separated: from
    /// them, the nearest address in `X-Forwarded-For` that is not one of
    /// them is the client's, for the lock-out after failed
    /// authentications. None by default: the TCP peer is the client.
    #[arg(long, env = "HRSYNC_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a shutdown waits for running runs, in seconds.
    #[arg(long, default_value_t = 60)]
    shutdown_grace_secs: u64,
    /// Runs going on at once in this process; later ones are `queued` and
    /// start as slots free up, webhook runs first [default: four per CPU].
    #[arg(long, env = "HRSYNC_MAX_CONCURRENT_RUNS")]
    max_concurrent_runs: Option<usize>,
    /// How long a run lease lives unless renewed, in seconds (at least 1):
    /// when a node dies, the others take up its runs between two thirds
    /// and seven sixths of this after it died.
    #[arg(long, env = "HRSYNC_LEASE_SECS", default_value_t = hrsync_server::control::DEFAULT_LEASE_TTL.as_secs())]
    lease_secs: u64,
    /// How long a plugin's HTTP request waits for an answer before it
    /// fails as a timeout (retried like a 503), in seconds.
    #[arg(long, env = "HRSYNC_PLUGIN_HTTP_TIMEOUT_SECS", default_value_t = 30.0)]
    plugin_http_timeout_secs: f64,
}

/// A range (`10.0.0.0/8`) or one address (`10.0.0.5`, a /32 or /128).
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("`{text}` is neither an address nor a range like 10.0.0.0/8"))
}

/// Runs at once in this process (`--max-concurrent-runs`, else four per CPU).
pub fn concurrent_runs(args: &ServeArgs) -> usize {
    args.max_concurrent_runs
        .unwrap_or_else(default_max_concurrent_runs)
        .max(1)
}

pub fn serve(runtime: Runtime, args: ServeArgs) -> Result<ExitCode, String> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    tokio.block_on(serve_async(runtime, args))
}

async fn serve_async(runtime: Runtime, args: ServeArgs) -> Result<ExitCode, String> {
    std::fs::create_dir_all(&args.data_dir).map_err(|e| format!("data folder {}: {e}", args.data_dir.display()))?;
    let database = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("hrsync.db").display()));
    let vault = match &args.secret_key {
        Some(key) => Vault::from_hex_key(key),
        None => Vault::load_or_create(&args.data_dir.join("secret.key")),
    }
    .map_err(|e| e.to_string())?;
    let store = Store::connect(&database)
        .await
        .map_err(|e| e.to_string())?
        .with_audit_key(vault.audit_key());
    hrsync_server::vault::check_shared_key(&vault, &store)
        .await
        .map_err(|e| e.to_string())?;
    store
        .seal_audit_chain()
        .await
        .map_err(|e| format!("sealing the audit chain: {e}"))?;
    let egress = EgressAllowance::parse(&args.egress_allow)?;
    let notifier = Notifier {
        mail: args.smtp_url.clone().map(|smtp_url| MailSettings {
            smtp_url,
            from: args.mail_from.clone(),
        }),
        ..Notifier::default()
    };
    let node = node_name(&args.data_dir)?;
    let control = Arc::new(
        Control::new(store, Arc::new(runtime), vault, notifier)
            .with_egress(egress)
            .with_node(node)
            .with_lease_ttl(Duration::from_secs(args.lease_secs))
            .with_http_timeout(Duration::from_secs_f64(
                args.plugin_http_timeout_secs.clamp(0.1, 3600.0),
            ))
            .with_max_concurrent_runs(concurrent_runs(&args)),
    );
    control
        .recover()
        .await
        .map_err(|e| format!("recovering runs left by a crash: {e}"))?;
    hrsync_metrics::declare();
    let state = AppState::new(
        Arc::clone(&control),
        args.operator_token.as_deref(),
        ApiSettings {
            max_plugin_bytes: args.max_plugin_mib << 20,
            max_auth_failures: args.max_auth_failures,
            max_total_auth_failures: args.max_total_auth_failures,
            min_schedule_interval_secs: args.min_schedule_interval_secs,
            quotas: hrsync_server::api::quota::Quotas::parse(&args.quotas)?,
            metrics_plugin_names: if args.metrics_plugin_names {
                hrsync_metrics::PluginNames::Shown
            } else {
                hrsync_metrics::PluginNames::Hashed
            },
            trusted_proxies: args.trusted_proxies.clone(),
        },
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(scheduler::run(
        Arc::clone(&control),
        Duration::from_millis(args.scheduler_tick_ms.max(10)),
        stopped.clone(),
    ));
    println!(
        "hrsync serve: listening on http://{address} (database {})",
        redact_url(&database)
    );
    let mut shutdown = stopped.clone();
    let server = axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        });
    let signals = async {
        shutdown_signal().await;
        tracing::info!("shutting down: no new runs; running ones stop after their batch in flight");
        control.shut_down();
        let _ = stop.send(true);
    };
    let (served, ()) = tokio::join!(server, signals);
    served.map_err(|e| format!("server: {e}"))?;
    let _ = scheduler.await;
    if !control.wait_idle(Duration::from_secs(args.shutdown_grace_secs)).await {
        eprintln!(
            "hrsync serve: {} run(s) still going after the grace period",
            control.running()
        );
    }
    say("hrsync serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// This server's name, kept in `<data-dir>/node` so that a restart knows
/// the leases of its previous life. Each process needs its own data folder.
fn node_name(data_dir: &std::path::Path) -> Result<String, String> {
    let path = data_dir.join("node");
    match std::fs::read_to_string(&path) {
        Ok(name) if !name.trim().is_empty() => Ok(name.trim().to_string()),
        _ => {
            let name = hrsync_store::new_id("node");
            std::fs::write(&path, &name).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(name)
        }
    }
}

/// A status line on stdout; a closed stdout does not stop the server.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// A database URL without its password, for the log.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
