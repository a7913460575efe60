//! Scenario files: plugin tests written as JSON, no Rust needed.
//!
//! A scenario fixes the clock, runs steps on a fresh in-memory store, and
//! checks each step's outcome against what it expects. A later step can
//! use an earlier step's outcome through `{{<step-id>.<path>}}` templates.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::automation::{AutomationRun, Automations, AutomationsError};
use crate::backend::MemoryBackend;
use crate::catalog::Catalog;
use crate::harness::Harness;
use crate::plugin_host::PluginHost;
use crate::records::Actor;
use crate::run::{QueryRequest, RunRequest};
use crate::wasm::Plugin;

/// A scenario as written in its file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    /// Names the scenario in its report.
    pub name: String,
    /// What the scenario shows, for a human; the demo prints it before
    /// running the steps.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the host clock stands; the real clock when absent.
    #[serde(default)]
    pub now: Option<DateTime<Utc>>,
    /// The plugins to load: component paths relative to the file, or the
    /// names of shipped plugins (see [`shipped_plugins`]); every shipped
    /// plugin when absent.
    #[serde(default)]
    pub plugins: Option<Vec<String>>,
    /// Automations, as in an automations file's `automations`. After each
    /// step the host dispatches until nothing more is due at the
    /// scenario's clock.
    #[serde(default)]
    pub automations: Option<Vec<Value>>,
    /// The steps, kept as written: templates are resolved just before
    /// each step runs.
    pub steps: Vec<Value>,
    /// The folder of the file, which `plugins` paths are relative to.
    #[serde(skip)]
    pub folder: Option<std::path::PathBuf>,
}

/// The plugins this build of the harness ships, by name: the components
/// the workspace built next to it (the maintenance plugin first).
pub fn shipped_plugins() -> Vec<(&'static str, std::path::PathBuf)> {
    [
        (
            "maintenance",
            option_env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN"),
        ),
        (
            "notifications",
            option_env!("AUTOMATION_HARNESS_NOTIFICATIONS_PLUGIN"),
        ),
    ]
    .into_iter()
    .filter_map(|(name, path)| path.map(|path| (name, std::path::PathBuf::from(path))))
    .collect()
}

/// One step, its templates resolved.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Step {
    /// Names the step's outcome for later templates.
    #[serde(default)]
    pub id: Option<String>,
    /// The action, local or qualified.
    pub run: String,
    /// The action's config; `{}` when absent.
    #[serde(default = "empty_object")]
    pub config: Value,
    /// The actor the run is attributed to, an object with `type`, `id` and
    /// optionally `name`; none when absent.
    #[serde(default)]
    pub actor: Option<Actor>,
    /// The run's id; the host draws one when absent.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Values masked in the changes and events the run persists.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// What the outcome must look like; without it the step passes unless
    /// it could not run at all, even when the action fails.
    #[serde(default)]
    pub expect: Option<Expectation>,
}

/// A step that moves the clock: `{ "advance": "PT2M", "expect": … }`.
/// Its outcome gathers every job run on the way: `ok` when all
/// succeeded, `runs`, and all their `changes`, `events` and `logs` in
/// order.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdvanceStep {
    /// Names the step's gathered outcome for later templates.
    #[serde(default)]
    pub id: Option<String>,
    /// An ISO 8601 duration, such as `PT2M`.
    pub advance: String,
    /// What the gathered outcome must look like; without it the step passes
    /// unless it could not run at all, even when a job fails.
    #[serde(default)]
    pub expect: Option<Expectation>,
}

/// A step that asks a read-only query:
/// `{ "query": "maintenance.get", "input": {…}, "expect": … }`. Its
/// outcome is `{"ok", "result", "error"}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QueryStep {
    /// Names the step's outcome for later templates.
    #[serde(default)]
    pub id: Option<String>,
    /// The query, local or qualified.
    pub query: String,
    /// The query's input; `{}` when absent.
    #[serde(default = "empty_object")]
    pub input: Value,
    /// What the answer must look like; without it the step passes unless
    /// it could not run at all, even when the query fails.
    #[serde(default)]
    pub expect: Option<QueryExpectation>,
}

/// What a query step expects of its answer: only what an answer has.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryExpectation {
    /// Whether the query must answer (`true`) or fail (`false`).
    pub ok: Option<bool>,
    /// Matched as a subset of the result.
    pub result: Option<Value>,
    /// What the failure must look like.
    pub error: Option<ErrorExpectation>,
}

impl From<QueryExpectation> for Expectation {
    fn from(expect: QueryExpectation) -> Self {
        Expectation {
            ok: expect.ok,
            result: expect.result,
            error: expect.error,
            ..Expectation::default()
        }
    }
}

fn is_advance(raw: &Value) -> bool {
    raw.get("advance").is_some()
}

fn is_query(raw: &Value) -> bool {
    raw.get("query").is_some()
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// What a step expects of its outcome; every key is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expectation {
    /// Whether the run must succeed (`true`) or fail (`false`).
    pub ok: Option<bool>,
    /// Equal to the outcome's `externalId`.
    pub external_id: Option<Value>,
    /// Matched as a subset of the artifact.
    pub artifact: Option<Value>,
    /// Matched as a subset of a query step's result.
    pub result: Option<Value>,
    /// What the failing run's error must look like.
    pub error: Option<ErrorExpectation>,
    /// Every event fired, in order, each matched as a subset.
    pub events: Option<Vec<Value>>,
    /// Each string must be contained in some log line.
    pub logs: Option<Vec<String>>,
    /// Every automation run that started or progressed while the step was
    /// processed, in the order they started, each matched as a subset of
    /// its record.
    pub automation_runs: Option<Vec<Value>>,
}

/// What a failing step expects of its error.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorExpectation {
    /// Equal to the error's kind.
    pub kind: Option<String>,
    /// Contained in the error's message.
    pub message: Option<String>,
    /// Matched as a subset of the problems.
    pub problems: Option<Value>,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        let mut scenario: Scenario = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid scenario", path.display()))?;
        scenario.folder = path.parent().map(Path::to_owned);
        if let Some(now) = scenario.now {
            crate::clock::check_instant(now)
                .with_context(|| format!("{}: \"now\" is out of range", path.display()))?;
        }
        for (index, step) in scenario.steps.iter().enumerate() {
            let malformed = || format!("{}: step {} is malformed", path.display(), index + 1);
            if is_advance(step) {
                let advance = AdvanceStep::deserialize(step).with_context(malformed)?;
                crate::clock::parse_duration(&advance.advance).with_context(malformed)?;
            } else if is_query(step) {
                QueryStep::deserialize(step).with_context(malformed)?;
            } else {
                Step::deserialize(step).with_context(malformed)?;
            }
        }
        Ok(scenario)
    }
}

impl Scenario {
    /// The components its `plugins` name, shipped names resolved and paths
    /// taken relative to the file; `None` when it names none.
    pub fn plugin_paths(&self) -> anyhow::Result<Option<Vec<std::path::PathBuf>>> {
        let Some(plugins) = &self.plugins else {
            return Ok(None);
        };
        let shipped = shipped_plugins();
        plugins
            .iter()
            .map(|given| {
                if let Some((_, path)) = shipped.iter().find(|(name, _)| name == given) {
                    return Ok(path.clone());
                }
                let path = Path::new(given);
                let path = match &self.folder {
                    Some(folder) if path.is_relative() => folder.join(path),
                    _ => path.to_owned(),
                };
                anyhow::ensure!(
                    path.exists(),
                    "scenario {:?}: plugins: no component at {} and no shipped plugin named {given:?} \
                     (shipped: {})",
                    self.name,
                    path.display(),
                    shipped.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
                );
                Ok(path)
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Some)
    }

    /// Its automations checked against `catalogs`; `None` when it has
    /// none.
    pub fn automations(
        &self,
        catalogs: &[&Catalog],
    ) -> Result<Option<Automations>, AutomationsError> {
        let Some(automations) = &self.automations else {
            return Ok(None);
        };
        let document = serde_json::json!({ "automations": automations });
        Automations::from_document(&format!("scenario {:?}", self.name), &document, catalogs)
            .map(Some)
    }
}

/// A mismatch between what a step expected and what happened.
#[derive(Clone, Debug, Serialize)]
pub struct Mismatch {
    /// What was compared, such as `artifact.status` or `events`.
    pub what: String,
    /// The value the step expected; for `logs`, the text no line contained.
    pub expected: Value,
    /// The value found in the outcome, `null` when it had none; for `logs`,
    /// every line's message.
    pub actual: Value,
}

/// How one step went.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// 1-based.
    pub index: usize,
    /// The step's `id`, when it has one.
    pub id: Option<String>,
    /// The action the step ran, as written, `advance <duration>` for a
    /// step that moves the clock, or `query <id>` for a query.
    pub action: String,
    /// Whether the step ran and every expectation held.
    pub passed: bool,
    /// Why the step could not run at all, such as an unknown action.
    pub error: Option<String>,
    /// Every expectation that did not hold; empty when the step could not
    /// run.
    pub mismatches: Vec<Mismatch>,
    /// The run's outcome, as `run --json` prints it.
    pub outcome: Option<Value>,
}

/// How a scenario went.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// The scenario's name, as its file gives it.
    pub name: String,
    /// Whether every step passed.
    pub passed: bool,
    /// How each step went, in the file's order.
    pub steps: Vec<StepReport>,
}

/// Runs `scenario` against `plugin` on a fresh in-memory store.
pub fn run_scenario(plugin: &Plugin, scenario: &Scenario) -> ScenarioReport {
    run_scenario_with(std::slice::from_ref(plugin), scenario)
}

/// Runs `scenario` on a fresh in-memory store against `plugins` side by
/// side: a step names an action by qualified id, or by a local id one of
/// them declares.
pub fn run_scenario_with(plugins: &[Plugin], scenario: &Scenario) -> ScenarioReport {
    let mut builder = Harness::builder().backend(Arc::new(MemoryBackend::new()));
    // Advancing time needs a clock the harness can move.
    let moves_time = scenario.steps.iter().any(is_advance);
    match scenario.now {
        Some(now) => builder = builder.fixed_clock(now),
        None if moves_time => builder = builder.fixed_clock(Utc::now()),
        None => {}
    }
    let loaded = builder.with_plugins(plugins.to_vec()).and_then(|host| {
        match scenario.automations(&host.catalogs())? {
            Some(automations) => Ok(host.with_automations(automations)),
            None => Ok(host),
        }
    });
    let harness = match loaded {
        Ok(host) => host,
        Err(error) => {
            return ScenarioReport {
                name: scenario.name.clone(),
                passed: false,
                steps: vec![StepReport {
                    index: 0,
                    id: None,
                    action: "load".into(),
                    passed: false,
                    error: Some(format!("{error:#}")),
                    mismatches: Vec::new(),
                    outcome: None,
                }],
            };
        }
    };
    let mut outcomes: BTreeMap<String, Value> = BTreeMap::new();
    let mut steps = Vec::new();
    for (index, raw) in scenario.steps.iter().enumerate() {
        let report = run_step(&harness, index + 1, raw, &outcomes);
        if let (Some(id), Some(outcome)) = (&report.id, &report.outcome) {
            outcomes.insert(id.clone(), outcome.clone());
        }
        steps.push(report);
    }
    ScenarioReport {
        name: scenario.name.clone(),
        passed: steps.iter().all(|step| step.passed),
        steps,
    }
}

fn run_step(
    harness: &PluginHost,
    index: usize,
    raw: &Value,
    outcomes: &BTreeMap<String, Value>,
) -> StepReport {
    let mut report = StepReport {
        index,
        id: raw.get("id").and_then(Value::as_str).map(str::to_owned),
        action: match (
            raw.get("advance").and_then(Value::as_str),
            raw.get("query").and_then(Value::as_str),
        ) {
            (Some(duration), _) => format!("advance {duration}"),
            (None, Some(query)) => format!("query {query}"),
            (None, None) => raw
                .get("run")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        },
        passed: false,
        error: None,
        mismatches: Vec::new(),
        outcome: None,
    };
    // The run part resolves against earlier steps; `expect` may also name
    // this step's own outcome (`{{park.externalId}}` inside step `park`).
    let mut run_part = raw.clone();
    let expect_raw = run_part
        .as_object_mut()
        .and_then(|step| step.remove("expect"));
    let (id, outcome) = match run_part_of(harness, &run_part, outcomes) {
        Ok(ran) => ran,
        Err(error) => {
            report.error = Some(format!("{error:#}"));
            return report;
        }
    };
    report.outcome = Some(outcome.clone());
    if let Some(expect_raw) = expect_raw {
        let mut visible = outcomes.clone();
        if let Some(id) = &id {
            visible.insert(id.clone(), outcome.clone());
        }
        let expected = resolve(&expect_raw, &visible).and_then(|value| {
            if is_query(raw) {
                QueryExpectation::deserialize(&value).map(Expectation::from)
            } else {
                Expectation::deserialize(&value)
            }
            .map_err(|error| anyhow!("{error}"))
        });
        match expected {
            Ok(expect) => report.mismatches = check(&expect, &outcome),
            Err(error) => {
                report.error = Some(format!("expect: {error:#}"));
                return report;
            }
        }
    }
    report.passed = report.mismatches.is_empty();
    report
}

/// Runs what a step does, then, when the scenario has automations,
/// dispatches until nothing more is due, returning the step's id and its
/// outcome as JSON (with `automationRuns` when there are automations).
fn run_part_of(
    harness: &PluginHost,
    run_part: &Value,
    outcomes: &BTreeMap<String, Value>,
) -> anyhow::Result<(Option<String>, Value)> {
    // A query writes nothing, so it starts and moves no automation run.
    if harness.automations().is_none() || is_query(run_part) {
        return run_only(harness, run_part, outcomes);
    }
    // Everything recorded before, to tell what the step started or moved,
    // whether its own dispatch or an `advance` along the way did it.
    let before: HashMap<String, AutomationRun> = harness
        .automation_runs_since(0)?
        .into_iter()
        .map(|run| (run.automation_run_id.clone(), run))
        .collect();
    let (id, mut outcome) = run_only(harness, run_part, outcomes)?;
    harness.dispatch()?;
    let touched: Vec<AutomationRun> = harness
        .automation_runs_since(0)?
        .into_iter()
        .filter(|run| before.get(&run.automation_run_id) != Some(run))
        .collect();
    outcome["automationRuns"] = serde_json::to_value(touched)?;
    Ok((id, outcome))
}

/// Runs what a step does, returning its id and its outcome as JSON.
fn run_only(
    harness: &PluginHost,
    run_part: &Value,
    outcomes: &BTreeMap<String, Value>,
) -> anyhow::Result<(Option<String>, Value)> {
    let resolved = resolve(run_part, outcomes)?;
    if is_advance(&resolved) {
        let step = AdvanceStep::deserialize(&resolved).map_err(|error| anyhow!("{error}"))?;
        let by = crate::clock::parse_duration(&step.advance)?;
        // The clock must stay where the plugin can be shown it.
        let out_of_range = || format!("advancing by {} moves the clock out of range", step.advance);
        let end = harness
            .clock()
            .now()
            .checked_add_signed(by)
            .ok_or_else(|| anyhow!("{}", out_of_range()))?;
        crate::clock::check_instant(end).with_context(out_of_range)?;
        let runs: Vec<Value> = harness
            .advance(by)?
            .iter()
            .map(|run| run.to_json())
            .collect();
        let gather = |field: &str| -> Value {
            Value::Array(
                runs.iter()
                    .flat_map(|run| run[field].as_array().cloned().unwrap_or_default())
                    .collect(),
            )
        };
        let outcome = serde_json::json!({
            "ok": runs.iter().all(|run| run["ok"] == Value::Bool(true)),
            "runs": runs,
            "changes": gather("changes"),
            "events": gather("events"),
            "logs": gather("logs"),
        });
        return Ok((step.id, outcome));
    }
    if is_query(&resolved) {
        let step = QueryStep::deserialize(&resolved).map_err(|error| anyhow!("{error}"))?;
        let outcome = harness.query(QueryRequest::new(step.query, step.input))?;
        return Ok((step.id, outcome.answer_json()));
    }
    let step = Step::deserialize(&resolved).map_err(|error| anyhow!("{error}"))?;
    let mut request = RunRequest::new(step.run.clone(), step.config.clone());
    request.actor = step.actor.clone();
    request.run_id = step.run_id.clone();
    request.secrets = step.secrets.clone();
    Ok((step.id, harness.run(request)?.to_json()))
}

/// Compares an outcome with what was expected of it.
pub fn check(expect: &Expectation, outcome: &Value) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    let mut compare = |what: &str, expected: &Value, actual: &Value, matches: bool| {
        if !matches {
            mismatches.push(Mismatch {
                what: what.to_owned(),
                expected: expected.clone(),
                actual: actual.clone(),
            });
        }
    };
    let field = |name: &str| outcome.get(name).cloned().unwrap_or(Value::Null);
    if let Some(ok) = expect.ok {
        compare(
            "ok",
            &Value::Bool(ok),
            &field("ok"),
            field("ok") == Value::Bool(ok),
        );
    }
    if let Some(external_id) = &expect.external_id {
        compare(
            "externalId",
            external_id,
            &field("externalId"),
            *external_id == field("externalId"),
        );
    }
    if let Some(artifact) = &expect.artifact {
        let actual = field("artifact");
        compare("artifact", artifact, &actual, is_subset(artifact, &actual));
    }
    if let Some(result) = &expect.result {
        let actual = field("result");
        compare("result", result, &actual, is_subset(result, &actual));
    }
    if let Some(error) = &expect.error {
        let actual = field("error");
        if let Some(kind) = &error.kind {
            let actual_kind = actual.get("kind").cloned().unwrap_or(Value::Null);
            compare(
                "error.kind",
                &Value::from(kind.as_str()),
                &actual_kind,
                actual_kind == *kind.as_str(),
            );
        }
        if let Some(message) = &error.message {
            let actual_message = actual.get("message").cloned().unwrap_or(Value::Null);
            let contained = actual_message
                .as_str()
                .is_some_and(|text| text.contains(message.as_str()));
            compare(
                "error.message",
                &Value::from(message.as_str()),
                &actual_message,
                contained,
            );
        }
        if let Some(problems) = &error.problems {
            let actual_problems = actual.get("problems").cloned().unwrap_or(Value::Null);
            compare(
                "error.problems",
                problems,
                &actual_problems,
                is_subset(problems, &actual_problems),
            );
        }
    }
    if let Some(events) = &expect.events {
        let expected = Value::Array(events.clone());
        let actual = field("events");
        compare("events", &expected, &actual, is_subset(&expected, &actual));
    }
    if let Some(runs) = &expect.automation_runs {
        let expected = Value::Array(runs.clone());
        let actual = field("automationRuns");
        compare(
            "automationRuns",
            &expected,
            &actual,
            is_subset(&expected, &actual),
        );
    }
    if let Some(logs) = &expect.logs {
        let lines: Vec<String> = field("logs")
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|line| line.get("message").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for wanted in logs {
            let found = lines.iter().any(|line| line.contains(wanted.as_str()));
            compare(
                "logs",
                &Value::from(wanted.as_str()),
                &Value::from(lines.clone()),
                found,
            );
        }
    }
    mismatches
}

/// Whether `actual` holds everything `expected` says: every key of an
/// expected object present and matching, arrays of the same length
/// matching item by item, scalars equal.
pub fn is_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => expected
            .iter()
            .all(|(key, value)| actual.get(key).is_some_and(|found| is_subset(value, found))),
        (Value::Array(expected), Value::Array(actual)) => {
            expected.len() == actual.len()
                && expected
                    .iter()
                    .zip(actual)
                    .all(|(expected, actual)| is_subset(expected, actual))
        }
        (expected, actual) => expected == actual,
    }
}

/// Resolves the templates of a step against earlier steps' outcomes.
fn resolve(value: &Value, outcomes: &BTreeMap<String, Value>) -> anyhow::Result<Value> {
    Ok(crate::template::resolve(value, outcomes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subsets_match_keys_arrays_and_scalars() {
        let actual = json!({"a": 1, "b": [{"x": 1, "y": 2}], "c": "s"});
        assert!(is_subset(&json!({"b": [{"y": 2}]}), &actual));
        assert!(!is_subset(&json!({"b": []}), &actual));
        assert!(!is_subset(&json!({"d": null}), &actual));
        assert!(!is_subset(&json!({"a": "1"}), &actual));
    }
}
