//! The Node host (`host-harness/js`, the same components transpiled with
//! jco) held to the Rust host's behaviour: every scenario file runs on
//! both, and the two reports (results, artifacts, changes, events, logs,
//! mismatches) are identical once UUIDs are canonicalised (first seen is
//! `id-1`, and so on) and the per-host measurements (`wallTimeMs`, `fuel`)
//! are set aside. The Node host's own suite (sandbox limits, atomic runs,
//! masking, seeding) runs from here too, so `cargo test` runs it.
//!
//! Needs Node 20 and npm; the first test in a checkout installs the
//! package's dependencies from its lockfile (`npm ci`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use automation_harness::scenario::{Scenario, run_scenario_with};
use integration_tests::node_host::{node, output_within, succeeded};
use integration_tests::{NOTIFICATIONS_PLUGIN_WASM, PLUGIN_WASM, load};
use serde_json::{Value, json};

const HOSTILE_WASM: &str = env!("HOSTILE_PLUGIN_WASM");
const FILESYSTEM_WASM: &str = env!("FILESYSTEM_PLUGIN_WASM");
const SLEEPY_DEFINITIONS_WASM: &str = env!("SLEEPY_DEFINITIONS_PLUGIN_WASM");

/// Longer than any one scenario or suite takes, on a loaded machine.
const NODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `npm run scenario -- ARGS` without npm's banner: the package's CLI, as
/// the README's command runs it.
fn node_scenario(arguments: &[&str]) -> Output {
    let mut all = vec!["scenario"];
    all.extend_from_slice(arguments);
    output_within(node("dist/cli.js", &all), NODE_TIMEOUT)
}

/// The plugins a scenario runs against: the ones it names, else both the
/// workspace ships, as the CLI loads them.
fn plugin_paths(scenario: &Scenario) -> Vec<PathBuf> {
    scenario
        .plugin_paths()
        .expect("the scenario's plugins resolve")
        .unwrap_or_else(|| vec![PLUGIN_WASM.into(), NOTIFICATIONS_PLUGIN_WASM.into()])
}

fn rust_report(file: &Path) -> Value {
    let scenario = Scenario::load(file).expect("a valid scenario");
    let engine = automation_harness::default_engine().expect("an engine");
    let plugins: Vec<_> = plugin_paths(&scenario)
        .iter()
        .map(|path| load(&engine, path))
        .collect();
    serde_json::to_value(run_scenario_with(&plugins, &scenario)).expect("a report is JSON")
}

/// Runs `file` on the Node host with the components the Rust host loads,
/// returning its exit code and report.
fn node_report(file: &Path) -> (i32, Value) {
    let scenario = Scenario::load(file).expect("a valid scenario");
    let mut arguments = vec![
        file.to_str().expect("a UTF-8 path").to_owned(),
        "--json".into(),
    ];
    if scenario.plugins.is_none() {
        for path in plugin_paths(&scenario) {
            arguments.push("--plugin".into());
            arguments.push(path.to_str().expect("a UTF-8 path").to_owned());
        }
    }
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let output = node_scenario(&arguments);
    let code = output.status.code().expect("node exited");
    let reports: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "the Node host printed no JSON report for {} ({error}): {}\n{}",
            file.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code, reports[0]["report"].clone())
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Replaces every UUID (whole strings and inside text, such as log lines)
/// by `id-N` in the order first seen, walking objects in key order, and
/// drops what each host measures of itself.
fn canonical(value: &Value) -> Value {
    fn text(text: &str, seen: &mut HashMap<String, usize>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.get(..36).filter(|candidate| is_uuid(candidate)) {
                Some(uuid) => {
                    let next = seen.len() + 1;
                    let number = *seen.entry(uuid.to_owned()).or_insert(next);
                    out.push_str(&format!("id-{number}"));
                    rest = &rest[36..];
                }
                None => {
                    let c = rest.chars().next().expect("not empty");
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }
    fn walk(value: &Value, seen: &mut HashMap<String, usize>) -> Value {
        match value {
            Value::String(string) => Value::String(text(string, seen)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| walk(item, seen)).collect())
            }
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .filter(|(key, _)| !matches!(key.as_str(), "wallTimeMs" | "fuel"))
                    .map(|(key, item)| (text(key, seen), walk(item, seen)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    walk(value, &mut HashMap::new())
}

/// The first place two JSON values differ, as a JSON pointer with both
/// sides, for a failure a human can read.
fn first_difference(left: &Value, right: &Value, at: &str) -> Option<String> {
    match (left, right) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|key| {
                first_difference(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    &format!("{at}/{key}"),
                )
                .or_else(|| {
                    (a.contains_key(key) != b.contains_key(key))
                        .then(|| format!("{at}/{key}: present on one host only"))
                })
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(index, (a, b))| first_difference(a, b, &format!("{at}/{index}"))),
        (a, b) if a == b => None,
        (a, b) => Some(format!("{at}:\n  Rust: {a}\n  Node: {b}")),
    }
}

fn assert_same_report(file: &Path, rust: &Value, node: &Value) {
    let (rust, node) = (canonical(rust), canonical(node));
    if let Some(difference) = first_difference(&rust, &node, "") {
        panic!("{}: the hosts disagree at {difference}", file.display());
    }
}

#[test]
fn every_scenario_file_runs_the_same_on_both_hosts() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    let mut compared = 0;
    for file in &files {
        let scenario = Scenario::load(file).expect("a valid scenario");
        if scenario.automations.is_some() {
            // Automations are the Rust host's alone, and the Node host says so.
            let output = node_scenario(&[file.to_str().expect("a UTF-8 path")]);
            assert_eq!(output.status.code(), Some(2), "{}", file.display());
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("automation-free scenarios only"),
                "{stderr}"
            );
            eprintln!(
                "{}: automations, Rust host only (the Node host refuses it)",
                file.display()
            );
            continue;
        }
        let rust = rust_report(file);
        assert_eq!(rust["passed"], true, "{}: {rust:#}", file.display());
        let (code, node) = node_report(file);
        assert_same_report(file, &rust, &node);
        assert_eq!(code, 0, "{}", file.display());
        compared += 1;
    }
    assert!(compared >= 7, "only {compared} scenario files compared");
}

#[test]
fn failed_expectations_and_steps_that_cannot_run_read_the_same_on_both_hosts() {
    let folder = tempfile::tempdir().expect("a temp dir");
    let file = folder.path().join("failing.json");
    let scenario = json!({
        "name": "failing on purpose",
        "now": "2026-03-01T10:00:00.000Z",
        "steps": [
            {"id": "window", "run": "create", "config": {"title": "T", "systemIds": ["a"], "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"},
             "expect": {"ok": true, "artifact": {"status": "in_progress"}, "events": [{"trigger": "maintenance.created"}, {"trigger": "maintenance.updated"}]}},
            {"run": "add_update", "config": {"maintenanceId": "{{window.externalId}}", "message": ""},
             "expect": {"ok": true, "logs": ["no such line"]}},
            {"run": "no_such_action"},
            {"run": "add_update", "config": {"maintenanceId": "{{window.nothing}}", "message": "m"}},
            {"run": "send", "config": {"channel": "c", "subject": "s", "body": "b"}, "expect": {"externalId": "{{window.externalId}}"}},
        ]
    });
    std::fs::write(&file, scenario.to_string()).expect("written");
    let rust = rust_report(&file);
    assert_eq!(rust["passed"], false);
    let (code, node) = node_report(&file);
    assert_eq!(code, 1, "a failed expectation exits 1");
    assert_same_report(&file, &rust, &node);
    let mismatches: usize = rust["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["mismatches"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(mismatches >= 4, "{rust:#}");
}

/// A plugin that breaks the contract on purpose is stopped with the same
/// words on both hosts, and leaves the same store: every step after a
/// refused one sees what the hosts committed. (Traps are left out: their
/// text is the engine's, wasmtime's or V8's.)
#[test]
fn broken_contracts_read_the_same_on_both_hosts() {
    let folder = tempfile::tempdir().expect("a temp dir");
    let file = folder.path().join("hostile.json");
    let run = |action: &str, config: Value| json!({"run": action, "config": config});
    let mut steps: Vec<Value> = [
        "well_behaved",
        "write_then_fail",
        "drop_mutation",
        "commit_twice",
        "write_without_mutation",
        "bad_artifact",
        "huge_artifact",
        "fire_undeclared_trigger",
        "fire_qualified_trigger",
        "bad_payload",
        "huge_payload",
        "bad_state",
        "well_behaved",
    ]
    .into_iter()
    .map(|action| run(action, json!({})))
    .collect();
    steps.extend([
        run("set_key", json!({"bytes": 1025})),
        run("set_value", json!({"bytes": 1_048_577})),
        run("scan_past_the_limit", json!({"keys": 1500, "limit": 5000})),
        json!({"query": "write"}),
        json!({"query": "read"}),
        json!({"query": "bad_result"}),
    ]);
    let scenario = json!({
        "name": "hostile",
        "now": "2026-03-01T10:00:00.000Z",
        "plugins": [HOSTILE_WASM],
        "steps": steps,
    });
    std::fs::write(&file, scenario.to_string()).expect("written");
    let rust = rust_report(&file);
    let (_, node) = node_report(&file);
    assert_same_report(&file, &rust, &node);
    let refused = rust["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|step| !step["error"].is_null() || step["outcome"]["ok"] == false)
        .count();
    assert!(refused >= 12, "{rust:#}");
}

#[test]
fn malformed_scenarios_are_bad_input_on_the_node_host() {
    let folder = tempfile::tempdir().expect("a temp dir");
    let cases = [
        (
            json!({"name": "x", "steps": [{"run": "create", "expect": {"okay": true}}]}),
            "/expect/okay: is not a known field",
        ),
        (
            json!({"name": "x", "steps": [{"advance": "2 minutes"}]}),
            "is not an ISO 8601 duration",
        ),
        (json!({"steps": []}), "/name: is required"),
        (
            json!({"name": "x", "steps": [{"query": "get", "expect": {"events": []}}]}),
            "/expect/events: is not a known field",
        ),
    ];
    for (index, (document, message)) in cases.iter().enumerate() {
        let file = folder.path().join(format!("bad-{index}.json"));
        std::fs::write(&file, document.to_string()).expect("written");
        assert!(
            Scenario::load(&file).is_err(),
            "the Rust host refuses {document}"
        );
        let output = node_scenario(&[file.to_str().expect("a UTF-8 path")]);
        assert_eq!(output.status.code(), Some(2), "{document}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{document}: {stderr}");
    }
}

#[test]
fn the_node_hosts_own_suite_passes_on_the_workspaces_components() {
    let mut suite = node(
        "--test",
        &["dist/tests/store.test.js", "dist/tests/host.test.js"],
    );
    suite
        .env("HOSTILE_PLUGIN_WASM", HOSTILE_WASM)
        .env("MAINTENANCE_PLUGIN_WASM", PLUGIN_WASM)
        .env("FILESYSTEM_PLUGIN_WASM", FILESYSTEM_WASM)
        .env("SLEEPY_DEFINITIONS_PLUGIN_WASM", SLEEPY_DEFINITIONS_WASM);
    let output = output_within(suite, NODE_TIMEOUT);
    succeeded("the Node host's suite", &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("# fail 0") && !stdout.contains("# pass 0"),
        "{stdout}"
    );
}

#[test]
fn canonical_ids_keep_the_pattern_of_ids_not_their_values() {
    let a = json!({"runId": "9de43811-5e58-4fba-a3a3-75ed13e4bfbf", "log": "made 9de43811-5e58-4fba-a3a3-75ed13e4bfbf", "wallTimeMs": 1.5});
    let b = json!({"runId": "0934786e-71d5-48ef-95f0-ef65d31e7f41", "log": "made 0934786e-71d5-48ef-95f0-ef65d31e7f41", "wallTimeMs": 9.0});
    assert_eq!(canonical(&a), canonical(&b));
    assert_eq!(canonical(&a), json!({"runId": "id-1", "log": "made id-1"}));
    // Two different ids where the other host has one is a difference.
    let c = json!({"runId": "0934786e-71d5-48ef-95f0-ef65d31e7f41", "log": "made 11111111-71d5-48ef-95f0-ef65d31e7f41"});
    assert_ne!(canonical(&a), canonical(&c));
}
