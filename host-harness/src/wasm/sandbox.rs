//! The sandbox's enforcement of [`Limits`]: the engine (epoch interruption,
//! optional fuel, the pooling allocator), the store's memory and table
//! cap, and the run's deadline around every call into the guest.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Instant;

use wasmtime::{Engine, ResourceLimiter};

use crate::limits::{EPOCH_TICK, KEEP_RESIDENT_BYTES, Limits, MAX_TABLE_ELEMENTS, POOL_INSTANCES};

/// When a call started now must end: the one place a deadline is armed.
/// A run arms it once it holds the store's write lock, so waiting for
/// another writer does not count; loading arms it for instantiation and
/// `definitions()` together.
pub(crate) fn arm_deadline(limits: &Limits) -> Instant {
    Instant::now() + limits.deadline
}

/// Runs `call`, a call into the guest, until it returns or `deadline`
/// passes: the one place a run's deadline is enforced.
///
/// Why a timer around async calls: wasmtime checks the epoch only in wasm
/// code, so a guest waiting inside a WASI host call (a sleep, a `poll` on
/// a far clock subscription, a blocking stream operation) never reaches a
/// check and would hold the run's write lock for as long as it asked to
/// wait. With calls into the guest as futures (async exports, WASI linked
/// async), a host call that waits is a pending future, and one timer around
/// the whole call bounds every way of waiting at once, including any a
/// later WASI version adds, where replacing each blocking host function
/// would have to find them all. A guest that computes instead yields at
/// every epoch tick ([`EPOCH_TICK`]), which gives the same timer its turn,
/// so both stop within a tick of the deadline on the real clock (epoch
/// ticks themselves drift late under load). When the timer fires the call
/// is dropped, which unwinds the guest; its instance is never used again.
/// A timeout is reported as [`wasmtime::Trap::Interrupt`], worded in one
/// place (`store::trap_report`).
pub(crate) fn bounded<R>(
    deadline: Instant,
    call: impl Future<Output = wasmtime::Result<R>>,
) -> wasmtime::Result<R> {
    wasmtime_wasi::runtime::in_tokio(async {
        match tokio::time::timeout_at(deadline.into(), call).await {
            Ok(result) => result,
            Err(_elapsed) => Err(wasmtime::Error::new(wasmtime::Trap::Interrupt)),
        }
    })
}

/// Caps linear memory and tables, and remembers when it refused, so the
/// trap that follows can be reported as what it is.
pub(crate) struct MemoryCap {
    pub limit: usize,
    pub refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// How an engine is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Meter runs in instructions, so [`Limits::fuel`] can stop them;
    /// costs some speed.
    pub fuel: bool,
    /// Take instances from a pre-reserved pool of memories and tables
    /// (see [`POOL_INSTANCES`]) instead of mapping them one by one, which
    /// makes a fresh instance per run cheap.
    pub pooling: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            fuel: false,
            pooling: true,
        }
    }
}

/// An engine with epoch interruption on, whose epoch a background thread
/// advances every [`EPOCH_TICK`] for as long as the engine lives.
pub fn engine(options: EngineOptions) -> anyhow::Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(options.fuel);
    if options.pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        // A Rust component is a handful of core instances (the program and
        // the adapter shims), each with at most one memory and one table.
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .table_elements(MAX_TABLE_ELEMENTS)
            // A freed slot is zeroed in place up to this size rather than
            // handed back to the kernel, so the next run's instance does not
            // fault its memory in page by page.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES)
            // Each call into a guest runs on a stack of its own (see
            // `bounded`); a run holds at most one at a time.
            .total_stacks(POOL_INSTANCES);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = Engine::new(&config).map_err(|error| anyhow::anyhow!("{error:#}"))?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}

/// The process-wide default engine: epoch interruption and pooling on, no
/// fuel.
pub fn default_engine() -> anyhow::Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    let engine = engine(EngineOptions::default())?;
    Ok(ENGINE.get_or_init(|| engine).clone())
}

#[cfg(test)]
mod tests {
    use super::{EngineOptions, MemoryCap, engine};
    use crate::limits::MAX_TABLE_ELEMENTS;

    /// A core module with one table and `grow(n)`, which runs
    /// `table.grow` by `n` and returns the old size, or -1 when refused:
    /// `(module (table 1 funcref) (func (export "grow") (param i32)
    /// (result i32) ref.null func local.get 0 table.grow 0))`.
    const TABLE_GROWER: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type: (i32) -> i32
        0x03, 0x02, 0x01, 0x00, // function 0 has type 0
        0x04, 0x04, 0x01, 0x70, 0x00, 0x01, // table: funcref, min 1
        0x07, 0x08, 0x01, 0x04, b'g', b'r', b'o', b'w', 0x00, 0x00, // export "grow"
        0x0a, 0x0b, 0x01, 0x09, 0x00, // code: one body, no locals
        0xd0, 0x70, // ref.null func
        0x20, 0x00, // local.get 0
        0xfc, 0x0f, 0x00, // table.grow 0
        0x0b, // end
    ];

    /// Grows a fresh instance's table by `first`, then by `second`, under
    /// the store limiter every plugin instance gets.
    fn grow_twice(options: EngineOptions, first: i32, second: i32) -> (i32, i32, bool) {
        let engine = engine(options).unwrap();
        let module = wasmtime::Module::new(&engine, TABLE_GROWER).unwrap();
        let mut store = wasmtime::Store::new(
            &engine,
            MemoryCap {
                limit: 64 << 20,
                refused: false,
            },
        );
        store.limiter(|cap| cap);
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let grow = instance
            .get_typed_func::<i32, i32>(&mut store, "grow")
            .unwrap();
        let a = grow.call(&mut store, first).unwrap();
        let b = grow.call(&mut store, second).unwrap();
        (a, b, store.data().refused)
    }

    #[test]
    fn tables_are_capped() {
        let cap = MAX_TABLE_ELEMENTS as i32;
        for pooling in [false, true] {
            let options = EngineOptions {
                pooling,
                ..EngineOptions::default()
            };
            // Up to the cap is fine: from 1 element to exactly the cap.
            assert_eq!(grow_twice(options, cap - 2, 1), (1, cap - 1, false));
            // One element past it is refused, and the limiter says so, so
            // the trap that follows is reported as a limit.
            let (first, second, refused) = grow_twice(options, cap - 1, 1);
            assert_eq!((first, second), (1, -1), "pooling: {pooling}");
            assert!(refused, "pooling: {pooling}: the limiter refused");
        }
    }
}
