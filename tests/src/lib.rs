//! Helpers for hrsync's integration tests: the built plugin components, a
//! runtime with a private cache, and an HTTP server on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use hrsync_model::{Decision, Subject};
use hrsync_runtime::{CallError, Plugin, RuleSession, Runtime, RuntimeOptions};

pub mod api;
pub mod scim2;
pub mod server;

/// A component built by `scripts/build-plugins`.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = hrsync_emulators::built_plugin(name);
    assert!(
        path.exists(),
        "{} is missing: build the plugins first with scripts/build-plugins (scripts/test does it)",
        path.display()
    );
    path
}

/// A command `scripts/setup` installs from PyPI into `.venv` (`what` says
/// which package brings it).
pub fn venv_tool(command: &str, what: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.venv/bin")
        .join(command);
    assert!(
        path.exists(),
        "{} is missing: scripts/setup installs {what} from PyPI into .venv",
        path.display()
    );
    path
}

pub fn plugin_bytes(name: &str) -> Vec<u8> {
    std::fs::read(plugin_path(name)).expect("read plugin")
}

/// One runtime per test binary, with its cache in a temporary folder, so
/// each component compiles once per binary.
pub fn runtime() -> &'static Runtime {
    the_runtime()
}

/// The same runtime, for what holds it shared (the admin API's control).
pub fn shared_runtime() -> std::sync::Arc<Runtime> {
    std::sync::Arc::clone(the_runtime())
}

fn the_runtime() -> &'static std::sync::Arc<Runtime> {
    static RUNTIME: OnceLock<(std::sync::Arc<Runtime>, tempfile::TempDir)> = OnceLock::new();
    let (runtime, _dir) = RUNTIME.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: Some(dir.path().to_path_buf()),
            ..RuntimeOptions::default()
        })
        .expect("runtime");
        (std::sync::Arc::new(runtime), dir)
    });
    runtime
}

pub fn load(name: &str) -> Plugin {
    runtime()
        .load_file(&plugin_path(name))
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// `http://127.0.0.1:PORT`
pub fn origin(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A SQLite store in a temporary folder (removed on drop), and a runtime
/// whose handle blocking callers (jobs) use to drive it.
pub struct TempStore {
    pub tokio: tokio::runtime::Runtime,
    pub store: hrsync_store::Store,
    pub dir: tempfile::TempDir,
}

pub fn temp_store() -> TempStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    let url = format!("sqlite://{}", dir.path().join("hrsync.db").display());
    let store = tokio.block_on(hrsync_store::Store::connect(&url)).expect("store");
    TempStore { tokio, store, dir }
}

/// A plausible employee no rule has decided on (`hrsync_emulators::synthetic`).
pub fn synthetic_subject(i: usize) -> Subject {
    Subject::new(hrsync_emulators::synthetic::synthetic_employee(i))
}

/// A rule's decisions on a batch, in order: `evaluate` hands the subjects
/// back too, tests mostly look at the decisions.
pub trait Decide {
    fn decide(&mut self, batch: &[Subject]) -> Result<Vec<Decision>, CallError>;
}

impl Decide for RuleSession {
    fn decide(&mut self, batch: &[Subject]) -> Result<Vec<Decision>, CallError> {
        let decided = self.evaluate(batch.to_vec())?;
        Ok(decided.into_iter().map(|(_, decision)| decision).collect())
    }
}
