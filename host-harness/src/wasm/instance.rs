//! Wasm instances of a plugin. Each run gets a fresh instance by default,
//! so nothing a run leaves in the guest's memory reaches the next one; a
//! harness for trusted plugins may keep one instance and reuse it.

use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use wasmtime::Store;

use super::adapter::{ActionCall, Exports, JobCall};
use super::loader::Plugin;
use super::sandbox::arm_deadline;
use super::store::{HostState, WasiMonotonicClock, WasiWallClock, new_store, trap_report};
use crate::clock::{Clock, Randomness, format_instant};
use crate::engine::Session;
use crate::limits::Limits;
use crate::records::ChangeRecord;
use crate::run::{
    ActionFailure, Document, Guest, GuestEvent, GuestSuccess, Invocation, QueryFailure,
};

/// Whether runs share a wasm instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstanceMode {
    /// A new instance for every run: isolation between runs, at the cost
    /// of instantiating (microseconds with a pre-instantiated component).
    #[default]
    Fresh,
    /// One instance kept across runs, for trusted plugins: whatever a run
    /// leaves in the guest's memory, the next run sees. An instance whose
    /// run ended in a host error (a trap, a limit, a broken protocol) is
    /// discarded, never reused.
    Reuse,
}

/// A wasm instance with its store, serving runs for the engine.
pub(crate) struct WasmGuest {
    store: Store<HostState>,
    exports: Exports,
    /// When the current run's time is up: every call into the guest ends
    /// by then, whether it computes or waits.
    deadline: Instant,
}

impl WasmGuest {
    /// Instantiates `plugin` in a new store under `limits`, with the
    /// host's clock and randomness as the guest's WASI clocks and random.
    pub fn new(
        plugin: &Plugin,
        limits: Limits,
        clock: &Arc<dyn Clock>,
        randomness: &Randomness,
    ) -> anyhow::Result<Self> {
        let mut rng = randomness.fork();
        let mut store = new_store(
            &plugin.engine,
            Arc::clone(&plugin.catalog),
            limits,
            |wasi| {
                use rand::{Rng, SeedableRng};
                wasi.wall_clock(WasiWallClock(Arc::clone(clock)))
                    .monotonic_clock(WasiMonotonicClock(Arc::clone(clock)))
                    .insecure_random_seed(
                        u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()),
                    )
                    .insecure_random(rand::rngs::StdRng::from_rng(&mut rng))
                    .secure_random(rng);
            },
        )?;
        let deadline = arm_deadline(&limits);
        let exports = plugin
            .pre
            .instantiate(&mut store, deadline)
            .map_err(|error| trap_report(error, store.data()))?;
        Ok(Self {
            store,
            exports,
            deadline,
        })
    }

    /// Readies a kept instance for another run: its limits, full fuel,
    /// and error reports that start from here. The deadline starts when
    /// the run does.
    pub fn rearm(&mut self, limits: Limits) -> anyhow::Result<()> {
        if self.store.engine().get_consume_fuel() {
            self.store
                .set_fuel(limits.fuel.unwrap_or(u64::MAX))
                .map_err(|error| anyhow!("{error:#}"))?;
        }
        let state = self.store.data_mut();
        state.limits = limits;
        state.memory.limit = limits.memory_bytes;
        state.memory.refused = false;
        state.stderr_seen = state.stderr.contents().len();
        Ok(())
    }

    fn report(&self, error: wasmtime::Error) -> anyhow::Error {
        trap_report(error, self.store.data())
    }
}

impl Guest for WasmGuest {
    fn session(&mut self) -> &mut Session {
        &mut self.store.data_mut().session
    }

    fn invoke(
        &mut self,
        invocation: &Invocation,
        run_id: &str,
    ) -> anyhow::Result<Result<Option<GuestSuccess>, ActionFailure>> {
        let called = match invocation {
            Invocation::Action {
                local_id,
                config_text,
                actor,
                automation,
                ..
            } => self
                .exports
                .run_action(
                    &mut self.store,
                    self.deadline,
                    ActionCall {
                        local_id,
                        config: config_text,
                        run_id,
                        actor: actor.as_ref(),
                        automation: automation.as_deref(),
                    },
                )
                .map(|result| result.map(Some)),
            Invocation::Job {
                local_id,
                scheduled_at,
            } => {
                let actor = self.store.data().session.catalog.service_actor();
                self.exports
                    .run_job(
                        &mut self.store,
                        self.deadline,
                        JobCall {
                            local_id,
                            run_id,
                            actor,
                            scheduled_at: format_instant(*scheduled_at),
                        },
                    )
                    .map(|result| result.map(|()| None))
            }
        };
        called.map_err(|error| self.report(error))
    }

    fn derive(&mut self, change: &ChangeRecord) -> anyhow::Result<Vec<GuestEvent>> {
        self.exports
            .derive(&mut self.store, self.deadline, change)
            .map_err(|error| self.report(error))
    }

    fn query(
        &mut self,
        local_id: &str,
        input: &str,
    ) -> anyhow::Result<Result<Document, QueryFailure>> {
        self.exports
            .run_query(&mut self.store, self.deadline, local_id, input)
            .map_err(|error| self.report(error))
    }

    fn start_deadline(&mut self) {
        self.deadline = arm_deadline(&self.store.data().limits);
    }

    fn fuel_consumed(&mut self) -> Option<u64> {
        // Asking an engine without fuel builds an error, backtrace and all.
        if !self.store.engine().get_consume_fuel() {
            return None;
        }
        let remaining = self.store.get_fuel().ok()?;
        let limits = self.store.data().limits;
        Some(limits.fuel.unwrap_or(u64::MAX) - remaining)
    }
}

/// An idle instance of a plugin, as every run starts from; for health
/// checks and for measuring what instantiation costs.
pub struct PluginInstance {
    _guest: WasmGuest,
}

impl PluginInstance {
    pub(crate) fn new(guest: WasmGuest) -> Self {
        Self { _guest: guest }
    }
}
