//! The harness: a loaded plugin bound to a store, a clock and a source of
//! randomness, running actions and jobs through the run pipeline.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::automation::{Automations, Outbox, StepProgress};
use crate::backend::{Backend, MemoryBackend};
use crate::catalog::{Catalog, JobInfo};
use crate::clock::{Clock, FixedClock, Randomness, SystemClock};
use crate::limits::Limits;
use crate::native::{NativeGuest, NativePlugin};
use crate::run::pipeline::UNCLAIMED_ACTION;
use crate::run::{
    AutomationContext, Bookkeeping, Both, Invocation, NoBookkeeping, Pipeline, Prepared,
    QueryOutcome, QueryRequest, RunOutcome, RunRequest, UnknownQuery,
};
use crate::wasm::{InstanceMode, Plugin, PluginInstance, WasmGuest, default_engine};

/// A loaded plugin bound to a store, a clock and a source of randomness.
pub struct Harness {
    pub(crate) plugin: Plugin,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The same clock when it is one the harness may move.
    pub(crate) fixed_clock: Option<Arc<FixedClock>>,
    pub(crate) randomness: Arc<Randomness>,
    pub(crate) limits: Limits,
    pub(crate) instance_mode: InstanceMode,
    /// The instance kept between runs in [`InstanceMode::Reuse`].
    pub(crate) kept_instance: parking_lot::Mutex<Option<WasmGuest>>,
    /// The automations the events of this harness's runs may start,
    /// recorded in each run's transaction; set by [`crate::PluginHost`].
    pub(crate) automations: Option<Arc<Automations>>,
}

/// Configures a [`Harness`]: by default an in-memory store, the real clock
/// and randomness from the operating system.
pub struct HarnessBuilder {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) fixed_clock: Option<Arc<FixedClock>>,
    pub(crate) randomness: Arc<Randomness>,
    pub(crate) engine: Option<wasmtime::Engine>,
    pub(crate) limits: Limits,
    pub(crate) instance_mode: InstanceMode,
}

impl Default for HarnessBuilder {
    fn default() -> Self {
        Self {
            backend: Arc::new(MemoryBackend::new()),
            clock: Arc::new(SystemClock),
            fixed_clock: None,
            randomness: Arc::new(Randomness::from_os()),
            engine: None,
            limits: Limits::default(),
            instance_mode: InstanceMode::default(),
        }
    }
}

impl HarnessBuilder {
    /// Stores runs in `backend` instead of a fresh in-memory store;
    /// harnesses sharing one see each other's commits.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = backend;
        self
    }

    /// Reads time from `clock`. The harness cannot move a clock given this
    /// way, so [`Harness::advance`] needs [`Self::fixed_clock`] instead.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self.fixed_clock = None;
        self
    }

    /// Stops the clock at `now`; [`Harness::advance`] moves it.
    pub fn fixed_clock(mut self, now: DateTime<Utc>) -> Self {
        let clock = Arc::new(FixedClock::new(now));
        self.clock = clock.clone();
        self.fixed_clock = Some(clock);
        self
    }

    /// Makes every random id repeatable.
    pub fn seed(mut self, seed: u64) -> Self {
        self.randomness = Arc::new(Randomness::seeded(seed));
        self
    }

    /// What one run may consume. Fuel needs an engine made by
    /// [`crate::wasm::engine`] with fuel on.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether runs get a fresh instance (the default) or share one; see
    /// [`InstanceMode`].
    pub fn instance_mode(mut self, mode: InstanceMode) -> Self {
        self.instance_mode = mode;
        self
    }

    /// Shares a wasmtime engine, and so its compiled code, between
    /// harnesses.
    pub fn engine(mut self, engine: wasmtime::Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// The engine given with [`Self::engine`], or the default one.
    pub(crate) fn engine_or_default(&self) -> anyhow::Result<wasmtime::Engine> {
        match &self.engine {
            Some(engine) => Ok(engine.clone()),
            None => default_engine(),
        }
    }

    /// Loads the component at `path`.
    pub fn load(self, path: &Path) -> anyhow::Result<Harness> {
        let engine = self.engine_or_default()?;
        let plugin = Plugin::load(&engine, path)?;
        Ok(self.with_plugin(plugin))
    }

    /// Uses an already loaded plugin.
    pub fn with_plugin(self, plugin: Plugin) -> Harness {
        self.harness_for(plugin)
    }

    /// A harness of `plugin` with this builder's store, clock, randomness,
    /// limits and instance mode; the harnesses one builder makes share
    /// them all.
    pub(crate) fn harness_for(&self, plugin: Plugin) -> Harness {
        Harness {
            plugin,
            backend: Arc::clone(&self.backend),
            clock: Arc::clone(&self.clock),
            fixed_clock: self.fixed_clock.clone(),
            randomness: Arc::clone(&self.randomness),
            limits: self.limits,
            instance_mode: self.instance_mode,
            kept_instance: parking_lot::Mutex::new(None),
            automations: None,
        }
    }
}

impl Harness {
    /// A builder with the defaults: an in-memory store, the real clock,
    /// randomness from the operating system and the default engine.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder::default()
    }

    /// The plugin's checked catalog.
    pub fn catalog(&self) -> &Catalog {
        self.plugin.catalog()
    }

    /// The store runs commit to, for reading the change and event logs or
    /// taking a snapshot.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The clock runs read; plugins see it as their current time.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The run pipeline over this harness's catalog, store, clock and
    /// randomness.
    fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            catalog: &self.plugin.catalog,
            backend: &self.backend,
            clock: &self.clock,
            randomness: &self.randomness,
        }
    }

    /// Runs one action and returns its whole outcome. A domain failure is
    /// an `Ok` outcome with a failed result; a trap, or a plugin breaking
    /// the contract, is an `Err` naming the plugin and the action. Either
    /// way a run that does not succeed leaves the store as it was.
    pub fn run(&self, request: RunRequest) -> anyhow::Result<RunOutcome> {
        let started = std::time::Instant::now();
        let mut outcome = match self.pipeline().prepare_action(request, None)? {
            Prepared::Run(action) => self
                .execute(
                    action.invocation,
                    action.qualified_id,
                    action.run_id,
                    &action.secrets,
                    &mut NoBookkeeping,
                    0,
                )?
                .context(UNCLAIMED_ACTION)?,
            Prepared::Refused(outcome) => outcome,
        };
        outcome.wall_time = started.elapsed();
        Ok(outcome)
    }

    /// Runs one step of an automation run of depth `depth`, unless
    /// `progress` finds the attempt already made (`None`): the step's
    /// progress and the automation runs its events start commit with it.
    pub(crate) fn run_step(
        &self,
        request: RunRequest,
        automation: AutomationContext,
        progress: &mut StepProgress<'_>,
        depth: u32,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let started = std::time::Instant::now();
        let mut outcome = match self.pipeline().prepare_action(request, Some(automation))? {
            Prepared::Run(action) => self.execute(
                action.invocation,
                action.qualified_id,
                action.run_id,
                &action.secrets,
                progress,
                depth,
            )?,
            Prepared::Refused(outcome) => Some(outcome),
        };
        if let Some(outcome) = outcome.as_mut() {
            outcome.wall_time = started.elapsed();
        }
        Ok(outcome)
    }

    /// Runs one action like [`Harness::run`], but with `plugin`'s native
    /// code in place of the wasm component: same catalog, config check,
    /// entity engine, store and commit, no sandbox. It is the baseline the
    /// sandbox's cost is measured against, and lets plugin authors compare
    /// their native build with their component.
    pub fn run_native(
        &self,
        plugin: &dyn NativePlugin,
        request: RunRequest,
    ) -> anyhow::Result<RunOutcome> {
        let started = std::time::Instant::now();
        let mut outcome = match self.pipeline().prepare_action(request, None)? {
            Prepared::Run(action) => {
                let mut guest = NativeGuest::new(plugin, &self.plugin.catalog);
                let mut outbox = self.outbox(0);
                self.pipeline()
                    .execute(
                        &mut guest,
                        action.invocation,
                        action.qualified_id,
                        action.run_id,
                        &action.secrets,
                        outbox.as_mut(),
                    )?
                    .context(UNCLAIMED_ACTION)?
            }
            Prepared::Refused(outcome) => outcome,
        };
        outcome.wall_time = started.elapsed();
        Ok(outcome)
    }

    /// Runs the scheduled job `info` as due at
    /// `scheduled_at`, with the plugin's service actor, through the same
    /// engine and atomicity as an action, unless `bookkeeping` declines
    /// the run inside its transaction (`None`).
    pub(crate) fn run_job_at(
        &self,
        info: &JobInfo,
        scheduled_at: DateTime<Utc>,
        bookkeeping: &mut dyn Bookkeeping,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let invocation = Invocation::Job {
            local_id: info.local_id.clone(),
            scheduled_at,
        };
        let started = std::time::Instant::now();
        let mut outcome = self.execute(
            invocation,
            info.id.clone(),
            self.randomness.uuid(),
            &[],
            bookkeeping,
            0,
        )?;
        if let Some(outcome) = outcome.as_mut() {
            outcome.wall_time = started.elapsed();
        }
        Ok(outcome)
    }

    /// The outbox of a run whose events have depth `depth`: it records
    /// the automation runs they start, when there are automations.
    fn outbox(&self, depth: u32) -> Box<dyn Bookkeeping + '_> {
        match &self.automations {
            Some(automations) => Box::new(Outbox {
                automations,
                depth,
                now: self.clock.now(),
                randomness: &self.randomness,
            }),
            None => Box::new(NoBookkeeping),
        }
    }

    /// Runs `invocation` in a wasm instance: a fresh one, or in
    /// [`InstanceMode::Reuse`] the kept one, which is kept again only
    /// when the run ends without a host error. `bookkeeping` and the
    /// outbox of events of depth `depth` record with the run.
    fn execute(
        &self,
        invocation: Invocation,
        qualified_id: String,
        run_id: String,
        secrets: &[String],
        bookkeeping: &mut dyn Bookkeeping,
        depth: u32,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let mut outbox = self.outbox(depth);
        let mut bookkeeping = Both(bookkeeping, outbox.as_mut());
        let mut guest = self.guest(|| self.pipeline().describe(&invocation))?;
        let outcome = self.pipeline().execute(
            &mut guest,
            invocation,
            qualified_id,
            run_id,
            secrets,
            &mut bookkeeping,
        )?;
        self.keep(guest);
        Ok(outcome)
    }

    /// The instance for one run: in [`InstanceMode::Reuse`] the kept one,
    /// rearmed, else a fresh one; `what` names the run in errors.
    fn guest(&self, what: impl FnOnce() -> String) -> anyhow::Result<WasmGuest> {
        let kept = match self.instance_mode {
            InstanceMode::Fresh => None,
            InstanceMode::Reuse => self.kept_instance.lock().take(),
        };
        match kept {
            Some(mut guest) => {
                guest.rearm(self.limits)?;
                Ok(guest)
            }
            None => WasmGuest::new(&self.plugin, self.limits, &self.clock, &self.randomness)
                .with_context(|| format!("{}: instantiation failed", what())),
        }
    }

    /// Keeps `guest` for the next run in [`InstanceMode::Reuse`]; only a
    /// run that ended without a host error gets here.
    fn keep(&self, guest: WasmGuest) {
        if self.instance_mode == InstanceMode::Reuse {
            *self.kept_instance.lock() = Some(guest);
        }
    }

    /// Answers a read-only query (local or qualified id) in a read-only
    /// transaction, under the same limits as a run. A domain failure
    /// (including an input that breaks the query's schema) is an `Ok`
    /// outcome with a failed result; a trap, or a result that breaks the
    /// result schema, is an `Err` naming the plugin and the query. Nothing
    /// a query does changes the store.
    pub fn query(&self, request: QueryRequest) -> anyhow::Result<QueryOutcome> {
        let catalog = self.catalog();
        let local_id = catalog
            .local_id(&request.query)
            .filter(|local| catalog.queries.contains_key(*local))
            .ok_or_else(|| {
                let known: Vec<&str> = catalog.query_infos().map(|info| info.id.as_str()).collect();
                UnknownQuery::new(catalog.label(), &request.query, known.join(", "))
            })?;
        let started = std::time::Instant::now();
        let mut guest = self.guest(|| format!("plugin {}, query {local_id}", catalog.label()))?;
        let mut outcome = self
            .pipeline()
            .query(&mut guest, local_id, &request.input)?;
        self.keep(guest);
        outcome.wall_time = started.elapsed();
        Ok(outcome)
    }

    /// Instantiates the plugin as a fresh run would, with this harness's
    /// limits, clock and randomness, and runs nothing.
    pub fn instantiate(&self) -> anyhow::Result<PluginInstance> {
        let guest = WasmGuest::new(&self.plugin, self.limits, &self.clock, &self.randomness)
            .with_context(|| format!("plugin {}: instantiation failed", self.catalog().label()))?;
        Ok(PluginInstance::new(guest))
    }
}
