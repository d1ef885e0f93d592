//! `hrsync serve` processes on one PostgreSQL database for the tests of
//! several nodes (serve.rs, nodes.rs).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const OPERATOR: &str = "op_two_servers_7f3a";
pub const KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// A fresh schema in the test database, so runs of this test do not meet.
pub fn postgres_schema() -> String {
    let url = std::env::var("HRSYNC_TEST_POSTGRES_URL")
        .expect("HRSYNC_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts PostgreSQL, or alone with HRSYNC_TEST_POSTGRES_URL=$(scripts/postgres) cargo test ...");
    let schema = hrsync_store::new_id("serve").to_lowercase();
    let create = format!("CREATE SCHEMA {schema}");
    in_database(&url, |admin| async move {
        sqlx::query(&create).execute(&admin).await.unwrap();
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Does `work` with a pool on `database` (a URL of the test server).
pub fn in_database<T, F: std::future::Future<Output = T>>(database: &str, work: impl FnOnce(sqlx::AnyPool) -> F) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(database).await.unwrap();
        work(pool).await
    })
}

pub struct Serve {
    child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Serve {
    pub fn start(database: &str, dir: &std::path::Path, name: &str) -> Self {
        Self::start_with(database, dir, name, &[])
    }

    /// [`Self::start`] with more settings in its environment.
    pub fn start_with(database: &str, dir: &std::path::Path, name: &str, env: &[(&str, &str)]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join(name))
            .env("HRSYNC_DATABASE_URL", database)
            .env("HRSYNC_SECRET_KEY", KEY)
            .env("HRSYNC_OPERATOR_TOKEN", OPERATOR)
            .env("HRSYNC_CACHE_DIR", dir.join("cache"))
            .env("HRSYNC_SCHEDULER_TICK_MS", "50")
            // The emulators listen on loopback.
            .env("HRSYNC_EGRESS_ALLOW", "127.0.0.1")
            // The schedule below runs every second.
            .env("HRSYNC_MIN_SCHEDULE_INTERVAL_SECS", "1")
            // Everything the server logs, to look for secrets in it.
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start hrsync serve");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).unwrap();
        let base = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in `{line}`"))
            .to_string();
        // Keep reading so that the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Self { child, base, log }
    }

    pub fn call(&self, key: &str, method: &str, path: &str, body: Option<&[u8]>, content_type: &str) -> (u16, Value) {
        let request = ureq::request(method, &format!("{}{path}", self.base))
            .timeout(Duration::from_secs(120))
            .set("authorization", &format!("Bearer {key}"));
        let result = match body {
            Some(body) => request.set("content-type", content_type).send_bytes(body),
            None => request.call(),
        };
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let text = response.into_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET path`, its status and body as text (`/metrics`).
    pub fn text(&self, key: &str, path: &str) -> (u16, String) {
        let result = ureq::get(&format!("{}{path}", self.base))
            .timeout(Duration::from_secs(60))
            .set("authorization", &format!("Bearer {key}"))
            .call();
        match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => {
                (response.status(), response.into_string().unwrap_or_default())
            }
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// The value of one series in this node's `/metrics`, e.g.
    /// `hrsync_runs_total{status="failed"}`; none when it is not served.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (status, text) = self.text(OPERATOR, "/metrics");
        assert_eq!(status, 200, "{text}");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
    }

    pub fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(key, "POST", path, Some(body.to_string().as_bytes()), "application/json")
    }

    pub fn get(&self, key: &str, path: &str) -> (u16, Value) {
        self.call(key, "GET", path, None, "")
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Serve {
    /// SIGKILL, as a machine that dies.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    /// A failed test leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
