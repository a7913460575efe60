//! Crash injection for the crash-safety tests, compiled into debug builds
//! only: `AUTOMATION_HARNESS_CRASH_AT=before-commit:<n>` aborts the process
//! right before the n-th commit of a run to the store,
//! `AUTOMATION_HARNESS_CRASH_AT=before-print:<n>` right before the n-th
//! outcome is printed (n counts from 1 in each process). A release build
//! ignores the variable.

use std::sync::Arc;

use automation_harness::Backend;

/// The environment variable debug builds read.
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub const VAR: &str = "AUTOMATION_HARNESS_CRASH_AT";

/// Reads the crash plan from the environment; a malformed one is an error.
pub fn init() -> anyhow::Result<()> {
    #[cfg(debug_assertions)]
    imp::init()?;
    Ok(())
}

/// The store the CLI runs against: `backend`, wrapped in debug builds so
/// that a crash can be injected right before a run commits.
pub fn store(backend: Arc<dyn Backend>) -> Arc<dyn Backend> {
    #[cfg(debug_assertions)]
    if let Some(n) = imp::planned(imp::Point::BeforeCommit) {
        return Arc::new(imp::CrashingBackend::new(backend, n));
    }
    backend
}

/// Called right before an outcome is printed.
pub fn before_print() {
    #[cfg(debug_assertions)]
    imp::reached(imp::Point::BeforePrint);
}

#[cfg(debug_assertions)]
mod imp {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    use anyhow::{Context as _, anyhow};
    use automation_harness::backend::{Savepoint, Transaction};
    use automation_harness::{Backend, ChangeRecord, EventRecord, StoreSnapshot};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Point {
        BeforeCommit,
        BeforePrint,
    }

    static PLAN: OnceLock<Option<(Point, u64)>> = OnceLock::new();
    static PRINTS: AtomicU64 = AtomicU64::new(0);

    pub fn init() -> anyhow::Result<()> {
        let plan = match std::env::var(super::VAR) {
            Ok(text) => Some(parse(&text).with_context(|| format!("{}={text:?}", super::VAR))?),
            Err(_) => None,
        };
        let _ = PLAN.set(plan);
        Ok(())
    }

    fn parse(text: &str) -> anyhow::Result<(Point, u64)> {
        let (point, n) = text
            .split_once(':')
            .ok_or_else(|| anyhow!("expected before-commit:<n> or before-print:<n>"))?;
        let point = match point {
            "before-commit" => Point::BeforeCommit,
            "before-print" => Point::BeforePrint,
            other => anyhow::bail!("unknown crash point {other:?}"),
        };
        let n: u64 = n.parse().context("the count is not a number")?;
        anyhow::ensure!(n >= 1, "the count starts at 1");
        Ok((point, n))
    }

    pub fn planned(point: Point) -> Option<u64> {
        match PLAN.get().copied().flatten() {
            Some((planned, n)) if planned == point => Some(n),
            _ => None,
        }
    }

    /// Dies like a killed process: no destructor, no flush, no rollback.
    fn crash() -> ! {
        std::process::abort()
    }

    pub fn reached(point: Point) {
        if let Some(n) = planned(point)
            && PRINTS.fetch_add(1, Ordering::SeqCst) + 1 == n
        {
            crash();
        }
    }

    /// A store whose n-th commit never happens: the process dies right
    /// before it.
    pub struct CrashingBackend {
        inner: std::sync::Arc<dyn Backend>,
        commits: std::sync::Arc<AtomicU64>,
        crash_at: u64,
    }

    impl CrashingBackend {
        pub fn new(inner: std::sync::Arc<dyn Backend>, crash_at: u64) -> Self {
            Self {
                inner,
                commits: Default::default(),
                crash_at,
            }
        }
    }

    impl Backend for CrashingBackend {
        fn begin(&self) -> anyhow::Result<Box<dyn Transaction>> {
            Ok(Box::new(CrashingTransaction {
                inner: self.inner.begin()?,
                commits: self.commits.clone(),
                crash_at: self.crash_at,
            }))
        }

        fn changes(&self) -> anyhow::Result<Vec<ChangeRecord>> {
            self.inner.changes()
        }

        fn events(&self) -> anyhow::Result<Vec<EventRecord>> {
            self.inner.events()
        }

        fn snapshot(&self) -> anyhow::Result<StoreSnapshot> {
            self.inner.snapshot()
        }
    }

    struct CrashingTransaction {
        inner: Box<dyn Transaction>,
        commits: std::sync::Arc<AtomicU64>,
        crash_at: u64,
    }

    impl Transaction for CrashingTransaction {
        fn get(&mut self, space: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
            self.inner.get(space, key)
        }

        fn set(&mut self, space: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
            self.inner.set(space, key, value)
        }

        fn delete(&mut self, space: &str, key: &str) -> anyhow::Result<bool> {
            self.inner.delete(space, key)
        }

        fn scan(
            &mut self,
            space: &str,
            prefix: &str,
            after: Option<&str>,
            limit: usize,
        ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
            self.inner.scan(space, prefix, after, limit)
        }

        fn savepoint(&mut self) -> anyhow::Result<Savepoint> {
            self.inner.savepoint()
        }

        fn rollback_to(&mut self, savepoint: Savepoint) -> anyhow::Result<()> {
            self.inner.rollback_to(savepoint)
        }

        fn append_change(&mut self, change: &ChangeRecord) -> anyhow::Result<()> {
            self.inner.append_change(change)
        }

        fn append_event(&mut self, event: &EventRecord) -> anyhow::Result<()> {
            self.inner.append_event(event)
        }

        fn commit(self: Box<Self>) -> anyhow::Result<()> {
            if self.commits.fetch_add(1, Ordering::SeqCst) + 1 == self.crash_at {
                crash();
            }
            self.inner.commit()
        }
    }
}
