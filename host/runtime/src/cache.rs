//! Precompiled components on disk, keyed by the component's content hash and
//! the engine's settings. Each entry carries a keyed checksum (the key lives
//! in the cache folder), so a corrupt, truncated or foreign entry is detected
//! and recompiled instead of being handed to the engine.
//!
//! The folder is capped (`max_bytes`): after writing an entry, the least
//! recently used entries go until the rest fits. A hit marks its entry used
//! (its modification time), so plugins in use stay.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

const MAGIC: &[u8; 16] = b"hrsync-cwasm-v1\n";
const KEY_FILE: &str = "cache.key";

/// What happened when a component was loaded through the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a valid precompiled entry.
    Hit,
    /// No entry: compiled and stored.
    Miss,
    /// An entry existed but was rejected (the reason says why): recompiled.
    Recovered(String),
    /// No cache folder configured: compiled in memory.
    Disabled,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache folder {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Folder of the cache that notes, per component file loaded by path, the
/// content hash it had last ([`ArtifactCache::replaced`]).
const FILES_DIR: &str = "files";

pub struct ArtifactCache {
    dir: PathBuf,
    key: [u8; 32],
    engine_tag: String,
    max_bytes: u64,
}

impl ArtifactCache {
    pub fn open(dir: &Path, engine: &Engine, max_bytes: u64) -> Result<Self, CacheError> {
        let io = |source| CacheError::Io {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let key = load_or_create_key(&dir.join(KEY_FILE)).map_err(io)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_tag = format!("{:016x}", hasher.finish());
        Ok(Self {
            dir: dir.to_path_buf(),
            key,
            engine_tag,
            max_bytes,
        })
    }

    pub fn entry_path(&self, content_hash: &str) -> PathBuf {
        self.dir.join(format!("{content_hash}-{}.cwasm", self.engine_tag))
    }

    /// The component at `file` now has `content_hash`: the entry an earlier
    /// version of the same file left is removed, so a plugin rebuilt over
    /// and over — a vendor's edit, build, `plugin test` loop — keeps one
    /// entry instead of one per build (a Python component's is ~35 MiB).
    /// Another file with the old content recompiles once; nothing breaks.
    pub fn replaced(&self, file: &Path, content_hash: &str) {
        let Ok(absolute) = file.canonicalize() else {
            return;
        };
        let id = blake3::hash(absolute.as_os_str().as_encoded_bytes()).to_hex();
        let marker = self.dir.join(FILES_DIR).join(&id[..32]);
        let previous = fs::read_to_string(&marker).ok();
        match previous.as_deref().map(str::trim) {
            Some(previous) if previous == content_hash => return,
            Some(previous) if !previous.is_empty() && previous.chars().all(|c| c.is_ascii_hexdigit()) => {
                let stale = self.entry_path(previous);
                if fs::remove_file(&stale).is_ok() {
                    tracing::debug!(entry = %stale.display(), file = %absolute.display(), "removed the entry of the file's previous build");
                }
            }
            _ => {}
        }
        let written = fs::create_dir_all(self.dir.join(FILES_DIR)).and_then(|()| fs::write(&marker, content_hash));
        if let Err(e) = written {
            tracing::warn!(marker = %marker.display(), "could not note which build {} is: {e}", absolute.display());
        }
    }

    /// Returns the compiled component for `bytes`, from the cache when a
    /// valid entry exists.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        content_hash: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(content_hash);
        let rejected = match fs::read(&path) {
            Ok(file) => match self.open_entry(&file) {
                // SAFETY: the payload is exactly what `Component::serialize`
                // wrote for this engine configuration: the keyed checksum
                // proves it came from this cache unchanged.
                Ok(payload) => match unsafe { Component::deserialize(engine, payload) } {
                    Ok(component) => {
                        mark_used(&path);
                        return Ok((component, CacheOutcome::Hit));
                    }
                    Err(e) => Some(format!("the engine refused it: {e}")),
                },
                Err(reason) => Some(reason.to_string()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("unreadable: {e}")),
        };
        if let Some(reason) = &rejected {
            tracing::warn!(entry = %path.display(), "rejected a cache entry ({reason}); recompiling");
            let _ = fs::remove_file(&path);
        }
        let component = Component::new(engine, bytes)?;
        match self.store_entry(&path, &component) {
            Ok(()) => self.evict(&path),
            Err(e) => tracing::warn!(entry = %path.display(), "could not write the cache entry: {e}"),
        }
        Ok((component, rejected.map_or(CacheOutcome::Miss, CacheOutcome::Recovered)))
    }

    fn open_entry<'a>(&self, file: &'a [u8]) -> Result<&'a [u8], &'static str> {
        let rest = file.strip_prefix(MAGIC.as_slice()).ok_or("not an hrsync cache entry")?;
        if rest.len() < 32 {
            return Err("truncated");
        }
        let (mac, payload) = rest.split_at(32);
        let expected = blake3::keyed_hash(&self.key, payload);
        // blake3::Hash compares in constant time.
        if expected != blake3::Hash::from_bytes(mac.try_into().map_err(|_| "truncated")?) {
            return Err("checksum mismatch: corrupt, or written by another cache");
        }
        Ok(payload)
    }

    fn store_entry(&self, path: &Path, component: &Component) -> wasmtime::Result<()> {
        let payload = component.serialize()?;
        let mac = blake3::keyed_hash(&self.key, &payload);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = fs::File::create(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(mac.as_bytes())?;
        file.write_all(&payload)?;
        file.sync_all()?;
        // Rename is atomic: readers see the old entry or the whole new one.
        fs::rename(&tmp, path)?;
        Ok(())
    }
}

impl ArtifactCache {
    /// Removes the least recently used entries (never `keep`, the one just
    /// written) until the folder's entries fit in `max_bytes`. Entries of
    /// other engine settings count too: they are what an upgrade leaves.
    fn evict(&self, keep: &Path) {
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = listing
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "cwasm"))
            .filter_map(|entry| {
                let meta = entry.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), entry.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
        if total <= self.max_bytes {
            return;
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => {
                    total -= len;
                    tracing::info!(entry = %path.display(), bytes = len, "cache entry evicted (the cache is over its size cap)");
                }
                Err(e) => tracing::warn!(entry = %path.display(), "could not evict the cache entry: {e}"),
            }
        }
    }
}

/// Marks an entry as used now: eviction goes by modification time.
fn mark_used(path: &Path) {
    if let Ok(file) = fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

fn load_or_create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Ok(existing) = fs::read(path) {
        if let Ok(key) = <[u8; 32]>::try_from(existing.as_slice()) {
            return Ok(key);
        }
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, key)?;
    fs::rename(&tmp, path)?;
    // Another process may have won the race: use what is on disk.
    let on_disk = fs::read(path)?;
    <[u8; 32]>::try_from(on_disk.as_slice()).map_err(|_| std::io::Error::other("cache key file is malformed"))
}

/// Content hash of a component, as used for cache keys and plugin versions.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
