//! The Node host's package (`host-harness/js`), installed and compiled
//! once per test or bench binary, for the tests and the benchmark that
//! hold it to the Rust host's behaviour and speed.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The package's folder.
pub fn package() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("host-harness")
        .join("js")
}

fn npm(arguments: &[&str]) -> Output {
    Command::new("npm")
        .args(arguments)
        .current_dir(package())
        .output()
        .unwrap_or_else(|error| panic!("cannot run npm (Node 20 and npm are needed): {error}"))
}

/// Panics with everything `output` printed unless it succeeded.
pub fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Installs the package's dependencies from its lockfile when they are
/// missing (`npm ci`), then compiles it (`npm run build`), once.
pub fn built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if !package()
            .join("node_modules")
            .join(".package-lock.json")
            .exists()
        {
            succeeded("npm ci", &npm(&["ci", "--no-audit", "--no-fund"]));
        }
        succeeded("npm run build", &npm(&["run", "--silent", "build"]));
    });
}

/// `node <script> <arguments>` in the package's folder, once it is built.
pub fn node(script: &str, arguments: &[&str]) -> Command {
    built();
    let mut command = Command::new("node");
    command.arg(script).args(arguments).current_dir(package());
    command
}
