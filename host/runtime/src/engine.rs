//! One engine for the process: configuration (pooling with a fallback,
//! epoch interruption), the epoch ticker thread, one linker per WIT major
//! version, and loading components through the on-disk cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache::{content_hash, ArtifactCache, CacheError, CacheOutcome};
use super::capability::Capabilities;
use super::error::LoadError;
use super::loaded::LoadedPlugins;
use super::plugin::Plugin;
use super::state::PluginState;
use super::version;

/// Largest linear memory any plugin may have; installations choose a lower
/// cap (see [`super::Limits`]).
pub const MAX_PLUGIN_MEMORY: usize = 1 << 30;

#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where precompiled components are kept; None compiles in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Try the pooling allocator first (falls back when the machine refuses).
    pub pooling: bool,
    /// How often the epoch advances; deadlines are accurate to one tick.
    pub epoch_tick: Duration,
    /// Cap on the on-disk cache folder; the least recently used entries go.
    pub cache_max_bytes: u64,
    /// Cap on the compiled code of the plugins kept loaded in memory; the
    /// least recently used are unloaded.
    pub loaded_max_bytes: u64,
    /// Runs the process holds at once: the pooling allocator keeps room
    /// for the instances of this many runs (never less than for 40).
    pub concurrent_runs: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            cache_dir: None,
            pooling: true,
            epoch_tick: Duration::from_millis(5),
            cache_max_bytes: 1 << 30,
            loaded_max_bytes: 512 << 20,
            concurrent_runs: POOL_RUNS_AT_LEAST,
        }
    }
}

/// The plugin runtime: engine, linkers, cache.
pub struct Runtime {
    engine: Engine,
    linkers: BTreeMap<u64, Linker<PluginState>>,
    cache: Option<ArtifactCache>,
    pooling: bool,
    epoch_tick: Duration,
    loaded: Mutex<LoadedPlugins>,
    _ticker: EpochTicker,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("could not configure the WebAssembly engine: {0}")]
    Engine(String),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let (engine, pooling) = build_engine(options.pooling, options.concurrent_runs)?;
        let mut linkers = BTreeMap::new();
        linkers.insert(version::WIT_VERSION.major, build_linker(&engine)?);
        let cache = options
            .cache_dir
            .as_deref()
            .map(|dir| ArtifactCache::open(dir, &engine, options.cache_max_bytes))
            .transpose()?;
        let ticker = EpochTicker::start(&engine, options.epoch_tick)?;
        Ok(Self {
            engine,
            linkers,
            cache,
            pooling,
            epoch_tick: options.epoch_tick,
            loaded: Mutex::new(LoadedPlugins::new(options.loaded_max_bytes)),
            _ticker: ticker,
        })
    }

    /// Whether the pooling allocator is in use (false: on-demand fallback).
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn cache_entry(&self, bytes: &[u8]) -> Option<PathBuf> {
        self.cache.as_ref().map(|c| c.entry_path(&content_hash(bytes)))
    }

    pub fn load_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let plugin = self.load(&bytes)?;
        if let Some(cache) = &self.cache {
            cache.replaced(path, plugin.content_hash());
        }
        Ok(plugin)
    }

    /// The plugin of these bytes: from memory when it is loaded, else
    /// [`Self::compile`]d and kept (least recently used ones are unloaded
    /// beyond `loaded_max_bytes`). Blocking — it may compile for hundreds
    /// of milliseconds: async callers use `spawn_blocking`.
    pub fn load(&self, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let hash = content_hash(bytes);
        if let Some(plugin) = self.loaded_plugin(&hash) {
            return Ok(plugin);
        }
        let (plugin, code_bytes) = self.compile(bytes, hash.clone())?;
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(hash, plugin.clone(), code_bytes);
        }
        Ok(plugin)
    }

    /// The plugin of this content hash, when it is loaded.
    pub fn loaded_plugin(&self, hash: &str) -> Option<Plugin> {
        self.loaded.lock().ok()?.get(hash)
    }

    /// Plugins kept loaded, and the bytes of their compiled code.
    pub fn loaded(&self) -> (usize, u64) {
        self.loaded.lock().map(|loaded| loaded.usage()).unwrap_or_default()
    }

    /// Checks the WIT version, compiles (or loads from the on-disk cache),
    /// pre-instantiates, and reads the manifest through `describe`; also
    /// the size of the compiled code in memory.
    fn compile(&self, bytes: &[u8], hash: String) -> Result<(Plugin, u64), LoadError> {
        let info = version::inspect(bytes)?;
        let linker = self.linkers.get(&info.wit_version.major).ok_or_else(|| {
            LoadError::Version(version::VersionError::Unsupported {
                found: info.wit_version.clone(),
            })
        })?;

        let (component, cache) = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, bytes, &hash),
            None => wasmtime::component::Component::new(&self.engine, bytes).map(|c| (c, CacheOutcome::Disabled)),
        }
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        prepare_memory_images(&component)?;
        let code = component.image_range();
        let code_bytes = (code.end as usize).saturating_sub(code.start as usize) as u64;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let plugin = Plugin::new(self.engine.clone(), pre, info, hash, cache, self.epoch_tick)?;
        Ok((plugin, code_bytes))
    }
}

/// Builds the component's copy-on-write memory images once, at load, so
/// instantiations only map them. On Linux each image is a sealed memfd, and
/// the kernel now and then refuses the seal for a moment (EBUSY while it
/// still holds references to the pages just written; seen in CI as "cannot
/// add seals to the memfd" on a plugin that had loaded a second earlier):
/// a few attempts apart get past it, and a build that fails is not kept.
fn prepare_memory_images(component: &wasmtime::component::Component) -> Result<(), LoadError> {
    const ATTEMPTS: u32 = 5;
    let mut pause = Duration::from_millis(20);
    let mut attempt = 1;
    loop {
        match component.initialize_copy_on_write_image() {
            Ok(()) => return Ok(()),
            Err(e) if attempt == ATTEMPTS => {
                return Err(LoadError::Compile(format!(
                    "could not build its memory image after {ATTEMPTS} attempts: {e:#}"
                )))
            }
            Err(e) => tracing::debug!(attempt, "could not build the memory image yet ({e:#}); trying again"),
        }
        thread::sleep(pause);
        pause *= 2;
        attempt += 1;
    }
}

fn build_engine(try_pooling: bool, concurrent_runs: usize) -> Result<(Engine, bool), RuntimeError> {
    if try_pooling {
        match Engine::new(&engine_config(Some(concurrent_runs))) {
            Ok(engine) => return Ok((engine, true)),
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation")
            }
        }
    }
    let engine = Engine::new(&engine_config(None)).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
    Ok((engine, false))
}

/// The pool always has room for this many runs at once.
const POOL_RUNS_AT_LEAST: usize = 40;

/// Pooling allocator slots per run: a run holds a source, a target and a
/// few rules at once, and an interpreted-language plugin (Python,
/// JavaScript) brings several core instances, memories and large tables.
const COMPONENTS_PER_RUN: u32 = 5;
const CORE_INSTANCES_PER_RUN: u32 = 50;
const MEMORIES_PER_RUN: u32 = 10;
const TABLES_PER_RUN: u32 = 20;

/// `pooling`: the runs the pool makes room for; None allocates on demand.
fn engine_config(pooling: Option<usize>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(1 << 20);
    // `HRSYNC_PROFILE=perfmap` lets `perf` name the functions of plugins
    // (sdk/README.md, "Profiling").
    if std::env::var("HRSYNC_PROFILE").as_deref() == Ok("perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if let Some(runs) = pooling {
        // Sized for the run slots: an instance beyond the pool would fail
        // its run (`hrsync serve --max-concurrent-runs`).
        let runs = u32::try_from(runs.max(POOL_RUNS_AT_LEAST)).unwrap_or(u32::MAX);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(runs.saturating_mul(COMPONENTS_PER_RUN))
            .total_core_instances(runs.saturating_mul(CORE_INSTANCES_PER_RUN))
            .total_memories(runs.saturating_mul(MEMORIES_PER_RUN))
            .total_tables(runs.saturating_mul(TABLES_PER_RUN))
            .max_core_instances_per_component(64)
            .max_memories_per_component(16)
            .max_tables_per_component(32)
            .max_memories_per_module(2)
            .table_elements(200_000)
            .max_memory_size(MAX_PLUGIN_MEMORY)
            .max_core_instance_size(8 << 20)
            .max_component_instance_size(8 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

fn build_linker(engine: &Engine) -> Result<Linker<PluginState>, RuntimeError> {
    let mut linker = Linker::new(engine);
    let fail = |e: wasmtime::Error| RuntimeError::Engine(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(fail)?;
    // The three worlds import the same host interfaces; each capability
    // adds its own (capability/mod.rs).
    Capabilities::link(&mut linker).map_err(fail)?;
    Ok(linker)
}

/// Advances the engine's epoch on its own thread, so deadlines hold however
/// busy the async runtime is.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine, tick: Duration) -> Result<Self, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        thread::Builder::new()
            .name("hrsync-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("could not start the epoch ticker thread: {e}")))?;
        Ok(Self { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
