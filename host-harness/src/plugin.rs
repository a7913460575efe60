//! Loading a plugin component: compiling it, auditing what it imports,
//! linking it against the host, and reading and checking its catalog.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail, ensure};
use serde::Serialize;
use serde_json::Value;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::bindings::{AutomationPlugin, AutomationPluginPre, plugin as wit};
use crate::cache::{CacheOutcome, ComponentCache};
use crate::limits::{Limits, MemoryCap, bounded};
use crate::schema::Schema;
use crate::state::{HostState, Session};

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

/// How much of a guest's stderr is kept for error reports.
const STDERR_CAPACITY: usize = 64 * 1024;

/// A trigger as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerInfo {
    pub id: String,
    pub local_id: String,
    pub display_name: String,
    pub description: String,
    pub category: String,
    pub icon: String,
    pub payload_schema: Value,
    pub context_key: Option<String>,
    pub entity_kind: Option<String>,
}

/// An action as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionInfo {
    pub id: String,
    pub local_id: String,
    pub display_name: String,
    pub description: String,
    pub category: String,
    pub icon: String,
    pub config_version: u32,
    pub config_schema: Value,
    /// The qualified artifact type the action produces.
    pub produces: Option<String>,
}

/// An artifact type as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactTypeInfo {
    pub id: String,
    pub local_id: String,
    pub name: String,
    pub description: String,
    pub schema: Value,
}

/// An entity kind as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityKindInfo {
    pub kind: String,
    pub state_schema: Value,
}

/// A scheduled job as the host publishes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: String,
    pub local_id: String,
    pub display_name: String,
    pub description: String,
    /// The job runs at every whole multiple of this many seconds since the
    /// Unix epoch.
    pub every_seconds: u32,
}

/// A plugin's checked catalog, with every schema compiled.
pub struct Catalog {
    pub id: String,
    pub version: String,
    pub triggers: BTreeMap<String, (TriggerInfo, Schema)>,
    pub actions: BTreeMap<String, (ActionInfo, Schema)>,
    pub artifact_types: BTreeMap<String, (ArtifactTypeInfo, Schema)>,
    pub entity_kinds: BTreeMap<String, Schema>,
    pub entity_kind_infos: Vec<EntityKindInfo>,
    pub jobs: BTreeMap<String, JobInfo>,
    /// The component's imports, by name.
    pub imports: Vec<String>,
}

impl Catalog {
    /// Stands in while the real catalog is being read.
    fn loading() -> Self {
        Self {
            id: "(loading)".into(),
            version: String::new(),
            triggers: BTreeMap::new(),
            actions: BTreeMap::new(),
            artifact_types: BTreeMap::new(),
            entity_kinds: BTreeMap::new(),
            entity_kind_infos: Vec::new(),
            jobs: BTreeMap::new(),
            imports: Vec::new(),
        }
    }

    /// The actor of the plugin's own background work.
    pub fn service_actor(&self) -> crate::Actor {
        crate::Actor::new(
            crate::ActorType::Service,
            self.id.clone(),
            Some(self.id.clone()),
        )
    }

    /// `maintenance@1.3.1`, how errors name the plugin.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    pub fn qualify(&self, local_id: &str) -> String {
        format!("{}.{local_id}", self.id)
    }

    /// The local id that `id` names, accepting a local id or one qualified
    /// with this plugin's prefix.
    pub fn local_id<'a>(&self, id: &'a str) -> Option<&'a str> {
        match id.split_once('.') {
            Some((prefix, local)) if prefix == self.id => Some(local),
            Some(_) => None,
            None => Some(id),
        }
    }

    pub fn trigger_infos(&self) -> impl Iterator<Item = &TriggerInfo> {
        self.triggers.values().map(|(info, _)| info)
    }

    pub fn action_infos(&self) -> impl Iterator<Item = &ActionInfo> {
        self.actions.values().map(|(info, _)| info)
    }

    pub fn artifact_type_infos(&self) -> impl Iterator<Item = &ArtifactTypeInfo> {
        self.artifact_types.values().map(|(info, _)| info)
    }

    fn from_definition(
        definition: wit::PluginDefinition,
        imports: Vec<String>,
    ) -> anyhow::Result<Self> {
        ensure!(
            is_plugin_id(&definition.id),
            "plugin id {:?} must match [a-z][a-z0-9_-]*",
            definition.id
        );
        ensure!(
            !definition.version.is_empty(),
            "plugin version must not be empty"
        );
        let mut catalog = Self {
            id: definition.id,
            version: definition.version,
            imports,
            ..Self::loading()
        };
        for kind in definition.entity_kinds {
            check_local_id("entity kind", &kind.kind)?;
            let (schema, document) = declared_schema(&kind.state_schema)
                .with_context(|| format!("state schema of entity kind {}", kind.kind))?;
            let info = EntityKindInfo {
                kind: kind.kind.clone(),
                state_schema: document,
            };
            declare(&mut catalog.entity_kinds, "entity kind", &kind.kind, schema)?;
            catalog.entity_kind_infos.push(info);
        }
        for artifact in definition.artifact_types {
            check_local_id("artifact type", &artifact.id)?;
            let (schema, document) = declared_schema(&artifact.schema)
                .with_context(|| format!("schema of artifact type {}", artifact.id))?;
            let info = ArtifactTypeInfo {
                id: catalog.qualify(&artifact.id),
                local_id: artifact.id.clone(),
                name: artifact.name,
                description: artifact.description,
                schema: document,
            };
            declare(
                &mut catalog.artifact_types,
                "artifact type",
                &artifact.id,
                (info, schema),
            )?;
        }
        for trigger in definition.triggers {
            check_local_id("trigger", &trigger.id)?;
            if let Some(kind) = &trigger.entity_kind {
                ensure!(
                    catalog.entity_kinds.contains_key(kind),
                    "trigger {} is driven by undeclared entity kind {kind}",
                    trigger.id
                );
            }
            let (schema, document) = declared_schema(&trigger.payload_schema)
                .with_context(|| format!("payload schema of trigger {}", trigger.id))?;
            let info = TriggerInfo {
                id: catalog.qualify(&trigger.id),
                local_id: trigger.id.clone(),
                display_name: trigger.display_name,
                description: trigger.description,
                category: trigger.category,
                icon: trigger.icon,
                payload_schema: document,
                context_key: trigger.context_key,
                entity_kind: trigger.entity_kind,
            };
            declare(
                &mut catalog.triggers,
                "trigger",
                &trigger.id,
                (info, schema),
            )?;
        }
        for action in definition.actions {
            check_local_id("action", &action.id)?;
            if let Some(produces) = &action.produces {
                ensure!(
                    catalog.artifact_types.contains_key(produces),
                    "action {} produces undeclared artifact type {produces}",
                    action.id
                );
            }
            let (schema, document) = declared_schema(&action.config_schema)
                .with_context(|| format!("config schema of action {}", action.id))?;
            let info = ActionInfo {
                id: catalog.qualify(&action.id),
                local_id: action.id.clone(),
                display_name: action.display_name,
                description: action.description,
                category: action.category,
                icon: action.icon,
                config_version: action.config_version,
                config_schema: document,
                produces: action.produces.as_deref().map(|id| catalog.qualify(id)),
            };
            declare(&mut catalog.actions, "action", &action.id, (info, schema))?;
        }
        for job in definition.jobs {
            check_local_id("job", &job.id)?;
            let wit::Schedule::EverySeconds(every_seconds) = job.schedule;
            ensure!(every_seconds > 0, "job {} has an interval of 0 s", job.id);
            let info = JobInfo {
                id: catalog.qualify(&job.id),
                local_id: job.id.clone(),
                display_name: job.display_name,
                description: job.description,
                every_seconds,
            };
            declare(&mut catalog.jobs, "job", &job.id, info)?;
        }
        Ok(catalog)
    }
}

/// Inserts a declaration, refusing a second one with the same id.
fn declare<T>(map: &mut BTreeMap<String, T>, what: &str, id: &str, value: T) -> anyhow::Result<()> {
    ensure!(
        map.insert(id.to_owned(), value).is_none(),
        "{what} {id} is declared twice"
    );
    Ok(())
}

/// Compiles a declared schema, returning it with the parsed document the
/// catalog publishes, so the text is parsed once.
fn declared_schema(text: &str) -> anyhow::Result<(Schema, Value)> {
    let document: Value =
        serde_json::from_str(text).map_err(|error| anyhow!("not valid JSON: {error}"))?;
    Ok((Schema::from_document(&document)?, document))
}

fn is_plugin_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Local ids carry no prefix, so a plugin cannot declare anything under
/// another plugin's id.
fn check_local_id(what: &str, id: &str) -> anyhow::Result<()> {
    let mut chars = id.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ensure!(
        valid,
        "{what} id {id:?} must be a local id matching [a-z][a-z0-9_]*"
    );
    Ok(())
}

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
    pub(crate) pre: AutomationPluginPre<HostState>,
    pub(crate) catalog: Arc<Catalog>,
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
        Ok((plugin, outcome))
    }

    /// Audits, links and instantiates `component` once to read its catalog.
    pub fn from_component(engine: &Engine, component: &Component) -> anyhow::Result<Self> {
        let (imports, denied) = audit_imports(engine, component);
        if !denied.is_empty() {
            bail!(
                "the component imports capabilities the host never grants: {}",
                denied.join(", ")
            );
        }
        let mut linker = Linker::<HostState>::new(engine);
        // Async, so that a guest waiting in WASI is a pending future the
        // run's deadline can cut short (see `limits::bounded`).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|error| anyhow!("{error:#}"))?;
        AutomationPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| {
            state
        })
        .map_err(|error| anyhow!("{error:#}"))?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|error| anyhow!("{error:#}"))
            .context("the component does not link against the automation host")?;
        let pre = AutomationPluginPre::new(pre)
            .map_err(|error| anyhow!("{error:#}"))
            .context("the component does not export the automation plugin interface")?;

        // Reading the catalog runs the plugin's code too, under the default
        // limits: a plugin that loops or sleeps there is not loaded.
        let limits = Limits::default();
        let mut store = new_store(engine, Arc::new(Catalog::loading()), limits, |_| {})?;
        let deadline = Instant::now() + limits.deadline;
        let instance = bounded(deadline, pre.instantiate_async(&mut store))
            .map_err(|error| trap_report(error, store.data()))
            .context("instantiating the component failed")?;
        let definition = bounded(
            deadline,
            instance
                .checkstack_automation_plugin()
                .call_definitions(&mut store),
        )
        .map_err(|error| trap_report(error, store.data()))
        .context("the plugin's definitions() trapped")?;
        let catalog = Catalog::from_definition(definition, imports)
            .context("the plugin's catalog is invalid")?;
        Ok(Self {
            engine: engine.clone(),
            pre,
            catalog: Arc::new(catalog),
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

/// A store for one instance of a plugin. WASI starts from a builder with
/// nothing added, which inherits nothing: no environment, arguments,
/// preopened directories, stdin or network; `configure` may only add the
/// host's clocks and randomness.
pub(crate) fn new_store(
    engine: &Engine,
    catalog: Arc<Catalog>,
    limits: Limits,
    configure: impl FnOnce(&mut WasiCtxBuilder),
) -> anyhow::Result<Store<HostState>> {
    let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
    let mut wasi = WasiCtx::builder();
    wasi.stderr(stderr.clone());
    configure(&mut wasi);
    let mut store = Store::new(
        engine,
        HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            session: Session::new(catalog),
            stderr,
            stderr_seen: 0,
            memory: MemoryCap {
                limit: limits.memory_bytes,
                refused: false,
            },
            limits,
        },
    );
    store.limiter(|state| &mut state.memory);
    // At every epoch tick a computing guest yields to the host, so the
    // timer of `limits::bounded` ends it like a waiting one: one clock,
    // the real one, decides every deadline.
    store.epoch_deadline_async_yield_and_update(1);
    if engine.get_consume_fuel() {
        store
            .set_fuel(limits.fuel.unwrap_or(u64::MAX))
            .map_err(|error| anyhow!("{error:#}"))?;
    }
    Ok(store)
}

/// Says why a plugin was stopped: a limit it reached, or the trap with
/// what the guest printed to stderr, which is where a Rust plugin's panic
/// message goes.
pub(crate) fn trap_report(error: wasmtime::Error, state: &HostState) -> anyhow::Error {
    let limits = state.limits;
    let trap = error.downcast_ref::<wasmtime::Trap>().copied();
    if trap == Some(wasmtime::Trap::Interrupt) {
        return anyhow!("deadline of {} ms exceeded", limits.deadline.as_millis());
    }
    if trap == Some(wasmtime::Trap::OutOfFuel) {
        return anyhow!("fuel limit of {} reached", limits.fuel.unwrap_or(u64::MAX));
    }
    if state.memory.refused {
        return anyhow!(
            "memory limit of {} reached",
            crate::limits::format_bytes(limits.memory_bytes)
        );
    }
    let stderr = state.stderr_text();
    let reason = match trap {
        Some(wasmtime::Trap::StackOverflow) => "stack overflow".to_owned(),
        Some(trap) => format!("wasm trap: {trap}"),
        None => format!("{error:#}"),
    };
    if stderr.is_empty() {
        anyhow!(reason)
    } else {
        anyhow!("{reason}; the plugin wrote: {}", one_line(&stderr))
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
