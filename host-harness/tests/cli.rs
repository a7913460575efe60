//! The `automation-harness` command as a user runs it: the real binary,
//! the real plugin component this workspace builds.

#[path = "support/cli.rs"]
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// The CLI, with its compiled-plugin cache in a directory of the tests'
/// own rather than the user's.
fn harness() -> Command {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    let mut command = support::binary();
    command.env("AUTOMATION_HARNESS_CACHE", cache.path());
    command
}

fn run(args: &[&str], cwd: &Path) -> Output {
    harness()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The maintenance component, the first shipped plugin.
fn default_plugin() -> PathBuf {
    PathBuf::from(env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn runs_against_one_store_build_on_each_other_and_history_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let parked = run(
        &[
            "run",
            "maintenance.set_system",
            "--config",
            r#"{"systemId":"db-1","durationMinutes":30}"#,
            "--store",
            store,
            "--actor",
            "user:u-1:Ann",
            "--run-id",
            "run-1",
            "--now",
            "2026-03-01T10:00:00Z",
            "--json",
        ],
        dir.path(),
    );
    assert!(
        parked.status.success(),
        "{}",
        String::from_utf8_lossy(&parked.stderr)
    );
    let parked = stdout_json(&parked);
    assert_eq!(parked["ok"], true);
    let wall_time = parked["wallTimeMs"].as_f64().expect("the run's wall time");
    assert!(wall_time > 0.0 && wall_time < 60_000.0, "{wall_time} ms");
    let id = parked["externalId"].as_str().unwrap().to_owned();
    assert_eq!(parked["artifact"]["endAt"], "2026-03-01T10:30:00.000Z");
    assert_eq!(
        parked["events"][0],
        json!({
            "trigger": "maintenance.created",
            "payload": parked["artifact"],
            "contextKey": id,
            "actor": {"type": "user", "id": "u-1", "name": "Ann"},
            "runId": "run-1",
            "changeId": parked["changes"][0]["changeId"],
        })
    );

    let cleared = run(
        &[
            "run",
            "clear_system",
            "--config",
            r#"{"systemId":"db-1"}"#,
            "--store",
            store,
            "--json",
        ],
        dir.path(),
    );
    assert!(cleared.status.success());
    let cleared = stdout_json(&cleared);
    assert_eq!(cleared["artifact"]["closedMaintenanceIds"], json!([id]));
    assert_eq!(cleared["error"], Value::Null);

    let history = run(&["history", "--store", store, "--json"], dir.path());
    assert!(history.status.success());
    let history = stdout_json(&history);
    let triggers: Vec<_> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(triggers, ["maintenance.created", "maintenance.updated"]);
    assert_eq!(history["changes"].as_array().unwrap().len(), 2);
    assert_eq!(history["changes"][1]["next"]["status"], "completed");

    let text = run(&["history", "--store", store], dir.path());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("Changes (2)") && text.contains("Events (2)"),
        "{text}"
    );
}

#[test]
fn the_default_store_is_a_file_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        &[
            "run",
            "set_system",
            "--config",
            r#"{"systemId":"a","durationMinutes":5}"#,
        ],
        dir.path(),
    );
    assert!(output.status.success());
    assert!(
        dir.path()
            .join(".automation-harness/store.sqlite3")
            .exists()
    );
    let history = stdout_json(&run(&["history", "--json"], dir.path()));
    assert_eq!(history["events"].as_array().unwrap().len(), 1);
}

#[test]
fn secrets_are_masked_in_the_persisted_logs() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        &[
            "run",
            "set_system",
            "--config",
            r#"{"systemId":"db-s3cret","durationMinutes":5}"#,
            "--secret",
            "s3cret",
        ],
        dir.path(),
    );
    assert!(output.status.success());
    let history = run(&["history", "--json"], dir.path());
    let text = String::from_utf8(history.stdout).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("db-****"));
}

#[test]
fn a_failed_run_exits_1_with_the_error_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        &[
            "run",
            "update",
            "--memory",
            "--json",
            "--config",
            r#"{"maintenanceId":"nope"}"#,
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let outcome = stdout_json(&output);
    assert_eq!(outcome["ok"], false);
    assert_eq!(outcome["error"]["kind"], "not_found");
    assert_eq!(outcome["error"]["message"], "Maintenance not found: nope");

    let output = run(
        &[
            "run",
            "create",
            "--memory",
            "--json",
            "--config",
            r#"{"title":""}"#,
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let problems = stdout_json(&output)["error"]["problems"].clone();
    let paths: Vec<_> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].clone())
        .collect();
    assert_eq!(
        paths,
        [
            json!("/endAt"),
            json!("/startAt"),
            json!("/systemIds"),
            json!("/title")
        ]
    );
}

#[test]
fn usage_file_and_plugin_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.json"),
        r#"{"name": "x", "steps": [{"run": 5}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("not-wasm.wasm"), b"hello").unwrap();
    let cases: &[&[&str]] = &[
        &["run", "nope", "--memory", "--config", "{}"],
        &["run", "set_system", "--memory", "--config", "{not json"],
        &["run", "set_system", "--memory", "--config", "@missing.json"],
        &["--plugin", "missing.wasm", "describe"],
        &["--plugin", "not-wasm.wasm", "describe"],
        &["scenario", "broken.json"],
        &["scenario", "missing.json"],
        &["history", "--store", "missing.sqlite3"],
    ];
    for args in cases {
        let output = run(args, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn describe_lists_the_qualified_catalog_and_the_imports() {
    let output = run(&["describe", "--json"], &workspace());
    assert!(output.status.success());
    let described = stdout_json(&output);
    // Without --plugin, every shipped plugin, side by side.
    let plugins = described["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 2);
    assert_eq!(plugins[1]["plugin"]["id"], "notifications");
    let catalog = &plugins[0];
    assert_eq!(
        catalog["plugin"],
        json!({"id": "maintenance", "version": "1.3.1"})
    );
    let actions: Vec<_> = catalog["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(actions.len(), 5);
    assert!(actions.contains(&json!("maintenance.set_system")));
    assert_eq!(catalog["triggers"][0]["contextKey"], "maintenanceId");
    assert_eq!(catalog["triggers"][0]["payloadSchema"]["type"], "object");
    assert!(catalog["actions"][0]["configSchema"]["properties"].is_object());
    assert_eq!(catalog["entityKinds"][0]["kind"], "maintenance");
    assert!(
        catalog["imports"]
            .as_array()
            .unwrap()
            .contains(&json!("checkstack:automation/entity@0.3.1"))
    );
    assert_eq!(catalog["contract"], "checkstack:automation@0.3.1");
    let queries: Vec<&Value> = catalog["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| &q["id"])
        .collect();
    assert_eq!(
        queries,
        [
            "maintenance.active_for_system",
            "maintenance.get",
            "maintenance.list"
        ]
    );
    assert_eq!(
        catalog["queries"][1]["inputSchema"]["required"],
        json!(["maintenanceId"])
    );
    assert_eq!(plugins[1]["queries"][0]["id"], "notifications.get");
    let text = String::from_utf8(run(&["describe"], &workspace()).stdout).unwrap();
    assert!(
        text.contains("maintenance.clear_system") && text.contains("Imports"),
        "{text}"
    );
    assert!(
        text.contains("Queries (read-only") && text.contains("input {maintenanceId*}"),
        "{text}"
    );
}

/// What the plugin holds reads back through queries: after set_system,
/// two updates and clear_system on one SQLite store, `query
/// maintenance.get` shows the title, the updates with their status
/// changes and the completed status, and `active_for_system` answers
/// before and after the clear. A query leaves the store file as it was.
#[test]
fn queries_read_back_what_runs_wrote_to_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--store", store, "--json"]);
        let output = run(&all, dir.path());
        (output.status.code(), stdout_json(&output))
    };
    let (_, parked) = cli(&[
        "run",
        "set_system",
        "--config",
        r#"{"systemId":"db-1","durationMinutes":30,"title":"DB upgrade"}"#,
    ]);
    let id = parked["externalId"].as_str().unwrap().to_owned();
    let active_input = r#"{"systemId":"db-1"}"#;
    let (code, active) = cli(&[
        "query",
        "maintenance.active_for_system",
        "--input",
        active_input,
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(active["result"]["windows"][0]["maintenanceId"], id);
    assert_eq!(active["query"], "maintenance.active_for_system");
    for config in [
        json!({"maintenanceId": id, "message": "Starting", "statusChange": "in_progress"}),
        json!({"maintenanceId": id, "message": "DB is back"}),
    ] {
        let (code, _) = cli(&["run", "add_update", "--config", &config.to_string()]);
        assert_eq!(code, Some(0));
    }
    cli(&["run", "clear_system", "--config", r#"{"systemId":"db-1"}"#]);

    let before = std::fs::read(store).unwrap();
    let input = json!({"maintenanceId": id}).to_string();
    let (code, got) = cli(&["query", "maintenance.get", "--input", &input]);
    assert_eq!(code, Some(0));
    let window = &got["result"];
    assert_eq!(window["title"], "DB upgrade");
    assert_eq!(window["status"], "completed");
    let updates: Vec<(&Value, &Value)> = window["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (&u["message"], &u["statusChange"]))
        .collect();
    assert_eq!(
        updates,
        [
            (&json!("Starting"), &json!("in_progress")),
            (&json!("DB is back"), &Value::Null),
            (&json!("Cleared by automation"), &json!("completed")),
        ]
    );
    let (_, active) = cli(&[
        "query",
        "maintenance.active_for_system",
        "--input",
        active_input,
    ]);
    assert_eq!(active["result"]["windows"], json!([]));
    assert_eq!(
        std::fs::read(store).unwrap(),
        before,
        "a query wrote to the store"
    );

    // A query that finds nothing exits 1; bad input the host refuses
    // first exits 2 with one line.
    let (code, missing) = cli(&[
        "query",
        "maintenance.get",
        "--input",
        r#"{"maintenanceId":"nope"}"#,
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(missing["error"]["message"], "Maintenance not found: nope");
    let bad_input = run(
        &["query", "maintenance.get", "--input", "{", "--store", store],
        dir.path(),
    );
    assert_eq!(bad_input.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_input.stderr).contains("--input is not JSON"));
    let nowhere = dir.path().join("nowhere.sqlite3");
    let missing = run(
        &[
            "query",
            "maintenance.list",
            "--store",
            nowhere.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(!nowhere.exists(), "a query created a store");
    let unknown = run(&["query", "maintenance.nope", "--store", store], dir.path());
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("has no query \"maintenance.nope\""),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let text = run(
        &[
            "query",
            "maintenance.get",
            "--input",
            &input,
            "--store",
            store,
        ],
        dir.path(),
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("maintenance.get answered:") && text.contains("DB is back"),
        "{text}"
    );
}

/// The scenario files of shipped plugins other than the default one, run
/// with `--plugin <name>`.
const OTHER_PLUGINS_SCENARIOS: &[(&str, &str)] = &[("notifications.json", "notifications")];

#[test]
fn every_shipped_scenario_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("scenarios"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| {
            !path.file_name().is_some_and(|name| {
                OTHER_PLUGINS_SCENARIOS
                    .iter()
                    .any(|(other, _)| name == *other)
            })
        })
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    let mut runs = vec![(files, None)];
    for (file, plugin) in OTHER_PLUGINS_SCENARIOS {
        runs.push((
            vec![workspace().join("scenarios").join(file)],
            Some(*plugin),
        ));
    }
    for (files, plugin) in runs {
        let mut command = harness();
        command.arg("scenario").args(&files).arg("--json");
        if let Some(plugin) = plugin {
            command.args(["--plugin", plugin]);
        }
        let output = command.output().unwrap();
        let reports = stdout_json(&output);
        for report in reports.as_array().unwrap() {
            assert_eq!(report["report"]["passed"], true, "{report:#}");
        }
        assert!(output.status.success(), "{files:?} with {plugin:?}");
    }
}

#[test]
fn shipped_plugins_run_side_by_side_on_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    // A local id one plugin declares, and a qualified one of the other.
    let sent = run(
        &[
            "run",
            "send",
            "--config",
            r##"{"channel": "#ops", "subject": "db-1 parked"}"##,
            "--store",
            store,
            "--json",
        ],
        dir.path(),
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(stdout_json(&sent)["action"], "notifications.send");
    let parked = run(
        &[
            "run",
            "maintenance.set_system",
            "--config",
            r#"{"systemId": "db-1", "durationMinutes": 30}"#,
            "--store",
            store,
            "--json",
        ],
        dir.path(),
    );
    assert!(parked.status.success());
    let history = stdout_json(&run(&["history", "--store", store, "--json"], dir.path()));
    let kinds: Vec<&str> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["notification", "maintenance"]);
    let triggers: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(triggers, ["notifications.queued", "maintenance.created"]);

    // An action no loaded plugin declares names every one it knows.
    let unknown = run(
        &["run", "nothing", "--config", "{}", "--store", store],
        dir.path(),
    );
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("notifications.mark_sent") && stderr.contains("maintenance.create"),
        "{stderr}"
    );
}

#[test]
fn a_plugin_id_loaded_twice_is_refused_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.wasm");
    std::fs::copy(default_plugin(), &copy).unwrap();
    let output = run(
        &[
            "describe",
            "--plugin",
            "maintenance",
            "--plugin",
            copy.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "two plugins with the id maintenance: {} and {}",
            default_plugin().display(),
            copy.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_folder_of_plugins_loads_every_component_in_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(default_plugin(), dir.path().join("b-maintenance.wasm")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a component").unwrap();
    let output = run(
        &[
            "describe",
            "--json",
            "--plugins",
            dir.path().to_str().unwrap(),
            "--plugin",
            "notifications",
        ],
        dir.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids: Vec<Value> = stdout_json(&output)["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|plugin| plugin["plugin"]["id"].clone())
        .collect();
    assert_eq!(ids, [json!("notifications"), json!("maintenance")]);
}

#[test]
fn a_shipped_plugin_is_loaded_by_name() {
    let output = harness()
        .args(["describe", "--json", "--plugin", "notifications"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let described = stdout_json(&output);
    assert_eq!(described["plugins"].as_array().unwrap().len(), 1);
    let catalog = &described["plugins"][0];
    assert_eq!(
        catalog["plugin"],
        json!({"id": "notifications", "version": "0.1.0"})
    );
    assert_eq!(catalog["contract"], "checkstack:automation@0.3.1");

    let output = harness()
        .args(["describe", "--plugin", "no-such-plugin"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "no plugin component at no-such-plugin (shipped plugins: maintenance, notifications)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_failed_expectation_exits_1_showing_expected_and_actual() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.json");
    std::fs::write(
        &file,
        json!({
            "name": "wrong",
            "steps": [{"run": "set_system", "config": {"systemId": "a", "durationMinutes": 5},
                       "expect": {"artifact": {"status": "completed"}}}]
        })
        .to_string(),
    )
    .unwrap();
    let output = run(&["scenario", file.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        text.contains(r#"artifact expected: {"status":"completed"}"#),
        "{text}"
    );
    assert!(text.contains(r#""status":"scheduled""#), "{text}");
}

#[test]
fn the_demo_walks_through_a_scenario() {
    let output = run(&["demo"], &workspace());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "Plugin maintenance 1.3.1",
        "maintenance.created",
        "maintenance.updated",
        "3 passed, 0 failed",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
}

#[test]
fn every_command_has_help() {
    for command in [
        "describe", "run", "history", "tick", "batch", "scenario", "demo",
    ] {
        let output = harness().args([command, "--help"]).output().unwrap();
        assert!(output.status.success(), "{command}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage"));
    }
}

#[test]
fn tick_runs_due_jobs_against_the_store_once_per_instant() {
    let dir = tempfile::tempdir().unwrap();
    let parked = run(
        &[
            "run",
            "set_system",
            "--config",
            r#"{"systemId":"db-1","durationMinutes":30}"#,
            "--now",
            "2026-03-01T10:00:00Z",
            "--json",
        ],
        dir.path(),
    );
    assert!(parked.status.success());
    let id = stdout_json(&parked)["externalId"].clone();

    let ticked = run(
        &["tick", "--now", "2026-03-01T10:01:00Z", "--json"],
        dir.path(),
    );
    assert!(
        ticked.status.success(),
        "{}",
        String::from_utf8_lossy(&ticked.stderr)
    );
    let ticked = stdout_json(&ticked);
    assert_eq!(ticked["ok"], true);
    let event = &ticked["runs"][0]["events"][0];
    assert_eq!(event["trigger"], "maintenance.updated");
    assert_eq!(event["contextKey"], id);
    assert_eq!(event["payload"]["status"], "in_progress");
    assert_eq!(
        event["actor"],
        json!({"type": "service", "id": "maintenance", "name": "maintenance"})
    );

    let again = run(&["tick", "--now", "2026-03-01T10:01:30Z"], dir.path());
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("no job was due"));

    let done = stdout_json(&run(
        &["tick", "--now", "2026-03-01T10:31:00Z", "--json"],
        dir.path(),
    ));
    assert_eq!(
        done["runs"][0]["events"][0]["payload"]["status"],
        "completed"
    );
    let history = stdout_json(&run(&["history", "--json"], dir.path()));
    assert_eq!(history["events"].as_array().unwrap().len(), 3);
}

/// A config the maintenance plugin needs a few MiB of memory for: 1000
/// systems of 254 characters.
fn big_create_config() -> Value {
    let systems: Vec<String> = (0..1000)
        .map(|i| format!("s{i:03}{}", "x".repeat(250)))
        .collect();
    json!({"title": "t", "systemIds": systems,
           "startAt": "2030-01-01T00:00:00Z", "endAt": "2030-01-01T01:00:00Z"})
}

fn keys(value: &Value) -> Vec<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn assert_host_error(outcome: &Value, action: &str, run_id: Value, because: &str) {
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert_eq!(outcome["action"], action, "{outcome}");
    assert_eq!(outcome["runId"], run_id, "{outcome}");
    assert_eq!(outcome["error"]["kind"], "host", "{outcome}");
    assert_eq!(outcome["error"]["problems"], json!([]), "{outcome}");
    let message = outcome["error"]["message"].as_str().unwrap();
    assert!(!message.contains('\n'), "{message}");
    assert!(
        message.contains("plugin maintenance") && message.contains(because),
        "{message}"
    );
    for empty in ["changes", "events", "logs"] {
        assert_eq!(outcome[empty], json!([]), "{outcome}");
    }
    assert_eq!(outcome["externalId"], Value::Null);
    assert_eq!(outcome["artifact"], Value::Null);
}

#[test]
fn a_host_error_is_one_json_outcome_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("big.json");
    std::fs::write(&config, big_create_config().to_string()).unwrap();
    let config_arg = format!("@{}", config.display());
    let normal = stdout_json(&run(
        &[
            "run",
            "set_system",
            "--json",
            "--max-memory",
            "1MiB",
            "--config",
            r#"{"systemId":"a","durationMinutes":5}"#,
        ],
        dir.path(),
    ));
    assert_eq!(normal["ok"], true, "{normal}");

    // The plugin traps mid-run when its memory cannot grow.
    let output = run(
        &[
            "run",
            "create",
            "--json",
            "--max-memory",
            "1MiB",
            "--run-id",
            "r-1",
            "--config",
            &config_arg,
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let outcome = stdout_json(&output);
    assert_eq!(keys(&outcome), keys(&normal));
    assert_host_error(
        &outcome,
        "create",
        json!("r-1"),
        "trapped: memory limit of 1 MiB reached",
    );
    assert!(outcome["wallTimeMs"].as_f64().unwrap() > 0.0);

    // Without a run id the outcome has none; a plugin that cannot even be
    // instantiated is a host error too. Text mode stays one stderr line.
    let outcome = stdout_json(&run(
        &[
            "run",
            "set_system",
            "--json",
            "--max-memory",
            "64KiB",
            "--config",
            r#"{"systemId":"a","durationMinutes":5}"#,
        ],
        dir.path(),
    ));
    assert_host_error(&outcome, "set_system", Value::Null, "instantiation failed");
    let text = run(
        &[
            "run",
            "create",
            "--max-memory",
            "1MiB",
            "--config",
            &config_arg,
        ],
        dir.path(),
    );
    assert_eq!(text.status.code(), Some(1));
    assert!(text.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(
        stderr.starts_with("error: plugin maintenance") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );

    // Nothing of the failed runs reached the store.
    let history = stdout_json(&run(&["history", "--json"], dir.path()));
    assert_eq!(history["changes"].as_array().unwrap().len(), 1);
}

#[test]
fn a_host_error_in_a_batch_is_that_runs_line_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        json!({"run": "set_system", "runId": "b-1", "config": {"systemId": "a", "durationMinutes": 5}}),
        json!({"run": "create", "runId": "b-2", "config": big_create_config()}),
        json!({"run": "maintenance.create", "config": big_create_config()}),
        json!({"run": "set_system", "runId": "b-4", "config": {"systemId": "b", "durationMinutes": 5}}),
    ];
    let input = dir.path().join("batch.jsonl");
    std::fs::write(
        &input,
        lines
            .iter()
            .map(|line| format!("{line}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let output = run(
        &["batch", input.to_str().unwrap(), "--max-memory", "1MiB"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let outcomes: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0]["ok"], true);
    assert_host_error(&outcomes[1], "create", json!("b-2"), "memory limit");
    assert_host_error(
        &outcomes[2],
        "maintenance.create",
        Value::Null,
        "memory limit",
    );
    assert_eq!(keys(&outcomes[1]), keys(&outcomes[0]));
    assert_eq!(outcomes[3]["ok"], true);
    assert_eq!(outcomes[3]["runId"], "b-4");
    let history = stdout_json(&run(&["history", "--json"], dir.path()));
    assert_eq!(history["changes"].as_array().unwrap().len(), 2);

    // An unknown action is still a usage error that ends the batch.
    std::fs::write(&input, "{\"run\": \"nope\", \"config\": {}}\n").unwrap();
    let output = run(&["batch", input.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

#[test]
fn a_host_error_in_a_tick_is_a_failed_run_in_its_json() {
    let dir = tempfile::tempdir().unwrap();
    let parked = run(
        &[
            "run",
            "set_system",
            "--now",
            "2026-03-01T10:00:00Z",
            "--config",
            r#"{"systemId":"db-1","durationMinutes":30}"#,
        ],
        dir.path(),
    );
    assert!(parked.status.success());
    let output = run(
        &[
            "tick",
            "--now",
            "2026-03-01T10:01:00Z",
            "--max-memory",
            "64KiB",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let ticked = stdout_json(&output);
    assert_eq!(ticked["ok"], false);
    assert_eq!(ticked["runs"].as_array().unwrap().len(), 1);
    assert_host_error(
        &ticked["runs"][0],
        "maintenance.advance_status",
        Value::Null,
        "instantiation failed",
    );
    // The failed job run recorded nothing, so the next tick runs it.
    let again = stdout_json(&run(
        &["tick", "--now", "2026-03-01T10:01:00Z", "--json"],
        dir.path(),
    ));
    assert_eq!(
        again["runs"][0]["events"][0]["payload"]["status"],
        "in_progress"
    );
}

#[test]
fn a_clock_the_plugin_cannot_show_is_refused_with_exit_2() {
    const RANGE: [&str; 2] = ["1970-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z"];
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str, now: &str, steps: Value| {
        let file = dir.path().join(name);
        std::fs::write(
            &file,
            json!({"name": name, "now": now, "steps": steps}).to_string(),
        )
        .unwrap();
        file.to_str().unwrap().to_owned()
    };
    let park = json!([{"run": "set_system", "config": {"systemId": "a", "durationMinutes": 5}}]);
    let early = scenario("early.json", "1969-12-31T23:59:59.999Z", park.clone());
    let late = scenario("late.json", "2262-04-11T23:47:17Z", park.clone());
    let config = r#"{"systemId":"a","durationMinutes":5}"#;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "set_system",
                "--memory",
                "--now",
                "1969-12-31T23:59:59Z",
                "--config",
                config,
            ],
            "--now",
        ),
        (
            &[
                "run",
                "set_system",
                "--memory",
                "--now",
                "2262-04-11T23:47:17Z",
                "--config",
                config,
            ],
            "--now",
        ),
        (&["tick", "--now", "1900-01-01T00:00:00Z"], "--now"),
        (
            &["tick", "--now", "3000-01-01T00:00:00Z", "--json"],
            "--now",
        ),
        (&["scenario", &early], "\"now\""),
        (&["scenario", &late, "--json"], "\"now\""),
        (&["demo", &late], "\"now\""),
    ];
    for (args, names) in cases {
        let output = run(args, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
        for expected in [names, &"out", &RANGE[0], &RANGE[1]] {
            assert!(
                stderr.contains(*expected),
                "{args:?}: {expected} missing from {stderr}"
            );
        }
    }
    assert!(
        !dir.path().join(".automation-harness").exists(),
        "a refused tick opened the store"
    );

    // Both ends of the range are fine.
    for now in ["1970-01-01T00:00:00Z", "2262-04-11T23:47:16Z"] {
        let output = run(
            &[
                "run",
                "set_system",
                "--memory",
                "--json",
                "--now",
                now,
                "--config",
                config,
            ],
            dir.path(),
        );
        assert!(
            output.status.success(),
            "{now}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let outcome = stdout_json(&output);
        assert_eq!(outcome["artifact"]["startAt"], now.replace('Z', ".000Z"));
    }

    // Advancing a scenario's clock past the end fails that step.
    let advance = scenario(
        "advance.json",
        "2262-04-11T23:00:00Z",
        json!([{"advance": "PT30M"}, {"advance": "PT30M"}]),
    );
    let output = run(&["scenario", &advance, "--json"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let report = &stdout_json(&output)[0]["report"];
    assert_eq!(report["steps"][0]["passed"], true, "{report}");
    let error = report["steps"][1]["error"].as_str().unwrap();
    assert!(
        error.contains("PT30M") && error.contains(RANGE[1]),
        "{error}"
    );
}

#[test]
fn a_closed_stdout_ends_the_command_quietly_like_any_unix_tool() {
    use std::os::unix::process::ExitStatusExt;
    // The reader is gone before the command writes a byte.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = harness()
        .args(["describe", "--json"])
        .stdout(writer)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        output.status.signal(),
        Some(13),
        "SIGPIPE: {:?}",
        output.status
    );
}
