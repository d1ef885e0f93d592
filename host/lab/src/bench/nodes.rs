//! `hrsync serve` processes for the benchmarks that measure the server
//! itself (memory, several nodes): the binary built beside hrsync-lab, its
//! memory read from /proc, its metrics from `/metrics`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::served::OPERATOR;
use super::sync::hrsync_binary;

/// The key every benchmark node seals secrets with (they share a database).
const SECRET_KEY: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";

pub struct Node {
    child: Child,
    pub base: String,
}

impl Node {
    /// Starts `hrsync serve` on `database` with its own data folder under
    /// `dir`, the emulators on loopback allowed; `env` adds settings.
    pub fn start(database: &str, dir: &Path, name: &str, env: &[(&str, String)]) -> Result<Self, String> {
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
        let mut command = Command::new(hrsync_binary()?);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join(name))
            .env("HRSYNC_DATABASE_URL", database)
            .env("HRSYNC_SECRET_KEY", SECRET_KEY)
            .env("HRSYNC_OPERATOR_TOKEN", OPERATOR)
            .env("HRSYNC_CACHE_DIR", dir.join("cache"))
            .env("HRSYNC_EGRESS_ALLOW", "127.0.0.1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|e| format!("hrsync serve: {e}"))?;
        let stdout = child.stdout.take().ok_or("hrsync serve: no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let base = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or_else(|| format!("hrsync serve did not start: `{line}` (see {name}.log)"))?
            .to_string();
        std::thread::spawn(move || for _ in reader.lines() {});
        Ok(Self { child, base })
    }

    fn status_mib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with(field))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    /// Resident memory now.
    pub fn rss_mib(&self) -> f64 {
        self.status_mib("VmRSS:").unwrap_or(0.0)
    }

    /// The highest resident memory since start or [`Self::reset_peak`].
    pub fn peak_mib(&self) -> f64 {
        self.status_mib("VmHWM:").unwrap_or(0.0)
    }

    /// Starts measuring the peak anew (Linux: `5` to clear_refs).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// The sum of a metric's series in `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let text = ureq::get(&format!("{}/metrics", self.base))
            .set("authorization", &format!("Bearer {OPERATOR}"))
            .timeout(Duration::from_secs(10))
            .call()
            .ok()
            .and_then(|response| response.into_string().ok())
            .unwrap_or_default();
        text.lines()
            .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// SIGKILL, as a machine that dies.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A request to a node's API as `key`; the JSON answer, or what failed.
pub fn request(base: &str, key: &str, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let request = ureq::request(method, &format!("{base}{path}"))
        .set("authorization", &format!("Bearer {key}"))
        .timeout(Duration::from_secs(300));
    let result = match body {
        Some(body) => request
            .set("content-type", "application/json")
            .send_string(&body.to_string()),
        None => request.call(),
    };
    match result {
        Ok(response) => response
            .into_string()
            .map_err(|e| e.to_string())
            .map(|text: String| serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(ureq::Error::Status(status, response)) => Err(format!(
            "{method} {path}: {status} {}",
            response.into_string().unwrap_or_default()
        )),
        Err(e) => Err(format!("{method} {path}: {e}")),
    }
}

/// Uploads a built component as `key`; its name as the plugin gives it.
pub fn upload(base: &str, key: &str, bytes: &[u8]) -> Result<String, String> {
    let response = ureq::post(&format!("{base}/api/v1/plugins"))
        .set("authorization", &format!("Bearer {key}"))
        .set("content-type", "application/wasm")
        .timeout(Duration::from_secs(300))
        .send_bytes(bytes);
    let body: Value = match response {
        Ok(response) => {
            serde_json::from_str(&response.into_string().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?
        }
        Err(e) => return Err(format!("upload: {e}")),
    };
    body["name"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("upload: no name in {body}"))
}
