//! Automation definitions as written, and the checked set a host runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use chrono::Duration;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::Catalog;
use crate::clock::parse_duration;
use crate::records::{Actor, EventRecord};
use crate::schema::Schema;

/// The JSON Schema of an automations file, shipped for editors as
/// `host-harness/schemas/automations.schema.json`; the host checks every
/// file against it first.
pub const AUTOMATIONS_SCHEMA: &str = include_str!("../../schemas/automations.schema.json");

/// How deep a chain of automation runs may go unless the host says
/// otherwise: a run started by an event of depth 7 has depth 8, and one
/// more level is refused with `depth_limit`.
pub const DEFAULT_DEPTH_LIMIT: u32 = 8;

static FILE_SCHEMA: LazyLock<Result<Schema, String>> =
    LazyLock::new(|| Schema::compile(AUTOMATIONS_SCHEMA).map_err(|error| format!("{error:#}")));

/// One automation as written in a file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutomationDefinition {
    /// Unique among the loaded automations.
    pub id: String,
    /// What the automation does, for a human.
    #[serde(default)]
    pub name: Option<String>,
    /// A disabled automation is checked at load but starts nothing.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The qualified trigger id whose events start it.
    pub trigger: String,
    /// A CEL condition over the event; absent means every event.
    #[serde(default)]
    pub when: Option<String>,
    /// The actions to run, in order.
    pub steps: Vec<StepDefinition>,
    /// How failed steps are retried.
    #[serde(default)]
    pub retry: RetryDefinition,
}

fn enabled_by_default() -> bool {
    true
}

/// One step of an automation as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDefinition {
    /// Unique within the automation.
    pub id: String,
    /// The qualified action id.
    pub action: String,
    /// The action's config, a template resolved when the step runs.
    #[serde(default = "empty_object")]
    pub config: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// How an automation retries a step, as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryDefinition {
    /// Attempts per step, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// An ISO 8601 duration: attempt n+1 runs `backoff x 2^(n-1)` after
    /// attempt n failed.
    #[serde(default = "default_backoff")]
    pub backoff: String,
}

fn default_max_attempts() -> u32 {
    3
}

fn default_backoff() -> String {
    "PT30S".into()
}

impl Default for RetryDefinition {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            backoff: default_backoff(),
        }
    }
}

/// A checked automation: its definition, its compiled condition and its
/// backoff.
pub struct Automation {
    /// The definition as written.
    pub definition: AutomationDefinition,
    condition: Option<cel::Program>,
    backoff: Duration,
}

/// What a condition decided about one event.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Condition {
    /// The automation starts a run.
    Holds,
    /// It starts nothing and records nothing.
    Fails,
    /// The condition could not be decided: an error naming the
    /// automation, recorded as a failed run.
    Broken(String),
}

impl Automation {
    /// The automation's id.
    pub fn id(&self) -> &str {
        &self.definition.id
    }

    /// The step at `index`, when the automation has that many.
    pub fn step(&self, index: usize) -> Option<&StepDefinition> {
        self.definition.steps.get(index)
    }

    /// How long to wait before attempt `failed_attempt + 1` of a step:
    /// `backoff x 2^(failed_attempt-1)`, capped at a day.
    pub fn backoff_after(&self, failed_attempt: u32) -> Duration {
        let factor = 1i32 << failed_attempt.saturating_sub(1).min(16);
        (self.backoff * factor).min(Duration::days(1))
    }

    /// The most attempts one step gets.
    pub fn max_attempts(&self) -> u32 {
        self.definition.retry.max_attempts
    }

    /// Evaluates `when` over `event`.
    pub(crate) fn condition(&self, event: &EventRecord) -> Condition {
        let Some(program) = &self.condition else {
            return Condition::Holds;
        };
        let mut context = cel::Context::default();
        let variables = [
            ("payload", event.payload.clone()),
            ("contextKey", serde_json::json!(event.context_key)),
            ("actor", actor_value(&event.actor)),
            ("trigger", Value::String(event.trigger.clone())),
        ];
        for (name, value) in variables {
            if let Err(error) = context.add_variable(name, value) {
                return Condition::Broken(format!(
                    "automation {}: when: {name} cannot be given to CEL: {error}",
                    self.id()
                ));
            }
        }
        match program.execute(&context) {
            Ok(cel::Value::Bool(true)) => Condition::Holds,
            Ok(cel::Value::Bool(false)) => Condition::Fails,
            Ok(other) => Condition::Broken(format!(
                "automation {}: when: the condition gave {:?}, not a boolean",
                self.id(),
                other
            )),
            Err(error) => Condition::Broken(format!(
                "automation {}: when: the condition failed: {error}",
                self.id()
            )),
        }
    }
}

/// The actor as CEL sees it: `type`, `id` and `name` (null when it has
/// none), so `actor.name` never fails.
fn actor_value(actor: &Actor) -> Value {
    serde_json::json!({ "type": actor.kind, "id": actor.id, "name": actor.name })
}

#[cfg(test)]
impl Automation {
    /// An automation taken as written, for the crate's unit tests.
    pub(crate) fn unchecked(definition: AutomationDefinition) -> Self {
        let backoff = parse_duration(&definition.retry.backoff).unwrap_or_default();
        Self {
            condition: definition
                .when
                .as_deref()
                .map(|when| compile_condition(when).expect("the condition compiles")),
            definition,
            backoff,
        }
    }
}

/// Every automation a host runs, checked against the loaded plugins'
/// catalogs, with the host's depth limit.
pub struct Automations {
    automations: Vec<Automation>,
    /// Indexes into `automations` of the enabled ones, by trigger.
    by_trigger: BTreeMap<String, Vec<usize>>,
    depth_limit: u32,
}

/// Why an automations file was refused: every problem, each naming the
/// automation and the field.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{source_name}: {}", problems.join("; "))]
pub struct AutomationsError {
    /// The file, or what stood in for one.
    pub source_name: String,
    /// One line per problem.
    pub problems: Vec<String>,
}

/// The roots and fields a step's templates may name under `trigger`.
const TRIGGER_FIELDS: &[&str] = &["payload", "contextKey", "actor", "eventId"];
/// The fields a step's templates may name under `steps.<id>`.
const STEP_FIELDS: &[&str] = &["artifact", "externalId"];
/// The variables a condition sees.
const CONDITION_VARIABLES: &[&str] = &["payload", "contextKey", "actor", "trigger"];

impl Automations {
    /// No automation: every event starts nothing.
    pub fn none() -> Self {
        Self {
            automations: Vec::new(),
            by_trigger: BTreeMap::new(),
            depth_limit: DEFAULT_DEPTH_LIMIT,
        }
    }

    /// Reads and checks an automations file against `catalogs`.
    pub fn load(path: &Path, catalogs: &[&Catalog]) -> Result<Self, AutomationsError> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| AutomationsError {
            source_name: source_name.clone(),
            problems: vec![format!("cannot read it: {error}")],
        })?;
        let document: Value = serde_json::from_str(&text).map_err(|error| AutomationsError {
            source_name: source_name.clone(),
            problems: vec![format!("not JSON: {error}")],
        })?;
        Self::from_document(&source_name, &document, catalogs)
    }

    /// Checks a document of the file's shape, `{"automations": [...]}`,
    /// against `catalogs`; `source_name` names it in errors.
    pub fn from_document(
        source_name: &str,
        document: &Value,
        catalogs: &[&Catalog],
    ) -> Result<Self, AutomationsError> {
        let refuse = |problems: Vec<String>| AutomationsError {
            source_name: source_name.to_owned(),
            problems,
        };
        let schema = FILE_SCHEMA
            .as_ref()
            .map_err(|error| refuse(vec![format!("the automations schema is broken: {error}")]))?;
        let problems = schema.problems(document);
        if !problems.is_empty() {
            return Err(refuse(
                problems
                    .iter()
                    .map(|problem| locate(document, &problem.path, &problem.message))
                    .collect(),
            ));
        }
        let definitions: Vec<AutomationDefinition> =
            serde_json::from_value(document["automations"].clone())
                .map_err(|error| refuse(vec![format!("automations: {error}")]))?;
        Self::from_definitions(source_name, definitions, catalogs)
    }

    /// Checks definitions against `catalogs`.
    pub fn from_definitions(
        source_name: &str,
        definitions: Vec<AutomationDefinition>,
        catalogs: &[&Catalog],
    ) -> Result<Self, AutomationsError> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        let mut automations = Vec::new();
        for definition in definitions {
            let mut report = |field: &str, problem: String| {
                problems.push(format!(
                    "automation {:?}: {field}: {problem}",
                    definition.id
                ));
            };
            if !seen.insert(definition.id.clone()) {
                report("id", "another automation has this id".into());
            }
            check_trigger(&definition.trigger, catalogs)
                .unwrap_or_else(|problem| report("trigger", problem));
            let condition = match &definition.when {
                None => None,
                Some(source) => match compile_condition(source) {
                    Ok(program) => Some(program),
                    Err(problem) => {
                        report("when", problem);
                        None
                    }
                },
            };
            let backoff = match parse_duration(&definition.retry.backoff) {
                Ok(backoff) if backoff > Duration::zero() => backoff,
                Ok(_) => {
                    report("retry.backoff", "must be longer than zero".into());
                    Duration::zero()
                }
                Err(error) => {
                    report("retry.backoff", format!("{error:#}"));
                    Duration::zero()
                }
            };
            let mut step_ids: Vec<&str> = Vec::new();
            for (index, step) in definition.steps.iter().enumerate() {
                let field = |name: &str| format!("steps[{index}].{name}");
                if step_ids.contains(&step.id.as_str()) {
                    report(
                        &field("id"),
                        format!("another step has the id {:?}", step.id),
                    );
                }
                check_action(&step.action, catalogs)
                    .unwrap_or_else(|problem| report(&field("action"), problem));
                for reference in crate::template::references(&step.config) {
                    check_reference(&reference, &step_ids, &definition.steps)
                        .unwrap_or_else(|problem| report(&field("config"), problem));
                }
                step_ids.push(&step.id);
            }
            automations.push(Automation {
                definition,
                condition,
                backoff,
            });
        }
        if !problems.is_empty() {
            return Err(AutomationsError {
                source_name: source_name.to_owned(),
                problems,
            });
        }
        Ok(Self {
            by_trigger: index_by_trigger(&automations),
            automations,
            depth_limit: DEFAULT_DEPTH_LIMIT,
        })
    }

    /// Automations taken as written, for the crate's unit tests.
    #[cfg(test)]
    pub(crate) fn unchecked(automations: Vec<Automation>) -> Self {
        Self {
            by_trigger: index_by_trigger(&automations),
            automations,
            depth_limit: DEFAULT_DEPTH_LIMIT,
        }
    }

    /// Sets how deep a chain of automation runs may go (at least 1).
    pub fn with_depth_limit(mut self, depth_limit: u32) -> Self {
        self.depth_limit = depth_limit.max(1);
        self
    }

    /// How deep a chain of automation runs may go.
    pub fn depth_limit(&self) -> u32 {
        self.depth_limit
    }

    /// Every automation, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Automation> {
        self.automations.iter()
    }

    /// Whether there is no automation at all.
    pub fn is_empty(&self) -> bool {
        self.automations.is_empty()
    }

    /// The automation with id `id`.
    pub fn get(&self, id: &str) -> Option<&Automation> {
        self.automations.iter().find(|a| a.definition.id == id)
    }

    /// The enabled automations `trigger`'s events start, in file order.
    pub(crate) fn started_by(&self, trigger: &str) -> impl Iterator<Item = &Automation> {
        self.by_trigger
            .get(trigger)
            .into_iter()
            .flatten()
            .map(|&index| &self.automations[index])
    }
}

impl std::fmt::Debug for Automations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Automations")
            .field(
                "ids",
                &self
                    .automations
                    .iter()
                    .map(Automation::id)
                    .collect::<Vec<_>>(),
            )
            .field("depth_limit", &self.depth_limit)
            .finish()
    }
}

/// The indexes of the enabled automations, by trigger.
fn index_by_trigger(automations: &[Automation]) -> BTreeMap<String, Vec<usize>> {
    let mut by_trigger: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, automation) in automations.iter().enumerate() {
        if automation.definition.enabled {
            by_trigger
                .entry(automation.definition.trigger.clone())
                .or_default()
                .push(index);
        }
    }
    by_trigger
}

/// A schema problem as one line naming the automation (by id, when it has
/// one) and the field.
fn locate(document: &Value, pointer: &str, message: &str) -> String {
    let mut segments = pointer.split('/').skip(1);
    match (segments.next(), segments.next()) {
        (Some("automations"), Some(index)) => {
            let id = document
                .pointer(&format!("/automations/{index}/id"))
                .and_then(Value::as_str)
                .map_or_else(|| format!("automations[{index}]"), |id| format!("{id:?}"));
            let field: Vec<String> = segments
                .map(|segment| match segment.parse::<usize>() {
                    Ok(n) => format!("[{n}]"),
                    Err(_) => format!(".{segment}"),
                })
                .collect();
            let field = field.concat();
            let field = field.trim_start_matches('.');
            if field.is_empty() {
                format!("automation {id}: {message}")
            } else {
                format!("automation {id}: {field}: {message}")
            }
        }
        _ if pointer.is_empty() => message.to_owned(),
        _ => format!("{}: {message}", pointer.trim_start_matches('/')),
    }
}

/// Whether some catalog declares `id` (qualified) among the ids `of`
/// lists; else what to say, listing the loaded ones of that sort.
fn check_declared<'a>(
    sort: &str,
    id: &str,
    catalogs: &[&'a Catalog],
    of: impl Fn(&'a Catalog) -> Vec<String>,
) -> Result<(), String> {
    let known: Vec<String> = catalogs.iter().flat_map(|catalog| of(catalog)).collect();
    if known.iter().any(|declared| declared == id) {
        return Ok(());
    }
    Err(format!(
        "unknown {sort} {id:?}; the loaded plugins have: {}",
        known.join(", ")
    ))
}

fn check_trigger(trigger: &str, catalogs: &[&Catalog]) -> Result<(), String> {
    check_declared("trigger", trigger, catalogs, |catalog| {
        catalog
            .trigger_infos()
            .map(|info| info.id.clone())
            .collect()
    })
}

fn check_action(action: &str, catalogs: &[&Catalog]) -> Result<(), String> {
    check_declared("action", action, catalogs, |catalog| {
        catalog.action_infos().map(|info| info.id.clone()).collect()
    })
}

/// A template of step `steps` may name the trigger's fields and the
/// artifact or external id of a step before it.
fn check_reference(
    reference: &str,
    earlier: &[&str],
    steps: &[StepDefinition],
) -> Result<(), String> {
    let template = format!("{{{{{reference}}}}}");
    let mut segments = reference.split('.');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("trigger"), Some(field), _) if TRIGGER_FIELDS.contains(&field) => Ok(()),
        (Some("trigger"), field, _) => Err(format!(
            "template {template}: trigger has {}, not {:?}",
            TRIGGER_FIELDS.join(", "),
            field.unwrap_or_default()
        )),
        (Some("steps"), Some(step), field) => {
            if !earlier.contains(&step) {
                let later = steps.iter().any(|s| s.id == step);
                return Err(format!(
                    "template {template}: {}",
                    if later {
                        format!("step {step:?} runs later")
                    } else {
                        format!("no step has the id {step:?}")
                    }
                ));
            }
            match field {
                Some(field) if STEP_FIELDS.contains(&field) => Ok(()),
                _ => Err(format!(
                    "template {template}: a step has {}",
                    STEP_FIELDS.join(" and ")
                )),
            }
        }
        _ => Err(format!(
            "template {template}: templates start with trigger. or steps."
        )),
    }
}

/// The names CEL's macros bind (`list.exists(x, ...)` binds `x`), which
/// the parser's references list among the variables. Read from the source:
/// a name inside a string literal only lets through what the parser would
/// have refused anyway at run time.
fn macro_variables(source: &str) -> Vec<&str> {
    const MACROS: &[&str] = &["all(", "exists(", "exists_one(", "map(", "filter("];
    let mut bound = Vec::new();
    for (at, _) in source.match_indices('.') {
        let rest = &source[at + 1..];
        let Some(macro_call) = MACROS.iter().find(|m| rest.starts_with(**m)) else {
            continue;
        };
        let arguments = rest[macro_call.len()..].trim_start();
        let name_length = arguments
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(arguments.len());
        if name_length > 0 && arguments[name_length..].trim_start().starts_with(',') {
            bound.push(&arguments[..name_length]);
        }
    }
    bound
}

/// Compiles a condition, refusing variables it cannot see.
fn compile_condition(source: &str) -> Result<cel::Program, String> {
    let program = cel::Program::compile(source).map_err(|error| {
        format!(
            "not a CEL expression: {}",
            error
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        )
    })?;
    let references = program.references();
    let bound = macro_variables(source);
    let mut unknown: Vec<&str> = references
        .variables()
        .into_iter()
        .filter(|name| {
            !CONDITION_VARIABLES.contains(name)
                && !bound.contains(name)
                // The accumulators the macros introduce.
                && !name.starts_with('@')
                && !name.starts_with("__")
        })
        .collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown variable {}; a condition sees {}",
            unknown.join(", "),
            CONDITION_VARIABLES.join(", ")
        ));
    }
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_may_bind_their_own_variables() {
        compile_condition("payload.systemIds.exists(s, s == 'db-1')").unwrap();
        compile_condition("[1, 2].all(n, n > 0) && actor.type == 'user'").unwrap();
        let unknown = compile_condition("payload.a == nope").unwrap_err();
        assert!(unknown.contains("unknown variable nope"), "{unknown}");
        let broken = compile_condition("payload.a ==").unwrap_err();
        assert!(broken.starts_with("not a CEL expression"), "{broken}");
    }

    fn automation(when: &str) -> Automation {
        Automation {
            definition: AutomationDefinition {
                id: "a".into(),
                name: None,
                enabled: true,
                trigger: "maintenance.updated".into(),
                when: Some(when.into()),
                steps: Vec::new(),
                retry: RetryDefinition::default(),
            },
            condition: Some(compile_condition(when).unwrap()),
            backoff: Duration::seconds(30),
        }
    }

    fn event(status: &str, systems: &[&str]) -> EventRecord {
        EventRecord {
            event_id: "e-1".into(),
            trigger: "maintenance.updated".into(),
            payload: serde_json::json!({"status": status, "systemIds": systems}),
            context_key: Some("w-1".into()),
            actor: Actor::system(),
            run_id: None,
            change_id: "c-1".into(),
            occurred_at: "2026-03-01T10:00:00.000Z".into(),
        }
    }

    #[test]
    fn conditions_decide_over_the_event() {
        let when = automation("payload.status == 'in_progress' && 'db-1' in payload.systemIds");
        assert_eq!(
            when.condition(&event("in_progress", &["db-1"])),
            Condition::Holds
        );
        assert_eq!(
            when.condition(&event("in_progress", &["db-2"])),
            Condition::Fails
        );
        assert_eq!(
            when.condition(&event("scheduled", &["db-1"])),
            Condition::Fails
        );
        let fields = automation(
            "trigger == 'maintenance.updated' && contextKey == 'w-1' && actor.type == 'system' \
             && actor.name == 'System'",
        );
        assert_eq!(fields.condition(&event("x", &[])), Condition::Holds);
        let Condition::Broken(message) = automation("payload.status").condition(&event("x", &[]))
        else {
            panic!("a string is not a boolean");
        };
        assert!(message.starts_with("automation a: when:"), "{message}");
        assert!(matches!(
            automation("payload.missing == 1").condition(&event("x", &[])),
            Condition::Broken(_)
        ));
    }

    #[test]
    fn backoff_doubles_per_failed_attempt() {
        let a = automation("true");
        assert_eq!(a.backoff_after(1), Duration::seconds(30));
        assert_eq!(a.backoff_after(2), Duration::seconds(60));
        assert_eq!(a.backoff_after(3), Duration::seconds(120));
        assert_eq!(a.backoff_after(40), Duration::days(1));
    }
}
