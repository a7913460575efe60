//! The Node host's package (`host-harness/js`), installed and compiled
//! once per test or bench binary, for the tests and the benchmark that
//! hold it to the Rust host's behaviour and speed.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// Runs `command` to its end, or kills it after `within` and panics: a
/// Node host that leaves a worker running never exits, and a test must
/// fail rather than hang.
pub fn output_within(mut command: Command, within: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            break status;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = stdout.join().unwrap_or_default();
            panic!(
                "still running after {within:?}, killed:\n{}",
                String::from_utf8_lossy(&stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}
