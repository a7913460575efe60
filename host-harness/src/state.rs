//! The data a wasmtime store carries for one plugin instance, and the
//! host side of a run that every way of running a plugin shares.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::backend::Transaction;
use crate::clock::{Clock, Randomness};
use crate::limits::{Limits, MemoryCap};
use crate::plugin::Catalog;
use crate::records::{ChangeRecord, LogLine};

/// What the instance is doing, which decides what its imports may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Running an action: storage and entity writes are allowed.
    Action,
    /// Deriving events from recorded changes: the deriver must be a pure
    /// function of the change, so storage and the entity engine refuse.
    Derive,
}

/// The state of the run an instance is serving.
pub(crate) struct RunState {
    pub txn: Box<dyn Transaction>,
    pub run_id: String,
    pub phase: Phase,
    pub clock: Arc<dyn Clock>,
    pub randomness: Arc<Randomness>,
    /// `kind/id` of the mutation that is open, if one is.
    pub open_mutation: Option<String>,
    /// `kind/id` of a mutation the plugin dropped without ending it: a
    /// broken protocol, which fails the run.
    pub dropped_mutation: Option<String>,
    /// The changes recorded so far, unmasked.
    pub changes: Vec<ChangeRecord>,
    pub logs: Vec<LogLine>,
    pub log_bytes: usize,
}

/// The host side of a plugin's runs: its catalog and the run it is
/// serving. Storage, the entity engine and the log are implemented on it
/// without wasm types, so a wasm instance and a native plugin go through
/// the same engine.
pub(crate) struct Session {
    pub catalog: Arc<Catalog>,
    pub run: Option<RunState>,
}

impl Session {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog, run: None }
    }

    /// The key space of the plugin's own keys.
    pub fn plugin_space(&self) -> String {
        format!("plugin/{}", self.catalog.id)
    }

    /// The key space of the entity engine's current states.
    pub fn entity_space(&self) -> String {
        format!("entity/{}", self.catalog.id)
    }
}

/// The store data of one instance.
pub(crate) struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub session: Session,
    /// What the guest wrote to stderr, such as a panic message.
    pub stderr: MemoryOutputPipe,
    /// How much of `stderr` earlier runs of a reused instance wrote, so a
    /// report quotes only the current run.
    pub stderr_seen: usize,
    pub memory: MemoryCap,
    /// The limits this instance runs under, for error reports.
    pub limits: Limits,
}

impl HostState {
    /// What the guest wrote to stderr during the current run.
    pub fn stderr_text(&self) -> String {
        let contents = self.stderr.contents();
        let current = contents.get(self.stderr_seen..).unwrap_or_default();
        String::from_utf8_lossy(current).trim().to_owned()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
