//! Compiled components on disk, so a plugin is compiled once, not at every
//! start.
//!
//! An entry is keyed by the SHA-256 of the component and by wasmtime's
//! compatibility hash of the engine, so a changed plugin, another wasmtime
//! or other engine settings never load a stale entry. Each entry carries
//! the SHA-256 of its own bytes, checked before wasmtime deserialises it:
//! a truncated or corrupted entry is compiled again and replaced, never
//! loaded. The directory must be writable by its user only, as for any
//! cache of native code.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use sha2::{Digest, Sha256};
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl ComponentCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

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
            hex(&Sha256::digest(component)),
            compatibility.finish()
        ))
    }

    /// The compiled form of `component`, from the cache when a valid entry
    /// exists.
    pub fn load(
        &self,
        engine: &Engine,
        component: &[u8],
    ) -> anyhow::Result<(Component, CacheOutcome)> {
        let entry = self.entry(engine, component);
        let outcome = match std::fs::read(&entry) {
            Ok(stored) => match Self::verified(&stored) {
                Some(compiled) => {
                    // SAFETY: the bytes are an entry this cache wrote with
                    // `Engine::precompile_component` for an engine with the
                    // same compatibility hash, and their digest matches the
                    // one written with them, so they are not truncated or
                    // corrupted.
                    match unsafe { Component::deserialize(engine, compiled) } {
                        Ok(loaded) => return Ok((loaded, CacheOutcome::Hit)),
                        Err(_) => CacheOutcome::Replaced,
                    }
                }
                None => CacheOutcome::Replaced,
            },
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

    /// The compiled bytes of an entry whose trailing digest matches them.
    fn verified(stored: &[u8]) -> Option<&[u8]> {
        let split = stored.len().checked_sub(32)?;
        let (compiled, digest) = stored.split_at(split);
        (Sha256::digest(compiled).as_slice() == digest).then_some(compiled)
    }

    /// Writes an entry atomically: a crash leaves the old entry or none.
    fn store(&self, entry: &Path, compiled: &[u8]) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let temporary = entry.with_extension(format!("tmp{}", std::process::id()));
        let mut bytes = compiled.to_vec();
        bytes.extend_from_slice(&Sha256::digest(compiled));
        std::fs::write(&temporary, &bytes)?;
        std::fs::rename(&temporary, entry)?;
        Ok(())
    }
}
