//! Human-readable output. Machines use `--json`.

use std::path::Path;

use automation_harness::scenario::ScenarioReport;
use automation_harness::{AutomationRun, ChangeRecord, EventRecord, Plugin, RunOutcome};
use serde_json::{Value, json};

pub fn json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// `title*, description, …`: a schema's properties, required ones starred.
fn fields(schema: &Value) -> String {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema["properties"]
        .as_object()
        .map(|properties| {
            properties
                .keys()
                .map(|name| {
                    if required.contains(&name.as_str()) {
                        format!("{name}*")
                    } else {
                        name.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub fn describe(plugin: &Plugin) {
    let catalog = plugin.catalog();
    println!(
        "Plugin {} {}  ({})",
        catalog.id,
        catalog.version,
        plugin.origin()
    );
    println!("Built for {}", plugin.contract());
    println!();
    println!("Triggers (fired by the entity engine from changes):");
    for trigger in catalog.trigger_infos() {
        println!(
            "  {:<28} {}: {}",
            trigger.id, trigger.display_name, trigger.description
        );
        println!(
            "  {:<28} entity {}, context key {}, payload {{{}}}",
            "",
            trigger.entity_kind.as_deref().unwrap_or("-"),
            trigger.context_key.as_deref().unwrap_or("-"),
            fields(&trigger.payload_schema)
        );
    }
    println!();
    println!("Actions (* = required config field):");
    for action in catalog.action_infos() {
        println!(
            "  {:<28} {}: {}",
            action.id, action.display_name, action.description
        );
        println!(
            "  {:<28} config v{} {{{}}} -> {}",
            "",
            action.config_version,
            fields(&action.config_schema),
            action.produces.as_deref().unwrap_or("no artifact")
        );
    }
    println!();
    println!("Artifact types:");
    for artifact in catalog.artifact_type_infos() {
        println!(
            "  {:<28} {} {{{}}}",
            artifact.id,
            artifact.name,
            fields(&artifact.schema)
        );
    }
    println!();
    println!("Entity kinds:");
    for kind in &catalog.entity_kind_infos {
        println!(
            "  {:<28} state {{{}}}",
            kind.kind,
            fields(&kind.state_schema)
        );
    }
    println!();
    println!("Scheduled jobs (run by the host):");
    for job in catalog.jobs.values() {
        println!("  {:<28} {}: {}", job.id, job.display_name, job.description);
        println!("  {:<28} every {} s", "", job.every_seconds);
    }
    println!();
    println!("Queries (read-only; `query <ID> --input <JSON>`, * = required input field):");
    if catalog.queries.is_empty() {
        println!("  (none)");
    }
    for query in catalog.query_infos() {
        println!(
            "  {:<28} {}: {}",
            query.id, query.display_name, query.description
        );
        println!(
            "  {:<28} input {{{}}} -> {{{}}}",
            "",
            fields(&query.input_schema),
            fields(&query.result_schema)
        );
    }
    println!();
    println!("Imports (everything the plugin can reach):");
    for import in &catalog.imports {
        println!("  {import}");
    }
}

fn compact(value: &Value) -> String {
    value.to_string()
}

fn actor(value: &Value) -> String {
    format!(
        "{}:{}",
        value["type"].as_str().unwrap_or("?"),
        value["id"].as_str().unwrap_or("?")
    )
}

/// One query's answer, as `query` prints it (from the `--json` shape).
pub fn answer(outcome: &Value) {
    if outcome["ok"] == Value::Bool(true) {
        println!("{} answered:", outcome["query"].as_str().unwrap_or("?"));
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome["result"]).unwrap_or_default()
        );
    } else {
        let error = &outcome["error"];
        println!(
            "{} failed: {} ({})",
            outcome["query"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("?"),
            error["kind"].as_str().unwrap_or("?")
        );
    }
    for line in outcome["logs"].as_array().into_iter().flatten() {
        println!(
            "  log {}: {}",
            line["level"].as_str().unwrap_or("?"),
            line["message"].as_str().unwrap_or("?")
        );
    }
}

/// One run's outcome, as `run` prints it (from the `--json` shape).
pub fn outcome(outcome: &Value) {
    if let Some(runs) = outcome["runs"].as_array() {
        println!("advanced the clock: {} job run(s)", runs.len());
        for run in runs {
            self::outcome(run);
        }
        return;
    }
    let action = outcome["action"].as_str().unwrap_or("?");
    let run_id = outcome["runId"].as_str().unwrap_or("?");
    if outcome["ok"] == Value::Bool(true) {
        println!("ok  {action}  (run {run_id})");
        if let Some(id) = outcome["externalId"].as_str() {
            println!("  external id {id}");
        }
        if !outcome["artifact"].is_null() {
            println!("  artifact    {}", compact(&outcome["artifact"]));
        }
    } else {
        let error = &outcome["error"];
        println!(
            "FAILED  {action}  (run {run_id}): {} {}",
            error["kind"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("")
        );
    }
    for change in outcome["changes"].as_array().into_iter().flatten() {
        let verb = match (change["prev"].is_null(), change["next"].is_null()) {
            (true, _) => "created",
            (_, true) => "deleted",
            _ => "changed",
        };
        println!(
            "  change      {}/{} {verb} {} by {}",
            change["kind"].as_str().unwrap_or("?"),
            change["entityId"].as_str().unwrap_or("?"),
            compact(&change["changedFields"]),
            actor(&change["actor"])
        );
    }
    for event in outcome["events"].as_array().into_iter().flatten() {
        println!(
            "  event       {} (context {}) {}",
            event["trigger"].as_str().unwrap_or("?"),
            event["contextKey"].as_str().unwrap_or("-"),
            compact(&event["payload"])
        );
    }
    if outcome["changes"].as_array().is_some_and(Vec::is_empty)
        && outcome["ok"] == Value::Bool(true)
    {
        println!("  (no entity field changed, so no trigger fired)");
    }
    for line in outcome["logs"].as_array().into_iter().flatten() {
        println!(
            "  log         {} {}",
            line["level"].as_str().unwrap_or("?"),
            line["message"].as_str().unwrap_or("")
        );
    }
    if let Some(runs) = outcome.get("automationRuns")
        && let Ok(runs) = serde_json::from_value::<Vec<AutomationRun>>(runs.clone())
        && !runs.is_empty()
    {
        automation_runs(&runs);
    }
}

/// One line about an automation run: where it stands and why.
pub fn automation_run_line(run: &AutomationRun) {
    let mut line = format!(
        "automation {}  run {}  {}  (event {} {}, context {}, depth {}, attempts {})",
        run.automation,
        run.automation_run_id,
        run.status.as_str(),
        run.trigger,
        run.event_id,
        run.context_key.as_deref().unwrap_or("-"),
        run.depth,
        run.attempts
    );
    if let Some(error) = &run.error {
        line.push_str(&format!(
            ": {}{} {}",
            error.kind,
            error
                .step
                .as_deref()
                .map(|step| format!(" in step {step}"))
                .unwrap_or_default(),
            error.message
        ));
    }
    if let Some(due) = run
        .next_attempt_at
        .as_deref()
        .filter(|_| !run.status.is_finished())
    {
        line.push_str(&format!("; next attempt at {due}"));
    }
    println!("{line}");
}

/// Automation runs, each a line and a line per step.
pub fn automation_runs(runs: &[AutomationRun]) {
    println!("automation runs ({}):", runs.len());
    for run in runs {
        print!("  ");
        automation_run_line(run);
        for step in &run.steps {
            let result = match (&step.error, step.ok) {
                (Some(error), _) => format!("FAILED {} {}", error.kind, error.message),
                (None, true) => format!(
                    "ok{}",
                    step.external_id
                        .as_deref()
                        .map(|id| format!(", external id {id}"))
                        .unwrap_or_default()
                ),
                (None, false) => "FAILED".to_owned(),
            };
            println!(
                "    step {}  {}  (run {}): {result}; {} event(s)",
                step.id,
                step.action,
                step.run_id.as_deref().unwrap_or("-"),
                step.events.len()
            );
        }
    }
}

/// One line about a job run, as `serve` prints it.
pub fn job_line(outcome: &RunOutcome) {
    match &outcome.result {
        Ok(_) => println!(
            "job {}  run {}  ok  ({} change(s), {} event(s))",
            outcome.action,
            outcome.run_id,
            outcome.changes.len(),
            outcome.events.len()
        ),
        Err(failure) => println!(
            "job {}  run {}  FAILED {} {}",
            outcome.action,
            outcome.run_id,
            failure.kind(),
            failure.message()
        ),
    }
}

pub fn history(changes: &[ChangeRecord], events: &[EventRecord]) {
    println!("Changes ({}), oldest first:", changes.len());
    for change in changes {
        println!(
            "  {}  {}/{}  [{}]  by {}  run {}",
            change.occurred_at,
            change.kind,
            change.entity_id,
            change.changed_fields.join(", "),
            actor(&json!(change.actor)),
            change.run_id.as_deref().unwrap_or("-")
        );
        if let Some(next) = &change.next {
            println!("      now {next}");
        }
    }
    println!("Events ({}), oldest first:", events.len());
    for event in events {
        println!(
            "  {}  {}  context {}  run {}",
            event.occurred_at,
            event.trigger,
            event.context_key.as_deref().unwrap_or("-"),
            event.run_id.as_deref().unwrap_or("-")
        );
        println!("      payload {}", event.payload);
    }
}

pub fn scenario(report: &ScenarioReport, file: &Path, detailed: bool) {
    println!("Scenario {:?} ({})", report.name, file.display());
    for step in &report.steps {
        let label = match &step.id {
            Some(id) => format!("{} [{id}]", step.action),
            None => step.action.clone(),
        };
        println!(
            "  step {}: {label} ... {}",
            step.index,
            if step.passed { "passed" } else { "FAILED" }
        );
        if let Some(error) = &step.error {
            println!("    error: {error}");
        }
        for mismatch in &step.mismatches {
            println!("    {} expected: {}", mismatch.what, mismatch.expected);
            println!("    {} actual:   {}", mismatch.what, mismatch.actual);
        }
        if detailed && let Some(outcome_json) = &step.outcome {
            outcome(outcome_json);
            println!();
        }
    }
    let passed = report.steps.iter().filter(|step| step.passed).count();
    println!(
        "  {} step(s): {passed} passed, {} failed",
        report.steps.len(),
        report.steps.len() - passed
    );
}
