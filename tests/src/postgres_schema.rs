//! The PostgreSQL database the tests run on: its URL comes from
//! `AUTOMATION_HARNESS_TEST_POSTGRES` (`scripts/postgres.sh start` prints
//! one; `.ci/run` sets it), and each test gets a schema of its own, dropped
//! when the test ends. Under `CI=true` a missing URL fails the test;
//! elsewhere the PostgreSQL tests are skipped, saying so once per test
//! binary.

use std::sync::Once;

/// The variable holding the test database's URL.
pub const VAR: &str = "AUTOMATION_HARNESS_TEST_POSTGRES";

/// The test database's URL; `None` (after one loud line) when there is
/// none outside CI. Panics under `CI=true` without one.
pub fn url() -> Option<String> {
    match std::env::var(VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!(
                "{VAR} is not set: under CI=true the PostgreSQL tests must run (.ci/run starts a server)"
            )
        }
        _ => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to the process's stderr: the test runner
                // captures `eprintln!` of tests that pass.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "SKIPPING the PostgreSQL tests of this binary: {VAR} is not set \
                     (`scripts/postgres.sh start` starts a server and prints its URL)"
                );
            });
            None
        }
    }
}

/// A schema of one test, dropped with everything in it when dropped.
pub struct Schema {
    /// The database URL with the schema as its search path.
    pub url: String,
    name: String,
    base: String,
}

impl Schema {
    /// A new, empty schema; `None` when there is no test database.
    pub fn create() -> Option<Self> {
        let base = url()?;
        let name = format!("test_{}", uuid_like());
        let mut client = postgres::Client::connect(&base, postgres::NoTls)
            .unwrap_or_else(|error| panic!("the test database at {VAR} answers: {error}"));
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("the test schema is created");
        let separator = if base.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{base}{separator}options=-csearch_path%3D{name}"),
            name,
            base,
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
        }
    }
}

/// A name no other test of any process picks at the same time.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
