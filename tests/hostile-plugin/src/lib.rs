//! A plugin that misbehaves on purpose: each action breaks the sandbox or
//! the contract in one way. Only the harness's tests use it.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({
    path: "../../wit",
    world: "automation-plugin",
});

use checkstack::automation::entity::{Mutation, MutationOptions};
use checkstack::automation::storage;
use exports::checkstack::automation::plugin::{
    ActionDefinition, ActionError, ActionSuccess, ArtifactType, EntityChange, EntityKind, Guest,
    JobContext, PluginDefinition, RunContext, TriggerDefinition, TriggerEvent,
};

/// The misbehaviours, each an action of the plugin.
const ACTIONS: &[&str] = &[
    "loop_forever",
    "allocate_forever",
    "panic",
    "overflow_stack",
    "commit_twice",
    "drop_mutation",
    "write_without_mutation",
    "bad_artifact",
    "huge_artifact",
    "invalid_json_artifact",
    "invalid_json_state",
    "fire_undeclared_trigger",
    "well_behaved",
    "count_runs",
];

/// How many times `count_runs` ran in this instance: what a run can see
/// of an earlier one when the host reuses instances.
static RUNS_SEEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

const OBJECT_SCHEMA: &str = r#"{"type":"object"}"#;
const ARTIFACT_SCHEMA: &str =
    r#"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"#;

struct Hostile;

fn options(context: &RunContext) -> MutationOptions {
    MutationOptions {
        run_id: Some(context.run_id.clone()),
        actor: context.actor.clone(),
    }
}

fn internal(error: impl std::fmt::Debug) -> ActionError {
    ActionError::Internal(format!("{error:?}"))
}

fn artifact(text: String) -> Result<ActionSuccess, ActionError> {
    Ok(ActionSuccess {
        external_id: Some("t1".into()),
        artifact: Some(text),
    })
}

/// Writes one entity through a mutation, as a well-behaved plugin does.
fn write_thing(context: &RunContext) -> Result<Mutation, ActionError> {
    let mutation = Mutation::open("thing", "t1", &options(context)).map_err(internal)?;
    storage::set("thing/t1", b"written").map_err(internal)?;
    Ok(mutation)
}

/// Recurses until the stack overflows: the point of the action.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64, trail: &mut [u8; 64]) -> u64 {
    trail[(depth % 64) as usize] = depth as u8;
    let mut local = *trail;
    recurse(depth + 1, &mut local) + u64::from(local[0])
}

impl Guest for Hostile {
    fn definitions() -> PluginDefinition {
        let trigger_id = if cfg!(feature = "foreign-ids") {
            "maintenance.created"
        } else {
            "changed"
        };
        PluginDefinition {
            id: "hostile".into(),
            version: "0.1.0".into(),
            triggers: vec![TriggerDefinition {
                id: trigger_id.into(),
                display_name: "Changed".into(),
                description: "A thing changed".into(),
                category: "Test".into(),
                icon: "Bug".into(),
                payload_schema: OBJECT_SCHEMA.into(),
                context_key: None,
                entity_kind: Some("thing".into()),
            }],
            actions: ACTIONS
                .iter()
                .map(|id| ActionDefinition {
                    id: (*id).into(),
                    display_name: (*id).into(),
                    description: "misbehaves".into(),
                    category: "Test".into(),
                    icon: "Bug".into(),
                    config_version: 1,
                    config_schema: OBJECT_SCHEMA.into(),
                    produces: Some("result".into()),
                })
                .collect(),
            artifact_types: vec![ArtifactType {
                id: "result".into(),
                name: "Result".into(),
                description: "A number".into(),
                schema: ARTIFACT_SCHEMA.into(),
            }],
            entity_kinds: vec![EntityKind {
                kind: "thing".into(),
                state_schema: OBJECT_SCHEMA.into(),
            }],
            jobs: Vec::new(),
        }
    }

    fn run_action(
        action_id: String,
        _config: String,
        context: RunContext,
    ) -> Result<ActionSuccess, ActionError> {
        match action_id.as_str() {
            "loop_forever" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "allocate_forever" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            "overflow_stack" => {
                let mut trail = [0u8; 64];
                let depth = recurse(0, &mut trail);
                artifact(format!(r#"{{"n":{depth}}}"#))
            }
            "commit_twice" => {
                let mutation = write_thing(&context)?;
                mutation.commit(Some(r#"{"v":1}"#)).map_err(internal)?;
                mutation.commit(Some(r#"{"v":2}"#)).map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            "drop_mutation" => {
                let mutation = write_thing(&context)?;
                drop(mutation);
                artifact(r#"{"n":1}"#.into())
            }
            "write_without_mutation" => {
                storage::set("loose", b"no entity owns this").map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            "bad_artifact" => artifact(r#"{"n":"not a number"}"#.into()),
            "huge_artifact" => {
                let padding = "x".repeat(4 << 20);
                artifact(format!(r#"{{"n":1,"padding":"{padding}"}}"#))
            }
            "invalid_json_artifact" => artifact("{not json".into()),
            "invalid_json_state" => {
                let mutation = write_thing(&context)?;
                mutation.commit(Some("{not json")).map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            #[cfg(feature = "filesystem")]
            "read_files" => {
                let entries = std::fs::read_dir("/").map(|dir| dir.count()).unwrap_or(0);
                artifact(format!(r#"{{"n":{entries}}}"#))
            }
            "fire_undeclared_trigger" => {
                let mutation = write_thing(&context)?;
                mutation
                    .commit(Some(r#"{"v":"undeclared"}"#))
                    .map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            "well_behaved" => {
                let mutation = write_thing(&context)?;
                mutation.commit(Some(r#"{"v":1}"#)).map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            "count_runs" => {
                let seen = RUNS_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                artifact(format!(r#"{{"n":{seen}}}"#))
            }
            other => Err(ActionError::NotFound(other.into())),
        }
    }

    fn run_job(_job_id: String, _context: JobContext) -> Result<(), ActionError> {
        Err(ActionError::NotFound("this plugin has no jobs".into()))
    }

    fn derive(change: EntityChange) -> Vec<TriggerEvent> {
        // `fire_undeclared_trigger` marks its state so the deriver, which
        // sees only the change, knows to misbehave.
        let trigger_id = if change
            .next
            .as_deref()
            .is_some_and(|next| next.contains("undeclared"))
        {
            "nonexistent"
        } else {
            "changed"
        };
        vec![TriggerEvent {
            trigger_id: trigger_id.into(),
            payload: change.next.unwrap_or_else(|| "{}".into()),
            context_key: Some(change.id),
        }]
    }
}

export!(Hostile);
