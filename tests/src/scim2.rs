//! `scim2-server` (PyPI, installed into `.venv` by `scripts/setup`): a SCIM
//! 2.0 server we did not write, run on loopback for interop tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hrsync_runtime::{HttpPolicy, Sandbox, Secret, Secrets};
use serde_json::{json, Value};

const TOKEN: &str = "interop-token-6e5d";

/// A running `scim2-server`, stopped on drop.
pub struct Scim2Server {
    child: Child,
    pub base_url: String,
}

impl Scim2Server {
    pub fn start() -> Self {
        let binary = crate::venv_tool("scim2-server", "scim2-server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .args([
                "--bearer-token",
                TOKEN,
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scim2-server");
        let server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while server.get("/ServiceProviderConfig").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "scim2-server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        let response = ureq::get(&format!("{}{path}", self.base_url))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .call()
            .ok()?;
        serde_json::from_str(&response.into_string().ok()?).ok()
    }

    /// Every user, page by page.
    pub fn users(&self) -> Vec<Value> {
        self.all("/Users")
    }

    /// Every group, page by page.
    pub fn groups(&self) -> Vec<Value> {
        self.all("/Groups")
    }

    fn all(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        loop {
            let page = self
                .get(&format!("{path}?startIndex={}&count=500", items.len() + 1))
                .expect("a page");
            let resources = page["Resources"].as_array().cloned().unwrap_or_default();
            let total = page["totalResults"].as_u64().unwrap_or(0) as usize;
            if resources.is_empty() {
                return items;
            }
            items.extend(resources);
            if items.len() >= total {
                return items;
            }
        }
    }

    pub fn user(&self, user_name: &str) -> Value {
        self.users()
            .into_iter()
            .find(|u| u["userName"] == user_name)
            .unwrap_or_else(|| panic!("no user {user_name}"))
    }

    pub fn group(&self, name: &str) -> Value {
        self.groups()
            .into_iter()
            .find(|g| g["displayName"] == name)
            .unwrap_or_else(|| panic!("no group {name}"))
    }

    pub fn sandbox(&self) -> Sandbox {
        let mut secrets = Secrets::new();
        secrets.insert("token".into(), Secret::new(TOKEN));
        Sandbox {
            config: json!({ "base_url": self.base_url }),
            secrets,
            http: HttpPolicy::with_grants(&[self.base_url.clone()]).unwrap(),
            ..Sandbox::default()
        }
    }
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
