//! Several plugins side by side: each keeps its own key space, entity
//! kinds and scheduled jobs, and they share one store, clock and source of
//! randomness (so seeded ids never collide between them). Runs are routed
//! by qualified id, `<plugin>.<local>`, or by a local id exactly one
//! plugin declares.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, ensure};

use crate::automation::{Automations, AutomationsError};
use crate::backend::Backend;
use crate::catalog::Catalog;
use crate::clock::{Clock, FixedClock};
use crate::harness::{Harness, HarnessBuilder};
use crate::run::{QueryOutcome, QueryRequest, RunOutcome, RunRequest, UnknownAction, UnknownQuery};
use crate::wasm::Plugin;

/// Loaded plugins side by side on one store, clock and randomness, and
/// the automations their events start.
pub struct PluginHost {
    /// One harness per plugin, in load order.
    harnesses: Vec<Harness>,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) fixed_clock: Option<Arc<FixedClock>>,
    pub(crate) automations: Option<Arc<Automations>>,
}

impl HarnessBuilder {
    /// Loads the component at each path, side by side on one store, clock
    /// and source of randomness; see [`PluginHost`].
    pub fn load_all(self, paths: &[PathBuf]) -> anyhow::Result<PluginHost> {
        let engine = self.engine_or_default()?;
        let plugins = paths
            .iter()
            .map(|path| Plugin::load(&engine, path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.with_plugins(plugins)
    }

    /// Uses already loaded plugins side by side; refuses two plugins with
    /// one id, naming both files.
    pub fn with_plugins(self, plugins: Vec<Plugin>) -> anyhow::Result<PluginHost> {
        ensure!(!plugins.is_empty(), "no plugin to load");
        PluginHost::check_unique_ids(&plugins)?;
        let harnesses = plugins
            .into_iter()
            .map(|plugin| self.harness_for(plugin))
            .collect();
        Ok(PluginHost {
            harnesses,
            backend: self.backend,
            clock: self.clock,
            fixed_clock: self.fixed_clock,
            automations: None,
        })
    }
}

impl PluginHost {
    /// Refuses two plugins with one id, naming both files: their key
    /// spaces, entity kinds and qualified ids would be one.
    pub fn check_unique_ids(plugins: &[Plugin]) -> anyhow::Result<()> {
        for (index, plugin) in plugins.iter().enumerate() {
            let id = &plugin.catalog().id;
            if let Some(first) = plugins[..index].iter().find(|p| p.catalog().id == *id) {
                bail!(
                    "two plugins with the id {id}: {} and {}; plugin ids must be unique",
                    first.origin(),
                    plugin.origin()
                );
            }
        }
        Ok(())
    }

    /// Runs `automations` from now on: the events of every run record the
    /// automation runs they start, and [`Self::dispatch`] runs them. Check
    /// them against [`Self::catalogs`] first, as [`Self::load_automations`]
    /// does.
    pub fn with_automations(mut self, automations: Automations) -> Self {
        let automations = Arc::new(automations);
        for harness in &mut self.harnesses {
            harness.automations = Some(Arc::clone(&automations));
        }
        self.automations = Some(automations);
        self
    }

    /// Reads the automations file at `path`, checks it against the loaded
    /// plugins and runs it; see [`Self::with_automations`].
    pub fn load_automations(self, path: &Path) -> Result<Self, AutomationsError> {
        let automations = Automations::load(path, &self.catalogs())?;
        Ok(self.with_automations(automations))
    }

    /// The automations this host runs, when it runs any.
    pub fn automations(&self) -> Option<&Automations> {
        self.automations.as_deref()
    }

    /// Every loaded plugin's catalog, in load order.
    pub fn catalogs(&self) -> Vec<&Catalog> {
        self.harnesses.iter().map(Harness::catalog).collect()
    }

    /// The store every plugin's runs commit to.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The clock every plugin's runs read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.harnesses.iter().map(|harness| &harness.plugin)
    }

    /// The harness of each plugin, in load order.
    pub fn harnesses(&self) -> &[Harness] {
        &self.harnesses
    }

    /// The harness of the plugin with id `plugin`.
    pub fn harness(&self, plugin: &str) -> Option<&Harness> {
        self.harnesses
            .iter()
            .find(|harness| harness.catalog().id == plugin)
    }

    /// The harness that serves action `id`: qualified
    /// (`notifications.send`), or local (`send`) when exactly one plugin
    /// declares it.
    pub(crate) fn route_action(&self, id: &str) -> Result<&Harness, UnknownAction> {
        self.route(id, |catalog| catalog.actions.keys().cloned().collect())
            .map_err(|(plugin, known)| UnknownAction {
                plugin,
                action: id.to_owned(),
                known,
            })
    }

    /// The harness that answers query `id`, resolved as actions are.
    fn route_query(&self, id: &str) -> Result<&Harness, UnknownQuery> {
        self.route(id, |catalog| catalog.queries.keys().cloned().collect())
            .map_err(|(plugin, known)| UnknownQuery::new(plugin, id, known))
    }

    /// The harness whose plugin declares `id` among its `declared` local
    /// ids: qualified, or local when exactly one declares it. Otherwise
    /// the loaded plugins' labels and what a caller could have asked for
    /// instead: every qualified id, or the two that make a local id
    /// ambiguous.
    fn route(
        &self,
        id: &str,
        declared: impl Fn(&Catalog) -> Vec<String>,
    ) -> Result<&Harness, (String, String)> {
        let declares = |harness: &Harness, local: &str| {
            declared(harness.catalog()).iter().any(|own| own == local)
        };
        let plugins = || {
            self.harnesses
                .iter()
                .map(|harness| harness.catalog().label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let known = || {
            self.harnesses
                .iter()
                .flat_map(|harness| {
                    let catalog = harness.catalog();
                    declared(catalog)
                        .into_iter()
                        .map(|local| catalog.qualify(&local))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some((plugin, local)) = id.split_once('.') {
            return self
                .harness(plugin)
                .filter(|harness| declares(harness, local))
                .ok_or_else(|| (plugins(), known()));
        }
        let mut serving = self
            .harnesses
            .iter()
            .filter(|harness| declares(harness, id));
        match (serving.next(), serving.next()) {
            (Some(harness), None) => Ok(harness),
            (Some(first), Some(second)) => Err((
                plugins(),
                format!(
                    "{} and {} both declare it: qualify it",
                    first.catalog().qualify(id),
                    second.catalog().qualify(id)
                ),
            )),
            (None, _) => Err((plugins(), known())),
        }
    }

    /// Runs one action of whichever plugin declares it; see
    /// [`Harness::run`].
    pub fn run(&self, request: RunRequest) -> anyhow::Result<RunOutcome> {
        let harness = self.route_action(&request.action)?;
        harness.run(request)
    }

    /// Answers a read-only query, qualified (`maintenance.get`) or local
    /// (`get`) when exactly one plugin declares it; see
    /// [`Harness::query`].
    pub fn query(&self, request: QueryRequest) -> anyhow::Result<QueryOutcome> {
        self.route_query(&request.query)?.query(request)
    }

    /// Runs, at the clock's current instant, every job of every plugin that
    /// has become due since it last ran on this store, plugin by plugin in
    /// load order; see [`Harness::tick`].
    pub fn tick(&self) -> anyhow::Result<Vec<RunOutcome>> {
        let mut outcomes = Vec::new();
        for harness in &self.harnesses {
            outcomes.extend(harness.tick()?);
        }
        Ok(outcomes)
    }
}
