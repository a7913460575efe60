//! The data a wasmtime store carries for one plugin instance, and the
//! store itself: WASI with nothing granted but the host's clocks and
//! randomness, the memory cap, the epoch yield, and how a stopped guest
//! is reported.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::sandbox::MemoryCap;
use crate::catalog::Catalog;
use crate::clock::{Clock, epoch_nanos};
use crate::engine::Session;
use crate::limits::{Limits, STDERR_CAPACITY, format_bytes};

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

/// Serves a [`Clock`] as WASI's wall clock.
pub(crate) struct WasiWallClock(pub Arc<dyn Clock>);

impl wasmtime_wasi::HostWallClock for WasiWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(epoch_nanos(self.0.now()))
    }
}

/// Serves a [`Clock`] as WASI's monotonic clock, so a fixed clock stops
/// both; time never runs backwards within a run because the clock only
/// moves between runs.
pub(crate) struct WasiMonotonicClock(pub Arc<dyn Clock>);

impl wasmtime_wasi::HostMonotonicClock for WasiMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        epoch_nanos(self.0.now())
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
            format_bytes(limits.memory_bytes)
        );
    }
    let stderr = state.stderr_text();
    let reason = match trap {
        Some(wasmtime::Trap::StackOverflow) => "stack overflow".to_owned(),
        // A trap displays as `wasm trap: …` already.
        Some(trap) => trap.to_string(),
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
