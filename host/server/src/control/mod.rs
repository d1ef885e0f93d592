//! The control plane behind `hrsync serve`: turns stored integrations into
//! jobs, starts runs under a lease (one run per integration at a time, even
//! across processes), pauses a schedule after a failed run and tells the
//! owners, and drives the scheduler. The admin API and the scheduler both
//! start runs through [`Control::start`].

pub mod notify;
pub mod schedule;
pub mod scheduler;
pub mod signature;
pub mod slots;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::vault::{Vault, VaultError};
use hrsync_engine::integration::IntegrationError;
use hrsync_engine::job::{Finished, Job, JobError, PluginSetup, RunRequest, SharedObserver};
use hrsync_engine::run::Progress;
use hrsync_engine::run::StopSignal;
use hrsync_engine::source::SourceSetup;
use hrsync_engine::trigger::Trigger;
use hrsync_model::clock::now_ms;
use hrsync_model::PluginKind;
use hrsync_runtime::{EgressAllowance, Grant, HttpPolicy, LocalReach, Plugin, Runtime, Sandbox, Secrets};
use hrsync_store::integrations::{Integration, State};
use hrsync_store::{new_id, Store, StoreError};

use notify::{Notifier, RunFailed};
use schedule::Schedule;
use slots::RunSlots;

/// Runs at once unless the operator says otherwise: four per CPU, as a
/// run mostly waits for the HR system and the app (`hrsync-lab bench
/// tenants` with 20 ms answers: twice as many runs per second as two per
/// CPU, at 8–20 MiB per run; docs/operations.md, "Sizing").
pub fn default_max_concurrent_runs() -> usize {
    std::thread::available_parallelism().map_or(2, |cpus| cpus.get()) * 4
}

/// A lease lives this long unless renewed; renewed every third of it. A
/// node that dies leaves its integrations to the others after at most
/// this (docs/operations.md, "Several nodes").
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// Why a stored integration cannot be turned into a job; each names the
/// field of the integration or installation at fault.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{field}: installation `{id}` not found")]
    MissingInstallation { field: String, id: String },
    #[error("{field}: plugin {plugin} {version} is not uploaded")]
    MissingPlugin {
        field: String,
        plugin: String,
        version: String,
    },
    #[error("{field}: {message}")]
    Plugin { field: String, message: String },
    #[error("{field}: installation `{id}` is a {found} plugin, expected a {expected} plugin")]
    Kind {
        field: String,
        id: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{field}.config: {message}")]
    Config { field: String, message: String },
    #[error(transparent)]
    Options(#[from] IntegrationError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SetupError {
    /// The field of the request at fault, for API error bodies.
    pub fn field(&self) -> Option<String> {
        match self {
            SetupError::MissingInstallation { field, .. }
            | SetupError::MissingPlugin { field, .. }
            | SetupError::Plugin { field, .. }
            | SetupError::Kind { field, .. } => Some(field.clone()),
            SetupError::Config { field, .. } => Some(format!("{field}.config")),
            SetupError::Options(IntegrationError::Option { field, .. }) => Some(format!("options.{field}")),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a run of this integration is in progress")]
    Busy,
    #[error("another process started this scheduled run")]
    SlotTaken,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A scheduled slot: due at `due` (the integration's `next_run_at`),
/// the one after it at `next`.
#[derive(Debug, Clone, Copy)]
pub struct ScheduledSlot {
    pub due: i64,
    pub next: i64,
}

/// A run that has started; `done` resolves when it ends.
pub struct Started {
    pub run_id: String,
    pub done: tokio::task::JoinHandle<Result<Finished, JobError>>,
}

pub struct Control {
    pub store: Store,
    pub runtime: Arc<Runtime>,
    pub vault: Vault,
    pub notifier: Notifier,
    /// The non-public addresses tenants may reach (none unless the
    /// operator allows some).
    pub egress: Arc<EgressAllowance>,
    /// This server's name in the leases it holds (`node/lease`): a server
    /// restarted under the same name knows its old leases are dead.
    pub node: String,
    /// Set when the server shuts down: no new runs start.
    stopping: AtomicBool,
    /// The stop signals of the runs going on in this process, by run id.
    stops: Mutex<HashMap<String, StopSignal>>,
    /// How far each run going on in this process is, by run id (the
    /// console shows it live).
    progress: Arc<Mutex<HashMap<String, Progress>>>,
    /// Integrations with a run waiting for the one going on to end.
    waiting: Mutex<std::collections::HashSet<String>>,
    /// Integrations pushed to over inbound SCIM whose run is about to
    /// start, with the time of their first and last push since the last
    /// run started (`scim/mod.rs`).
    pub(crate) pending_pushes: Mutex<HashMap<String, (std::time::Instant, std::time::Instant)>>,
    /// Runs going on at once in this process (`--max-concurrent-runs`);
    /// the rest are `queued`, most urgent trigger first (`slots.rs`).
    slots: Arc<RunSlots>,
    /// How long a run lease lives unless renewed, in milliseconds.
    lease_ttl_ms: i64,
    /// How long a plugin's HTTP request may wait for its answer.
    http_timeout: Duration,
}

/// Turns a failed blocking task into a store error (it only fails when the
/// task panicked or the runtime shut down).
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Malformed(format!("background task: {e}")))
}

impl Control {
    pub fn new(store: Store, runtime: Arc<Runtime>, vault: Vault, notifier: Notifier) -> Self {
        Self {
            store,
            runtime,
            vault,
            notifier,
            egress: Arc::default(),
            node: new_id("node"),
            stopping: AtomicBool::new(false),
            stops: Mutex::new(HashMap::new()),
            progress: Arc::default(),
            waiting: Mutex::new(std::collections::HashSet::new()),
            pending_pushes: Mutex::new(HashMap::new()),
            slots: RunSlots::new(default_max_concurrent_runs()),
            lease_ttl_ms: DEFAULT_LEASE_TTL.as_millis() as i64,
            http_timeout: HttpPolicy::default().timeout,
        }
    }

    /// At most `runs` runs at once in this process; the rest wait, queued.
    pub fn with_max_concurrent_runs(mut self, runs: usize) -> Self {
        self.slots = RunSlots::new(runs);
        self
    }

    /// Leases of this length (`hrsync serve --lease-secs`): a node that
    /// dies gives up its runs to the others after it expires.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl_ms = (ttl.as_millis() as i64).max(1000);
        self
    }

    /// Plugins' HTTP requests give up after `timeout` without an answer
    /// (`hrsync serve --plugin-http-timeout-secs`).
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout.max(Duration::from_millis(100));
        self
    }

    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms as u64)
    }

    /// Run slots free for scheduled runs now.
    pub fn free_slots(&self) -> usize {
        self.slots.free()
    }

    /// Resolves when a run slot was freed with no run waiting for it.
    pub async fn slot_freed(&self) {
        self.slots.freed().await
    }

    /// Lets tenants' plugins and notification webhooks reach these
    /// non-public addresses (`hrsync serve --egress-allow`).
    pub fn with_egress(mut self, egress: EgressAllowance) -> Self {
        let egress = Arc::new(egress);
        self.notifier.egress = Arc::clone(&egress);
        self.egress = egress;
        self
    }

    /// Names this server for its leases; the same name after a restart
    /// lets [`Self::recover`] release what the dead process held at once.
    pub fn with_node(mut self, node: String) -> Self {
        self.node = node;
        self
    }

    /// At start-up, after a crash or `kill -9`: the leases this node held
    /// in its last life are released, then [`Self::take_over_dead`].
    pub async fn recover(&self) -> Result<u64, StoreError> {
        let released = self.store.release_node_leases(&self.node).await?;
        if released > 0 {
            tracing::warn!(released, "leases of this node's last life released");
        }
        self.take_over_dead().await
    }

    /// Runs no live process holds a lease for are marked interrupted, and
    /// their active integrations are due again at once, so that a live
    /// node finishes the round of one that died. The scheduler calls this
    /// a few times per lease period.
    pub async fn take_over_dead(&self) -> Result<u64, StoreError> {
        let interrupted = self.store.interrupt_orphaned_runs(None).await?;
        hrsync_metrics::runs_taken_over(interrupted);
        if interrupted > 0 {
            tracing::warn!(interrupted, "runs left by a process that died are marked interrupted");
        }
        Ok(interrupted)
    }

    /// `tenant.tag`: what this server's plugins send as
    /// `x-hrsync-tenant`, checked by [`Self::tenant_of_tag`].
    pub fn tenant_tag(&self, tenant: &str) -> String {
        format!("{tenant}.{}", self.vault.tag(tenant))
    }

    /// The tenant a request's `x-hrsync-tenant` names, if a server with
    /// this key made the tag.
    pub fn tenant_of_tag(&self, value: &str) -> Option<String> {
        let (tenant, tag) = value.rsplit_once('.')?;
        let expected = self.vault.tag(tenant);
        // Both are hex of the same length; a constant-time comparison is
        // not needed for a tag that only chooses a failure bucket.
        (tag == expected).then(|| tenant.to_string())
    }

    /// Why a tenant may not grant these hosts, naming the first refused
    /// one (`allowed_hosts[i]`).
    pub fn refused_grant(&self, hosts: &[String]) -> Option<(String, String)> {
        hosts.iter().enumerate().find_map(|(i, host)| {
            let grant = Grant::parse(host).ok()?;
            Some((format!("allowed_hosts[{i}]"), self.egress.refusal(&grant)?))
        })
    }

    /// A shutdown: no new run starts, and running ones stop after the
    /// batch of changes in flight, recorded as interrupted, to be taken up
    /// by the next run.
    pub fn shut_down(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Ok(stops) = self.stops.lock() {
            for stop in stops.values() {
                stop.request();
            }
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Runs going on in this process.
    pub fn running(&self) -> usize {
        self.stops.lock().map(|stops| stops.len()).unwrap_or(0)
    }

    /// Waits until no run of this process is going on, at most `limit`;
    /// true when none is.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.running() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Loads a component (the runtime keeps it loaded), on a blocking
    /// thread: compiling takes hundreds of milliseconds.
    pub async fn plugin(&self, field: &str, bytes: Vec<u8>) -> Result<Plugin, SetupError> {
        let runtime = Arc::clone(&self.runtime);
        let loaded = tokio::task::spawn_blocking(move || runtime.load(&bytes)).await;
        let failed = |message: String| SetupError::Plugin {
            field: field.to_string(),
            message,
        };
        match loaded {
            Ok(loaded) => loaded.map_err(|e| failed(e.to_string())),
            Err(joined) => Err(failed(format!("loading stopped unexpectedly: {joined}"))),
        }
    }

    /// One installation as a plugin and its sandbox: secrets opened, hosts
    /// granted, config checked against the plugin's schema.
    async fn setup(&self, tenant: &str, field: &str, id: &str, kind: PluginKind) -> Result<PluginSetup, SetupError> {
        self.setup_drafted(tenant, field, id, kind, None).await
    }

    async fn setup_drafted(
        &self,
        tenant: &str,
        field: &str,
        id: &str,
        kind: PluginKind,
        draft: Option<&serde_json::Value>,
    ) -> Result<PluginSetup, SetupError> {
        let setup = self.drafted_setup(tenant, field, id, draft).await?;
        if setup.plugin.kind() != kind {
            return Err(SetupError::Kind {
                field: field.to_string(),
                id: id.to_string(),
                found: setup.plugin.kind().name(),
                expected: kind.name(),
            });
        }
        Ok(setup)
    }

    /// An installation of any kind, ready to start sessions ([`Self::setup`]
    /// without the kind check).
    pub async fn installation_setup(&self, tenant: &str, field: &str, id: &str) -> Result<PluginSetup, SetupError> {
        self.drafted_setup(tenant, field, id, None).await
    }

    /// [`Self::installation_setup`] with a draft config in place of the
    /// stored one (checked the same way), for previews.
    pub async fn drafted_setup(
        &self,
        tenant: &str,
        field: &str,
        id: &str,
        draft: Option<&serde_json::Value>,
    ) -> Result<PluginSetup, SetupError> {
        let mut installation =
            self.store
                .installation(tenant, id)
                .await?
                .ok_or_else(|| SetupError::MissingInstallation {
                    field: field.to_string(),
                    id: id.to_string(),
                })?;
        if let Some(config) = draft {
            installation.config = config.clone();
        }
        let missing = || SetupError::MissingPlugin {
            field: field.to_string(),
            plugin: installation.plugin.clone(),
            version: installation.version.clone(),
        };
        let hash = self
            .store
            .plugin_content_hash(tenant, &installation.plugin, &installation.version)
            .await?
            .ok_or_else(missing)?;
        // A loaded plugin is not read again: a Python component is 19 MB.
        let plugin = match self.runtime.loaded_plugin(&hash) {
            Some(plugin) => plugin,
            None => {
                let bytes = self
                    .store
                    .plugin_component(tenant, &installation.plugin, &installation.version)
                    .await?
                    .ok_or_else(missing)?;
                self.plugin(field, bytes).await?
            }
        };
        let sandbox = self.sandbox(tenant, &installation)?;
        plugin.validate(&sandbox).map_err(|errors| SetupError::Config {
            field: field.to_string(),
            message: errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        })?;
        Ok(PluginSetup { plugin, sandbox })
    }

    /// What a session of the installation gets.
    pub fn sandbox(
        &self,
        tenant: &str,
        installation: &hrsync_store::catalog::Installation,
    ) -> Result<Sandbox, SetupError> {
        let mut secrets = Secrets::new();
        for (name, sealed) in &installation.sealed_secrets {
            let secret = self.vault.open(&format!("{}/{name}", installation.id), sealed)?;
            secrets.insert(name.clone(), secret);
        }
        let grants = installation
            .allowed_hosts
            .iter()
            .map(|host| Grant::parse(host))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SetupError::Plugin {
                field: "allowed_hosts".into(),
                message: e.to_string(),
            })?;
        Ok(Sandbox {
            config: installation.config.clone(),
            secrets,
            http: HttpPolicy {
                grants,
                local: LocalReach::Operator(Arc::clone(&self.egress)),
                tenant_tag: Some(self.tenant_tag(tenant)),
                timeout: self.http_timeout,
                ..HttpPolicy::default()
            },
            ..Sandbox::default()
        })
    }

    /// The integration's source plugin, checked; `None` when its source is
    /// its inbound SCIM endpoint (`scim/`), which has no plugin.
    pub async fn source_plugin(
        &self,
        tenant: &str,
        integration: &Integration,
    ) -> Result<Option<PluginSetup>, SetupError> {
        if integration.source == crate::scim::INBOUND_SOURCE {
            return Ok(None);
        }
        let setup = self
            .setup(tenant, "source", &integration.source, PluginKind::Source)
            .await?;
        Ok(Some(setup))
    }

    /// The integration's source as a run reads it: its plugin, or what was
    /// pushed to its inbound SCIM endpoint.
    pub async fn source(&self, tenant: &str, integration: &Integration) -> Result<SourceSetup, SetupError> {
        match self.source_plugin(tenant, integration).await? {
            Some(setup) => Ok(setup.into()),
            None => {
                let directory = crate::scim::held_directory(&self.store, &integration.id).await?;
                Ok(SourceSetup::Held(Arc::new(directory)))
            }
        }
    }

    /// The integration's rules, each with its draft config from `drafts`
    /// (by installation id) when it has one.
    pub async fn drafted_rules(
        &self,
        tenant: &str,
        integration: &Integration,
        drafts: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<PluginSetup>, SetupError> {
        let mut rules = Vec::with_capacity(integration.rules.len());
        for (i, rule) in integration.rules.iter().enumerate() {
            let field = format!("rules[{i}]");
            rules.push(
                self.setup_drafted(tenant, &field, rule, PluginKind::Rule, drafts.get(rule))
                    .await?,
            );
        }
        Ok(rules)
    }

    /// The job a stored integration describes, checked.
    pub async fn prepare(&self, tenant: &str, integration: &Integration) -> Result<Job, SetupError> {
        self.prepare_drafted(tenant, integration, &BTreeMap::new()).await
    }

    /// [`Self::prepare`] with draft configs of rules (by installation id),
    /// for previews.
    pub async fn prepare_drafted(
        &self,
        tenant: &str,
        integration: &Integration,
        drafts: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Job, SetupError> {
        self.assemble(tenant, integration, drafts, self.source(tenant, integration))
            .await
    }

    /// Checks everything [`Self::prepare`] checks without reading what
    /// was pushed to an inbound SCIM source: a configuration's check has no
    /// use for the directory.
    pub async fn check(&self, tenant: &str, integration: &Integration) -> Result<(), SetupError> {
        let source = async {
            let plugin = self.source_plugin(tenant, integration).await?;
            Ok(plugin.map_or_else(|| SourceSetup::Held(Arc::default()), SourceSetup::from))
        };
        self.assemble(tenant, integration, &BTreeMap::new(), source)
            .await
            .map(drop)
    }

    /// The job of `integration` with `source`, its options, rules (with
    /// draft configs) and target checked in that order.
    async fn assemble(
        &self,
        tenant: &str,
        integration: &Integration,
        drafts: &BTreeMap<String, serde_json::Value>,
        source: impl Future<Output = Result<SourceSetup, SetupError>>,
    ) -> Result<Job, SetupError> {
        let (settings, full_reads) = integration.options.settings()?;
        let source = source.await?;
        let rules = self.drafted_rules(tenant, integration, drafts).await?;
        let target = self
            .setup(tenant, "target", &integration.target, PluginKind::Target)
            .await?;
        let job = Job {
            integration: integration.id.clone(),
            source,
            rules,
            target,
            settings,
            full_reads,
        };
        Ok(job.in_time_zone(Some(&integration.timezone)))
    }

    /// Starts a run of an integration unless one is going on: takes the
    /// lease, prepares the job, records the run as started (`queued` when
    /// `--max-concurrent-runs` are going on) and runs it, renewing the
    /// lease until it ends.
    pub async fn start(
        self: &Arc<Self>,
        tenant: &str,
        integration: &Integration,
        order: RunRequest,
    ) -> Result<Started, StartError> {
        self.start_run(tenant, integration, order, None).await
    }

    /// Starts the scheduled run of the slot due at `slot.due`, moving the
    /// integration's next run to `slot.next` as it records the run
    /// (`Store::start_scheduled_run`): with the lease held, so that a
    /// process dying at any point loses no slot and runs none twice.
    pub async fn start_scheduled(
        self: &Arc<Self>,
        tenant: &str,
        integration: &Integration,
        slot: ScheduledSlot,
    ) -> Result<Started, StartError> {
        self.start_run(tenant, integration, RunRequest::scheduled(), Some(slot))
            .await
    }

    async fn start_run(
        self: &Arc<Self>,
        tenant: &str,
        integration: &Integration,
        order: RunRequest,
        slot: Option<ScheduledSlot>,
    ) -> Result<Started, StartError> {
        if self.is_stopping() {
            return Err(StartError::ShuttingDown);
        }
        let holder = format!("{}/{}", self.node, new_id("lease"));
        if !self
            .store
            .acquire_lease(&integration.id, &holder, self.lease_ttl_ms)
            .await?
        {
            return Err(StartError::Busy);
        }
        let prepared = async {
            // With the lease held, no run of this integration is going on:
            // one still marked running was left by a process that died.
            let orphaned = self.store.interrupt_orphaned_runs(Some(&integration.id)).await?;
            hrsync_metrics::runs_taken_over(orphaned);
            let job = self.prepare(tenant, integration).await?;
            let run_id = match slot {
                Some(slot) => self
                    .store
                    .start_scheduled_run(&integration.id, slot.due, slot.next)
                    .await?
                    .ok_or(StartError::SlotTaken)?,
                None => {
                    self.store
                        .start_run(&integration.id, order.trigger.as_str(), order.by.as_deref())
                        .await?
                }
            };
            Ok::<_, StartError>((job, run_id))
        }
        .await;
        let (job, run_id) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                let _ = self.store.release_lease(&integration.id, &holder).await;
                return Err(error);
            }
        };
        let mut order = order;
        let stop = StopSignal::default();
        order.stop = stop.clone();
        if let Ok(mut stops) = self.stops.lock() {
            stops.insert(run_id.clone(), stop);
        }
        let slot = self.slots.try_acquire(order.trigger);
        if slot.is_none() {
            self.store.set_run_queued(&run_id, true).await?;
        }
        let renewal = self.renew_while_running(integration.id.clone(), holder.clone());
        let (dry_run, trigger) = (order.dry_run, order.trigger);
        let control = Arc::clone(self);
        let (tenant, integration, started) = (tenant.to_string(), integration.clone(), run_id.clone());
        let done = tokio::spawn(async move {
            let _slot = match slot {
                Some(slot) => Some(slot),
                None => {
                    let slot = Some(control.slots.acquire(trigger).await);
                    if let Err(error) = control.store.set_run_queued(&started, false).await {
                        tracing::warn!(run = %started, %error, "could not mark the queued run as running");
                    }
                    slot
                }
            };
            let progress = Arc::clone(&control.progress);
            let run = started.clone();
            let observer: SharedObserver = Arc::new(move |step| {
                if let Ok(mut progress) = progress.lock() {
                    progress.insert(run.clone(), step);
                }
            });
            let result = job.run_started(&control.store, started.clone(), order, observer).await;
            if let Ok(mut progress) = control.progress.lock() {
                progress.remove(&started);
            }
            // The pause of a failed run is recorded before the lease goes:
            // another node taking the lease in between would start a
            // second failing run and send a second notice.
            if !dry_run {
                control.after_run(&tenant, &integration.id, trigger, &result).await;
            }
            renewal.abort();
            let _ = control.store.release_lease(&integration.id, &holder).await;
            if let Ok(mut stops) = control.stops.lock() {
                stops.remove(&started);
            }
            result
        });
        Ok(Started { run_id, done })
    }

    /// How far a run going on in this process is; none for a run that is
    /// queued, over, or going on in another process.
    pub fn progress(&self, run_id: &str) -> Option<Progress> {
        self.progress.lock().ok()?.get(run_id).copied()
    }

    /// Does `work` while holding the integration's lease, so that no run
    /// goes on meanwhile (manual links change what a run reads and
    /// writes); `Busy` when one does.
    pub async fn exclusively<T>(&self, integration: &str, work: impl Future<Output = T>) -> Result<T, StartError> {
        if self.is_stopping() {
            return Err(StartError::ShuttingDown);
        }
        let holder = format!("{}/{}", self.node, new_id("lease"));
        if !self
            .store
            .acquire_lease(integration, &holder, self.lease_ttl_ms)
            .await?
        {
            return Err(StartError::Busy);
        }
        let renewal = self.renew_while_running(integration.to_string(), holder.clone());
        let done = work.await;
        renewal.abort();
        self.store.release_lease(integration, &holder).await?;
        Ok(done)
    }

    /// Starts a run now, or — when one is going on, here or in another
    /// process — as soon as it ends (one waiting run per integration
    /// however many ask: it reads every change since the last run).
    /// Answers the run id when it started at once.
    pub async fn start_soon(
        self: &Arc<Self>,
        tenant: &str,
        integration: &Integration,
        order: RunRequest,
    ) -> Result<Option<String>, StartError> {
        match self.start(tenant, integration, order.clone()).await {
            Ok(started) => return Ok(Some(started.run_id)),
            Err(StartError::Busy) => {}
            Err(error) => return Err(error),
        }
        let first = self
            .waiting
            .lock()
            .map(|mut waiting| waiting.insert(integration.id.clone()))
            .unwrap_or(false);
        if !first {
            return Ok(None);
        }
        let (control, tenant, integration) = (Arc::clone(self), tenant.to_string(), integration.clone());
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
            // The run going on is often recording its end: look again soon,
            // then less often.
            let mut wait = Duration::from_millis(5);
            loop {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(250));
                match control.start(&tenant, &integration, order.clone()).await {
                    Err(StartError::Busy) if tokio::time::Instant::now() < deadline => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(integration = %integration.id, %error, "a waiting run did not start"),
                }
                break;
            }
            if let Ok(mut waiting) = control.waiting.lock() {
                waiting.remove(&integration.id);
            }
        });
        Ok(None)
    }

    fn renew_while_running(&self, integration: String, holder: String) -> tokio::task::JoinHandle<()> {
        let (store, ttl) = (self.store.clone(), self.lease_ttl_ms);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis((ttl / 3) as u64));
            every.tick().await;
            loop {
                every.tick().await;
                match store.renew_lease(&integration, &holder, ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(%integration, "the run lease was lost");
                        break;
                    }
                    Err(error) => tracing::warn!(%integration, %error, "renewing the run lease failed"),
                }
            }
        })
    }

    /// A failed run pauses an active integration and tells its owners; a
    /// manual run that succeeds resumes a paused one.
    async fn after_run(
        &self,
        tenant: &str,
        integration_id: &str,
        trigger: Trigger,
        result: &Result<Finished, JobError>,
    ) {
        let outcome = async {
            let Some(integration) = self.store.integration(tenant, integration_id).await? else {
                return Ok(());
            };
            match (result, integration.state) {
                (Err(JobError::Run { run_id, error }), State::Active | State::Paused) => {
                    let reason = error.to_string();
                    self.store
                        .set_integration_state(integration_id, State::Paused, Some(&reason), None)
                        .await?;
                    self.store
                        .append_audit(
                            Some(integration_id),
                            "scheduler",
                            "integration.paused",
                            &serde_json::json!({ "run": run_id, "reason": reason }),
                        )
                        .await?;
                    self.notify_failure(tenant, &integration, run_id, &reason).await?;
                }
                (Ok(finished), State::Paused) if trigger == Trigger::Manual => {
                    let next = Schedule::parse(&integration.schedule, &integration.timezone)
                        .ok()
                        .and_then(|s| s.next_after(now_ms()));
                    self.store
                        .set_integration_state(integration_id, State::Active, None, next)
                        .await?;
                    self.store
                        .append_audit(
                            Some(integration_id),
                            "scheduler",
                            "integration.resumed",
                            &serde_json::json!({ "run": finished.run_id }),
                        )
                        .await?;
                }
                // What a run stopped by a shutdown left is taken up at once,
                // by another node or by this one when it is back.
                (Ok(finished), State::Active) if finished.report.interrupted => {
                    self.store.due_again(integration_id, now_ms()).await?;
                }
                _ => {}
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(error) = outcome {
            tracing::error!(integration = integration_id, %error, "recording the end of a run failed");
        }
    }

    async fn notify_failure(
        &self,
        tenant: &str,
        integration: &Integration,
        run_id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut emails = integration.notify.emails.clone();
        if integration.notify.email_owners {
            emails.extend(self.store.owner_emails(tenant).await?);
        }
        let signing = match integration.sealed_secrets.get("signing") {
            Some(sealed) => match self.vault.open(&format!("{}/signing", integration.id), sealed) {
                Ok(secret) => Some(secret),
                Err(error) => {
                    tracing::error!(integration = %integration.id, %error, "cannot open the signing secret");
                    None
                }
            },
            None => None,
        };
        let failure = RunFailed {
            event: "run.failed",
            tenant: tenant.to_string(),
            integration: integration.id.clone(),
            integration_name: integration.name.clone(),
            run: run_id.to_string(),
            reason: reason.to_string(),
            at: now_ms(),
        };
        let notifier = self.notifier.clone();
        let url = integration.notify.webhook_url.clone();
        let problems = joined(
            tokio::task::spawn_blocking(move || {
                let webhook = url.as_deref().zip(signing.as_ref());
                notifier.run_failed(&failure, &emails, webhook)
            })
            .await,
        )?;
        for problem in problems {
            tracing::warn!(integration = %integration.id, "notification not delivered: {problem}");
        }
        Ok(())
    }
}
