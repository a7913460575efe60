//! The `automation-harness` binary as the process tests run it.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The CLI ([`binary`]), with a compiled-plugin cache of the tests' own,
/// filled once so that no process compiles while it is timed or killed.
pub fn harness() -> Command {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        let cache = tempfile::tempdir().expect("a temporary directory");
        let output = binary()
            .env("AUTOMATION_HARNESS_CACHE", cache.path())
            .arg("describe")
            .output()
            .expect("the binary runs");
        assert!(output.status.success(), "describe");
        cache
    });
    let mut command = binary();
    command.env("AUTOMATION_HARNESS_CACHE", cache.path());
    command
}

/// The CLI binary, with no store named by the environment: a developer's
/// `AUTOMATION_HARNESS_STORE` must not point the tests at a database.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_automation-harness"));
    command.env_remove("AUTOMATION_HARNESS_STORE");
    command
}

/// A command's standard output as JSON, or a panic showing both streams.
pub fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// `automation-harness <args> batch ...` (`args` may name plugins before
/// the command and the store after it, as given), fed `lines` from a
/// thread so that several batches start at once; its output goes to
/// `stdout`.
pub fn batch(args: &[&str], lines: Vec<Value>, stdout: Stdio) -> Child {
    let mut child = harness()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("batch starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    std::thread::spawn(move || {
        for line in lines {
            if writeln!(input, "{line}").is_err() {
                return;
            }
        }
    });
    child
}

/// The outcomes a batch printed, once it ended successfully.
pub fn finish(child: Child) -> Vec<Value> {
    let output = child.wait_with_output().expect("batch ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
        .stdout
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("a JSON line"))
        .collect()
}
