//! Loading a plugin component: compiling it, reading which contract
//! version it was built for, auditing what it imports, linking it against
//! that version's adapter, and reading and checking its catalog.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::adapter::Pre;
use super::cache::{CacheOutcome, ComponentCache};
use super::sandbox::arm_deadline;
use super::store::{new_store, trap_report};
use super::version::{ContractVersion, contract_version};
use crate::catalog::Catalog;
use crate::limits::Limits;

/// The interfaces a plugin may import: our contract, and the parts of WASI
/// that a Rust `std` component needs and the host controls. Filesystem,
/// sockets and HTTP are never granted.
const ALLOWED_IMPORTS: &[&str] = &[
    "checkstack:automation/",
    "wasi:clocks/wall-clock@",
    "wasi:clocks/monotonic-clock@",
    "wasi:random/random@",
    "wasi:random/insecure@",
    "wasi:random/insecure-seed@",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-input@",
    "wasi:cli/terminal-output@",
    "wasi:cli/terminal-stdin@",
    "wasi:cli/terminal-stdout@",
    "wasi:cli/terminal-stderr@",
    "wasi:io/error@",
    "wasi:io/poll@",
    "wasi:io/streams@",
];

/// The imports of `component` outside [`ALLOWED_IMPORTS`].
fn audit_imports(engine: &Engine, component: &Component) -> (Vec<String>, Vec<String>) {
    let imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let denied = imports
        .iter()
        .filter(|name| {
            !ALLOWED_IMPORTS
                .iter()
                .any(|allowed| name.starts_with(allowed))
        })
        .cloned()
        .collect();
    (imports, denied)
}

/// A loaded, linked and checked plugin, ready to instantiate.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) engine: Engine,
    pub(crate) pre: Pre,
    pub(crate) catalog: Arc<Catalog>,
    version: ContractVersion,
    /// The version as the component names it, such as `0.3.1`.
    named_version: String,
    /// The file the component was read from, when it was.
    source: Option<PathBuf>,
}

impl Plugin {
    /// Compiles the component at `path` and loads it.
    pub fn load(engine: &Engine, path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read plugin component {}", path.display()))?;
        let component = Component::new(engine, &bytes)
            .map_err(|error| anyhow!("{error:#}"))
            .with_context(|| format!("{} is not a valid component", path.display()))?;
        Self::from_component(engine, &component)
            .map(|plugin| plugin.with_source(path))
            .with_context(|| format!("cannot load plugin {}", path.display()))
    }

    /// Loads the component at `path`, compiled from `cache` when it holds
    /// a valid entry for it.
    pub fn load_cached(
        engine: &Engine,
        path: &Path,
        cache: &ComponentCache,
    ) -> anyhow::Result<(Self, CacheOutcome)> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read plugin component {}", path.display()))?;
        let (component, outcome) = cache
            .load(engine, &bytes)
            .with_context(|| format!("{} is not a valid component", path.display()))?;
        let plugin = Self::from_component(engine, &component)
            .with_context(|| format!("cannot load plugin {}", path.display()))?;
        Ok((plugin.with_source(path), outcome))
    }

    /// Reads the contract version, audits, links and instantiates
    /// `component` once to read its catalog.
    pub fn from_component(engine: &Engine, component: &Component) -> anyhow::Result<Self> {
        // Before linking: a component built for a version the host does
        // not serve would otherwise fail with a generic link error.
        let (version, named_version) = contract_version(engine, component)?;
        let (imports, denied) = audit_imports(engine, component);
        if !denied.is_empty() {
            bail!(
                "the component imports capabilities the host never grants: {}",
                denied.join(", ")
            );
        }
        let pre = Pre::link(engine, component, version, &named_version)?;

        // Reading the catalog runs the plugin's code too, under the default
        // limits: a plugin that loops or sleeps there is not loaded.
        let limits = Limits::default();
        let mut store = new_store(engine, Arc::new(Catalog::loading()), limits, |_| {})?;
        let deadline = arm_deadline(&limits);
        let exports = pre
            .instantiate(&mut store, deadline)
            .map_err(|error| trap_report(error, store.data()))
            .context("instantiating the component failed")?;
        let definition = exports
            .definitions(&mut store, deadline)
            .map_err(|error| trap_report(error, store.data()))
            .context("the plugin's definitions() trapped")?;
        let catalog = Catalog::from_definition(definition, imports)
            .context("the plugin's catalog is invalid")?;
        Ok(Self {
            engine: engine.clone(),
            pre,
            catalog: Arc::new(catalog),
            version,
            named_version,
            source: None,
        })
    }

    fn with_source(mut self, path: &Path) -> Self {
        self.source = Some(path.to_owned());
        self
    }

    /// The file the component was loaded from; absent for one built from
    /// a [`Component`] in memory.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// How errors name the plugin's origin: its file, or its label.
    pub fn origin(&self) -> String {
        match &self.source {
            Some(path) => path.display().to_string(),
            None => format!("{} (loaded from memory)", self.catalog.label()),
        }
    }

    /// The plugin as `describe --json` prints it: `plugin` (`id`,
    /// `version`), `contract`, `triggers`, `actions`, `artifactTypes`,
    /// `entityKinds`, `jobs`, `queries` and `imports`, every id qualified.
    pub fn describe(&self) -> serde_json::Value {
        let catalog = self.catalog();
        serde_json::json!({
            "plugin": { "id": catalog.id, "version": catalog.version },
            "contract": self.contract(),
            "triggers": catalog.trigger_infos().collect::<Vec<_>>(),
            "actions": catalog.action_infos().collect::<Vec<_>>(),
            "artifactTypes": catalog.artifact_type_infos().collect::<Vec<_>>(),
            "entityKinds": catalog.entity_kind_infos,
            "jobs": catalog.jobs.values().collect::<Vec<_>>(),
            "queries": catalog.query_infos().collect::<Vec<_>>(),
            "imports": catalog.imports,
        })
    }

    /// The plugin's checked catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The contract track that serves the component.
    pub fn contract_version(&self) -> ContractVersion {
        self.version
    }

    /// The contract the component was built against, as it names it:
    /// `checkstack:automation@0.3.1`.
    pub fn contract(&self) -> String {
        format!("{}@{}", super::version::PACKAGE, self.named_version)
    }
}
