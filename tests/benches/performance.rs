//! What the sandbox costs: start-up, instantiation, each action in a fresh
//! instance, in a reused instance and as native code through the same
//! engine and store, throughput on SQLite, and latency on a large store.
//! The same actions on the Node host (`host-harness/js`, the component
//! transpiled with jco) are timed in the same run, next to the Rust
//! host's. It prints figures and asserts nothing but that the runs succeed;
//! `BENCHMARKS.md` records a run.
//!
//! `cargo bench -p integration-tests --bench performance`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automation_harness::cache::ComponentCache;
use automation_harness::{
    Automations, Backend, EngineOptions, Harness, InstanceMode, MemoryBackend, Plugin,
    QueryRequest, RunOutcome, RunRequest, SqliteBackend,
};
use integration_tests::native::NATIVE_MAINTENANCE;
use integration_tests::node_host;
use integration_tests::{PLUGIN_WASM, create_config, external_id, now};
use serde_json::{Value, json};

/// How much each section measures.
#[derive(Clone, Copy)]
struct Sizes {
    /// Runs per action and mode; the median is reported.
    action_samples: usize,
    start_samples: usize,
    instantiation_samples: usize,
    throughput_runs: usize,
    scale_windows: usize,
    scale_samples: usize,
    /// Automation runs per round of the automations section.
    automation_runs: usize,
}

/// What `cargo bench` measures.
const FULL: Sizes = Sizes {
    action_samples: 400,
    start_samples: 20,
    instantiation_samples: 5_000,
    throughput_runs: 2_000,
    scale_windows: 100_000,
    scale_samples: 300,
    automation_runs: 500,
};

/// What `cargo test --benches` runs: every section and assert, in
/// seconds; its figures mean nothing.
const SMOKE: Sizes = Sizes {
    action_samples: 3,
    start_samples: 2,
    instantiation_samples: 10,
    throughput_runs: 10,
    scale_windows: 20,
    scale_samples: 3,
    automation_runs: 4,
};

const ACTIONS: [&str; 5] = [
    "create",
    "update",
    "add_update",
    "set_system",
    "clear_system",
];

/// How an action is run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Fresh,
    Reused,
    Native,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn run(harness: &Harness, mode: Mode, request: RunRequest) -> RunOutcome {
    let outcome = match mode {
        Mode::Native => harness.run_native(&NATIVE_MAINTENANCE, request),
        Mode::Fresh | Mode::Reused => harness.run(request),
    }
    .unwrap_or_else(|error| panic!("{error:#}"));
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    outcome
}

fn harness_on(plugin: &Plugin, backend: Arc<dyn Backend>, mode: Mode) -> Harness {
    Harness::builder()
        .backend(backend)
        .fixed_clock(now())
        .seed(11)
        .instance_mode(match mode {
            Mode::Reused => InstanceMode::Reuse,
            Mode::Fresh | Mode::Native => InstanceMode::Fresh,
        })
        .with_plugin(plugin.clone())
}

const MODES: [Mode; 3] = [Mode::Fresh, Mode::Reused, Mode::Native];

/// The config of the `n`th timed run of `action`; `window` is the window
/// `update` and `add_update` edit, each run changing it so that every run
/// records a change and fires an event.
fn action_config(action: &str, window: &str, n: usize) -> Value {
    match action {
        "create" => create_config(&["db-1", "db-2"]),
        "update" => json!({
            "maintenanceId": window,
            "title": format!("title {n}"),
            "systemIds": [format!("db-{n}")],
        }),
        "add_update" => json!({
            "maintenanceId": window,
            "message": format!("note {n}"),
            "statusChange": if n.is_multiple_of(2) { "in_progress" } else { "scheduled" },
        }),
        "set_system" => json!({"systemId": format!("sys-{n}"), "durationMinutes": 30}),
        _ => json!({"systemId": format!("sys-{n}")}),
    }
}

/// Median latency of each action in each of [`MODES`], each mode on its
/// own in-memory store holding one window. The modes take turns run by
/// run, so a machine that slows down or speeds up affects them alike.
/// `clear_system` is timed on a system `set_system` parked just before,
/// untimed.
fn action_latencies(plugin: &Plugin, sizes: Sizes) -> Vec<[Duration; 3]> {
    ACTIONS
        .iter()
        .map(|action| {
            let harnesses = MODES.map(|mode| {
                let harness = harness_on(plugin, Arc::new(MemoryBackend::new()), mode);
                let window = external_id(&run(
                    &harness,
                    mode,
                    RunRequest::new("create", create_config(&["db-1"])),
                ));
                (harness, window)
            });
            let mut samples: [Vec<Duration>; 3] = Default::default();
            // The first round is untimed: it warms the reused instance.
            for n in 0..=sizes.action_samples {
                for (index, mode) in MODES.iter().enumerate() {
                    let (harness, window) = &harnesses[index];
                    if *action == "clear_system" {
                        run(
                            harness,
                            *mode,
                            RunRequest::new(
                                "set_system",
                                json!({"systemId": format!("sys-{n}"), "durationMinutes": 30}),
                            ),
                        );
                    }
                    let request = RunRequest::new(*action, action_config(action, window, n));
                    let started = Instant::now();
                    let outcome = run(harness, *mode, request);
                    let elapsed = started.elapsed();
                    assert_eq!(outcome.events.len(), 1, "{action} fires one event");
                    if n > 0 {
                        samples[index].push(elapsed);
                    }
                }
            }
            samples.map(median)
        })
        .collect()
}

fn starts(path: &Path, sizes: Sizes) {
    let bytes = std::fs::read(path).expect("the component");
    println!(
        "Component: {} bytes ({:.1} KiB)",
        bytes.len(),
        bytes.len() as f64 / 1024.0
    );

    let engine = automation_harness::default_engine().expect("an engine");
    let mut cold = Vec::new();
    let mut warm_component = Vec::new();
    let mut warm_plugin = Vec::new();
    for _ in 0..sizes.start_samples {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cache = ComponentCache::new(dir.path().to_path_buf());
        let started = Instant::now();
        Plugin::load_cached(&engine, path, &cache).expect("cold load");
        cold.push(started.elapsed());

        let started = Instant::now();
        let (component, _) = cache.load(&engine, &bytes).expect("cached component");
        warm_component.push(started.elapsed());
        drop(component);

        let started = Instant::now();
        Plugin::load_cached(&engine, path, &cache).expect("warm load");
        warm_plugin.push(started.elapsed());
    }
    println!(
        "\nStart-up (median of {}, pooling engine)",
        sizes.start_samples
    );
    println!(
        "  cold: compile, cache, link, read catalog  {:>9.2} ms",
        millis(median(cold))
    );
    println!(
        "  warm: cached component loaded             {:>9.3} ms",
        millis(median(warm_component))
    );
    println!(
        "  warm: + linked, catalog read and checked  {:>9.3} ms",
        millis(median(warm_plugin))
    );
}

fn instantiation(path: &Path, sizes: Sizes) {
    println!(
        "\nInstantiation (median of {}, store + instance, nothing run; allocators \
         interleaved; teardown, where the pooled slot is reset, timed apart)",
        sizes.instantiation_samples
    );
    let allocators = [("pooling allocator", true), ("on-demand allocator", false)];
    let harnesses = allocators.map(|(_, pooling)| {
        let engine = automation_harness::wasm::engine(EngineOptions {
            pooling,
            ..Default::default()
        })
        .expect("an engine");
        let plugin = Plugin::load(&engine, path).expect("the plugin loads");
        Harness::builder().with_plugin(plugin)
    });
    let mut created: [Vec<Duration>; 2] = Default::default();
    let mut dropped: [Vec<Duration>; 2] = Default::default();
    for _ in 0..sizes.instantiation_samples {
        for (index, harness) in harnesses.iter().enumerate() {
            let started = Instant::now();
            let instance = harness.instantiate().expect("instantiates");
            created[index].push(started.elapsed());
            let started = Instant::now();
            drop(instance);
            dropped[index].push(started.elapsed());
        }
    }
    println!("  {:<20} {:>12} {:>12}", "", "instantiate", "teardown");
    for (((name, _), created), dropped) in allocators.iter().zip(created).zip(dropped) {
        println!(
            "  {name:<20} {:>9.1} µs {:>9.1} µs",
            micros(median(created)),
            micros(median(dropped))
        );
    }
}

fn actions(plugin: &Plugin, sizes: Sizes) {
    let latencies = action_latencies(plugin, sizes);
    println!(
        "\nPer-action latency, in-memory store (median of {}, µs, whole run: \
         config check, engine, derive, commit; modes interleaved)",
        sizes.action_samples
    );
    println!(
        "  {:<13} {:>9} {:>9} {:>9} {:>14} {:>16}",
        "action", "fresh", "reused", "native", "reused/native", "fresh-reused µs"
    );
    for (action, [fresh, reused, native]) in ACTIONS.iter().zip(latencies) {
        println!(
            "  {:<13} {:>9.1} {:>9.1} {:>9.1} {:>14.2} {:>16.1}",
            action,
            micros(fresh),
            micros(reused),
            micros(native),
            reused.as_secs_f64() / native.as_secs_f64(),
            micros(fresh) - micros(reused),
        );
    }
}

/// Per-action latency on the Node host next to the Rust host's, same
/// component, same machine, one run: the Rust modes first, then the Node
/// host's own timing loop (`npm run bench`), which times the same actions
/// with the same configs the same way.
fn node(path: &Path, plugin: &Plugin, sizes: Sizes) {
    let rust = action_latencies(plugin, sizes);
    let samples = sizes.action_samples.to_string();
    let path = path.to_str().expect("a UTF-8 path");
    let output = node_host::node(
        "dist/bench.js",
        &["--samples", &samples, "--plugin", path, "--json"],
    )
    .output()
    .expect("node runs");
    node_host::succeeded("the Node host's bench", &output);
    let node: Value = serde_json::from_slice(&output.stdout).expect("the Node bench prints JSON");
    println!(
        "\nPer-action latency, Rust host against Node host (median of {}, µs, whole run as the \
         caller sees it, in-memory store; Node: jco-transpiled, run in a worker thread)",
        sizes.action_samples
    );
    println!(
        "  {:<13} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "action", "Rust fresh", "Rust reuse", "Node fresh", "Node reuse", "fresh ×", "reuse ×"
    );
    for (action, [fresh, reused, _]) in ACTIONS.iter().zip(rust) {
        let node_fresh = node[action]["fresh"].as_f64().expect("a figure");
        let node_reused = node[action]["reuse"].as_f64().expect("a figure");
        println!(
            "  {:<13} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>12.1} {:>12.1}",
            action,
            micros(fresh),
            micros(reused),
            node_fresh,
            node_reused,
            node_fresh / micros(fresh),
            node_reused / micros(reused),
        );
    }
}

fn throughput(plugin: &Plugin, sizes: Sizes) {
    // Where the file lives decides what an fsync costs (nothing on
    // tmpfs): name it. TMPDIR moves it.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let backend: Arc<dyn Backend> =
        Arc::new(SqliteBackend::open(&dir.path().join("store.sqlite3")).expect("SQLite opens"));
    let harness = harness_on(plugin, backend, Mode::Fresh);
    let window = external_id(&run(
        &harness,
        Mode::Fresh,
        RunRequest::new("create", create_config(&["db-1"])),
    ));
    let started = Instant::now();
    for n in 0..sizes.throughput_runs {
        let system = format!("sys-{}", n % 50);
        let (action, config) = match n % 5 {
            0 => ("create", create_config(&["db-1"])),
            1 => (
                "update",
                json!({"maintenanceId": window, "title": format!("t{n}")}),
            ),
            2 => (
                "add_update",
                json!({"maintenanceId": window, "message": format!("m{n}")}),
            ),
            3 => (
                "set_system",
                json!({"systemId": system, "durationMinutes": 30}),
            ),
            _ => (
                "clear_system",
                json!({"systemId": format!("sys-{}", (n - 1) % 50)}),
            ),
        };
        run(&harness, Mode::Fresh, RunRequest::new(action, config));
    }
    let elapsed = started.elapsed();
    let runs = sizes.throughput_runs;
    println!(
        "\nThroughput on SQLite (WAL, synchronous=FULL; one thread; fresh instances; the five \
         actions in turn; store in {} on {})",
        dir.path().display(),
        file_system_of(dir.path())
    );
    println!(
        "  {runs} runs in {:.2} s: {:.0} runs/s ({:.0} µs per run)",
        elapsed.as_secs_f64(),
        runs as f64 / elapsed.as_secs_f64(),
        micros(elapsed) / runs as f64
    );
}

/// The type of the file system `path` is on, from the longest matching
/// mount point in /proc/mounts.
fn file_system_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, mount_point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount_point)
                .then(|| (mount_point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "an unknown file system".into(), |(_, kind)| kind)
}

/// The commit the bench was built from, with `+dirty` for local changes.
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(head) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(status) if !status.is_empty() => format!("{head}+dirty"),
            _ => head,
        },
        None => "unknown".into(),
    }
}

/// A harness whose store holds `windows` windows of other systems.
/// Filling goes through the native build: the same engine and keys,
/// faster.
fn store_with_windows(plugin: &Plugin, windows: usize) -> Harness {
    let harness = harness_on(plugin, Arc::new(MemoryBackend::new()), Mode::Fresh);
    for n in 0..windows {
        run(
            &harness,
            Mode::Native,
            RunRequest::new(
                "set_system",
                json!({"systemId": format!("other-{n}"), "durationMinutes": 600}),
            ),
        );
    }
    harness
}

/// `set_system` then `clear_system` of one system, with fresh instances.
fn park_and_clear(harness: &Harness) -> Duration {
    let started = Instant::now();
    run(
        harness,
        Mode::Fresh,
        RunRequest::new(
            "set_system",
            json!({"systemId": "target", "durationMinutes": 30}),
        ),
    );
    let cleared = run(
        harness,
        Mode::Fresh,
        RunRequest::new("clear_system", json!({"systemId": "target"})),
    );
    let elapsed = started.elapsed();
    assert_eq!(cleared.events.len(), 1);
    elapsed
}

fn scale(plugin: &Plugin, sizes: Sizes) {
    let stores = [
        store_with_windows(plugin, 0),
        store_with_windows(plugin, sizes.scale_windows),
    ];
    let mut samples: [Vec<Duration>; 2] = Default::default();
    for round in 0..=sizes.scale_samples {
        for (harness, samples) in stores.iter().zip(samples.iter_mut()) {
            let elapsed = park_and_clear(harness);
            if round > 0 {
                samples.push(elapsed);
            }
        }
    }
    let [empty, large] = samples.map(median);
    println!(
        "\nScale: set_system + clear_system of one system, fresh instances, in-memory store \
         (median of {}, stores interleaved)",
        sizes.scale_samples
    );
    println!(
        "  empty store                      {:>9.1} µs",
        micros(empty)
    );
    println!(
        "  {} windows of other systems {:>9.1} µs",
        sizes.scale_windows,
        micros(large)
    );
    println!("  ratio: {:.2}", large.as_secs_f64() / empty.as_secs_f64());
}

/// One step's config: a notification naming `subject`.
/// How many windows of the listed system each store of the queries
/// section holds.
const LISTED_WINDOWS: usize = 20;

/// Read-only queries on a store holding one system's windows, against the
/// same with many windows of other systems: `list` and
/// `active_for_system` read that system's index only, so the ratio stays
/// near 1.
fn queries(plugin: &Plugin, sizes: Sizes) {
    let stores = [
        store_with_windows(plugin, 0),
        store_with_windows(plugin, sizes.scale_windows),
    ];
    for harness in &stores {
        for _ in 0..LISTED_WINDOWS {
            run(
                harness,
                Mode::Native,
                RunRequest::new(
                    "set_system",
                    json!({"systemId": "listed", "durationMinutes": 30}),
                ),
            );
        }
    }
    let asked = [
        ("list", json!({"systemId": "listed"})),
        ("active_for_system", json!({"systemId": "listed"})),
    ];
    println!(
        "\nQueries: {LISTED_WINDOWS} windows of one system, alone and among {} windows of other \
         systems (fresh instances, in-memory store, median of {}, stores interleaved, µs)",
        sizes.scale_windows, sizes.scale_samples
    );
    println!(
        "  {:<20} {:>10} {:>14} {:>7}",
        "query", "alone", "among others", "ratio"
    );
    for (query, input) in asked {
        let mut samples: [Vec<Duration>; 2] = Default::default();
        for round in 0..=sizes.scale_samples {
            for (harness, samples) in stores.iter().zip(samples.iter_mut()) {
                let started = Instant::now();
                let outcome = harness
                    .query(QueryRequest::new(query, input.clone()))
                    .expect("the query runs");
                let elapsed = started.elapsed();
                let windows = outcome.result.expect("the query answers")["windows"]
                    .as_array()
                    .map_or(0, Vec::len);
                assert_eq!(windows, LISTED_WINDOWS, "{query} sees the listed windows");
                if round > 0 {
                    samples.push(elapsed);
                }
            }
        }
        let [alone, among] = samples.map(median);
        println!(
            "  {:<20} {:>10.1} {:>14.1} {:>7.2}",
            query,
            micros(alone),
            micros(among),
            among.as_secs_f64() / alone.as_secs_f64()
        );
    }
}

fn notification(subject: &str) -> Value {
    json!({"channel": "#ops", "subject": subject})
}

/// What dispatching costs: a single-step automation run (notifications.send)
/// against running the same action directly, both with fresh instances on
/// one SQLite store, in alternating rounds; and events turned into
/// finished automation runs per second.
fn automations(plugin: &Plugin, sizes: Sizes) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let backend: Arc<dyn Backend> =
        Arc::new(SqliteBackend::open(&dir.path().join("store.sqlite3")).expect("SQLite opens"));
    let notifications = Plugin::load(
        &automation_harness::default_engine().expect("an engine"),
        Path::new(integration_tests::NOTIFICATIONS_PLUGIN_WASM),
    )
    .expect("the notifications plugin loads");
    let host = Harness::builder()
        .backend(backend)
        .fixed_clock(now())
        .with_plugins(vec![plugin.clone(), notifications])
        .expect("the plugins load side by side");
    let document = json!({"automations": [{
        "id": "announce",
        "trigger": "maintenance.created",
        "steps": [{"id": "send", "action": "notifications.send",
                   "config": notification("{{trigger.payload.maintenanceId}}")}]
    }]});
    let checked = Automations::from_document("bench", &document, &host.catalogs())
        .expect("the automation loads");
    let host = host.with_automations(checked);
    let rounds = 4;
    let per_round = sizes.automation_runs.div_ceil(rounds);
    let (mut direct, mut dispatched, mut triggering) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut next = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..per_round {
            next += 1;
            let outcome = host
                .run(RunRequest::new(
                    "notifications.send",
                    notification(&format!("direct {next}")),
                ))
                .expect("send runs");
            assert!(outcome.is_ok());
        }
        direct += started.elapsed();
        // The runs that record the automation runs, timed on their own.
        let started = Instant::now();
        for _ in 0..per_round {
            next += 1;
            let outcome = host
                .run(RunRequest::new(
                    "maintenance.set_system",
                    json!({"systemId": format!("sys-{next}"), "durationMinutes": 30}),
                ))
                .expect("set_system runs");
            assert!(outcome.is_ok());
        }
        triggering += started.elapsed();
        let started = Instant::now();
        let attempts = host
            .dispatch_until(&|| false, &mut |_, _| {})
            .expect("dispatch runs");
        dispatched += started.elapsed();
        assert_eq!(attempts, per_round);
    }
    let runs = per_round * rounds;
    assert!(
        automation_harness::automation::recorded_runs(host.backend().as_ref())
            .expect("the runs read back")
            .iter()
            .all(|run| run.status == automation_harness::AutomationRunStatus::Succeeded)
    );
    let per = |total: Duration| micros(total) / runs as f64;
    println!(
        "\nAutomations on SQLite (WAL, synchronous=FULL; one thread; fresh instances; {runs} \
         runs each, {rounds} alternating rounds)"
    );
    println!(
        "  notifications.send run directly:               {:>8.0} µs per run",
        per(direct)
    );
    println!(
        "  the same as a one-step automation, dispatched: {:>8.0} µs per run  (ratio {:.2})",
        per(dispatched),
        dispatched.as_secs_f64() / direct.as_secs_f64()
    );
    println!(
        "  events -> finished automation runs: {:.0} runs/s dispatched; {:.0} runs/s counting \
         the set_system runs that fired the events and recorded them",
        runs as f64 / dispatched.as_secs_f64(),
        runs as f64 / (dispatched + triggering).as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // gets a smoke run of every section, so the asserts run with the
    // tests. A filter argument picks sections.
    let sizes = if std::env::args().any(|arg| arg == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted = |section: &str| filter.is_empty() || filter.iter().any(|f| section.contains(f));
    // Another build of the component can be measured in its place.
    let path_override = std::env::var("AUTOMATION_BENCH_PLUGIN").ok();
    let path = Path::new(path_override.as_deref().unwrap_or(PLUGIN_WASM));
    println!(
        "machine: {} logical CPUs; {}; commit {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::env::consts::ARCH,
        commit()
    );
    if wanted("start") {
        starts(path, sizes);
    }
    if wanted("instantiation") {
        instantiation(path, sizes);
    }
    let plugin = Plugin::load(
        &automation_harness::default_engine().expect("an engine"),
        path,
    )
    .expect("the plugin loads");
    if wanted("actions") {
        actions(&plugin, sizes);
    }
    if wanted("node") {
        node(path, &plugin, sizes);
    }
    if wanted("throughput") {
        throughput(&plugin, sizes);
    }
    if wanted("scale") {
        scale(&plugin, sizes);
    }
    if wanted("queries") {
        queries(&plugin, sizes);
    }
    if wanted("automations") {
        automations(&plugin, sizes);
    }
}
