//! Compiled components on disk, so a plugin is compiled once, not at every
//! start.
//!
//! An entry is keyed by the BLAKE3 digest of the component and by
//! wasmtime's compatibility hash of the engine, so a changed plugin,
//! another wasmtime or other engine settings never load a stale entry.
//! Next to each entry (`.cwasm`) lies the BLAKE3 digest of its bytes
//! (`.cwasm.blake3`), checked before wasmtime maps the entry (BLAKE3
//! because the check is on the start-up path: a megabyte takes a fraction
//! of a millisecond):
//! a truncated or corrupted entry is compiled again and replaced, never
//! loaded. The directory must be writable by its user only, as for any
//! cache of native code.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How a component was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a valid entry.
    Hit,
    /// Not in the cache: compiled and stored.
    Miss,
    /// The entry was corrupt or unreadable: compiled again and replaced.
    Replaced,
}

/// A directory of precompiled components.
#[derive(Clone, Debug)]
pub struct ComponentCache {
    dir: PathBuf,
}

/// `$AUTOMATION_HARNESS_CACHE`, else `$XDG_CACHE_HOME/automation-harness`,
/// else `~/.cache/automation-harness`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AUTOMATION_HARNESS_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("automation-harness"))
}

impl ComponentCache {
    /// A cache in `dir`, which is created when the first entry is stored
    /// rather than now.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory holding the entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry's path for `component` under `engine`.
    fn entry(&self, engine: &Engine, component: &[u8]) -> PathBuf {
        let mut compatibility = std::hash::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut compatibility);
        self.dir.join(format!(
            "{}-{:016x}.cwasm",
            blake3::hash(component).to_hex(),
            compatibility.finish()
        ))
    }

    /// Where the digest of `entry` is kept.
    fn digest_path(entry: &Path) -> PathBuf {
        entry.with_extension("cwasm.blake3")
    }

    /// The compiled form of `component`, from the cache when a valid entry
    /// exists.
    pub fn load(
        &self,
        engine: &Engine,
        component: &[u8],
    ) -> anyhow::Result<(Component, CacheOutcome)> {
        let entry = self.entry(engine, component);
        let outcome = match Self::map(&entry) {
            Ok(stored) => {
                let digest = std::fs::read(Self::digest_path(&entry)).unwrap_or_default();
                let intact = blake3::hash(&stored).as_bytes().as_slice() == digest;
                drop(stored);
                if intact {
                    // SAFETY: the file is an entry this cache wrote with
                    // `Engine::precompile_component` for an engine with the
                    // same compatibility hash, its digest matches the one
                    // written after it, so it is neither truncated nor
                    // corrupted, and entries are replaced by rename, never
                    // written in place. wasmtime maps it rather than
                    // copying it, which halves the load.
                    match unsafe { Component::deserialize_file(engine, &entry) } {
                        Ok(loaded) => return Ok((loaded, CacheOutcome::Hit)),
                        Err(_) => CacheOutcome::Replaced,
                    }
                } else {
                    CacheOutcome::Replaced
                }
            }
            Err(_) => CacheOutcome::Miss,
        };
        let compiled = engine
            .precompile_component(component)
            .map_err(|error| anyhow!("{error:#}"))
            .context("compiling the component failed")?;
        // A cache that cannot be written costs speed, not correctness.
        if let Err(error) = self.store(&entry, &compiled) {
            tracing::warn!("cannot write {}: {error:#}", entry.display());
        }
        // SAFETY: `compiled` was just produced by this engine.
        let loaded = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|error| anyhow!("{error:#}"))?;
        Ok((loaded, outcome))
    }

    /// Maps an entry read-only: no copy through a buffer, which on this
    /// path costs as much as the rest of loading.
    fn map(entry: &Path) -> std::io::Result<memmap2::Mmap> {
        let file = std::fs::File::open(entry)?;
        // SAFETY: entries are replaced by rename, never written in place,
        // so the mapped file does not change while it is mapped.
        unsafe { memmap2::Mmap::map(&file) }
    }

    /// Writes an entry, then its digest, each atomically: a crash leaves
    /// the old entry, none, or one whose digest does not match, which the
    /// next load compiles again.
    fn store(&self, entry: &Path, compiled: &[u8]) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        self.replace(entry, compiled)?;
        self.replace(&Self::digest_path(entry), blake3::hash(compiled).as_bytes())
    }

    /// Replaces `path` with `contents` by renaming a uniquely named
    /// temporary file over it, so concurrent writers, threads or
    /// processes, never write into one file.
    fn replace(&self, path: &Path, contents: &[u8]) -> anyhow::Result<()> {
        let mut temporary = tempfile::NamedTempFile::new_in(&self.dir)
            .with_context(|| format!("cannot create a file in {}", self.dir.display()))?;
        std::io::Write::write_all(&mut temporary, contents)?;
        temporary
            .persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}
