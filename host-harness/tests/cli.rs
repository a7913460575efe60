//! The `automation-harness` command as a user runs it: the real binary,
//! the real plugin component this workspace builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// The CLI, with its compiled-plugin cache in a directory of the tests'
/// own rather than the user's.
fn harness() -> Command {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_automation-harness"));
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
    let catalog = stdout_json(&output);
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
            .contains(&json!("checkstack:automation/entity@0.2.0"))
    );
    let text = String::from_utf8(run(&["describe"], &workspace()).stdout).unwrap();
    assert!(
        text.contains("maintenance.clear_system") && text.contains("Imports"),
        "{text}"
    );
}

#[test]
fn every_shipped_scenario_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("scenarios"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    let output = harness()
        .arg("scenario")
        .args(&files)
        .arg("--json")
        .output()
        .unwrap();
    let reports = stdout_json(&output);
    for report in reports.as_array().unwrap() {
        assert_eq!(report["report"]["passed"], true, "{report:#}");
    }
    assert!(output.status.success());
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
    for command in ["describe", "run", "history", "scenario", "demo"] {
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
