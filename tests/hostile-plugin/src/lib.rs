//! A plugin that misbehaves on purpose: each action breaks the sandbox or
//! the contract in one way. Only the harness's tests use it.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({
    path: "../../wit",
    world: "queryable-plugin",
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
    // Contract 0.3: the deriver names triggers by local id only, and may
    // not touch storage (`not-permitted`, not `unavailable`).
    "fire_qualified_trigger",
    "read_in_derive",
    "open_in_derive",
    "well_behaved",
    "count_runs",
    // Waiting, or trying to, inside a host call, where epoch interruption
    // never looks.
    "sleep_forever",
    "poll_forever",
    "block_forever",
    "read_stdin",
    "flood_stderr",
    "flood_stdout",
    "sleep_in_derive",
    // A failure after writes that would be recorded.
    "write_then_fail",
    // The limits of storage, logs, event payloads and entity states.
    "set_key",
    "set_value",
    "scan_past_the_limit",
    "flood_log",
    "huge_payload",
    "bad_payload",
    "bad_state",
    "huge_state",
];

/// How many times `count_runs` ran in this instance: what a run can see
/// of an earlier one when the host reuses instances.
static RUNS_SEEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

const OBJECT_SCHEMA: &str = r#"{"type":"object"}"#;
/// The schema of a thing's state and of the `changed` payload: `v`, a
/// string, which each action sets to its own name.
const THING_SCHEMA: &str =
    r#"{"type":"object","properties":{"v":{"type":"string"}},"required":["v"]}"#;
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

/// Opens the mutation of thing `t1` and writes storage as a well-behaved
/// plugin does, with a value naming `action`: no two actions write the
/// same bytes, so a write that should have been rolled back shows.
fn write_thing(context: &RunContext, action: &str) -> Result<Mutation, ActionError> {
    let mutation = Mutation::open("thing", "t1", &options(context)).map_err(internal)?;
    storage::set("thing/t1", format!("written by {action}").as_bytes()).map_err(internal)?;
    Ok(mutation)
}

/// Writes the thing `t1` and commits its state, both naming `action`.
fn commit_own_state(context: &RunContext, action: &str) -> Result<(), ActionError> {
    let mutation = write_thing(context, action)?;
    mutation.commit(Some(&state(action))).map_err(internal)?;
    Ok(())
}

/// The state a thing gets from `action`: its own name.
fn state(action: &str) -> String {
    format!(r#"{{"v":"{action}"}}"#)
}

/// [`state`] with a `padding` field, to make it as large as wanted.
fn state_padded(action: &str, padding: &str) -> String {
    format!(r#"{{"v":"{action}","padding":"{padding}"}}"#)
}

/// The action a state names, when it is exactly [`state`]'s: how the
/// deriver, which sees only the change, knows which misbehaviour to join.
fn named_by(state: &str) -> Option<&str> {
    state.strip_prefix(r#"{"v":""#)?.strip_suffix(r#""}"#)
}

/// The number at `field` of a config such as `{"bytes":1025}`.
fn config_number(config: &str, field: &str) -> Option<usize> {
    let (_, rest) = config.split_once(&format!(r#""{field}":"#))?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Sleeps an hour at a time, forever: std turns each sleep into
/// `wasi:clocks/monotonic-clock.subscribe-duration` and a blocking poll.
fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

const HOUR_NANOS: u64 = 3600 * 1_000_000_000;

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
        if cfg!(feature = "sleep-in-definitions") {
            sleep_forever();
        }
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
                payload_schema: THING_SCHEMA.into(),
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
                state_schema: THING_SCHEMA.into(),
            }],
            jobs: Vec::new(),
        }
    }

    fn run_action(
        action_id: String,
        config: String,
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
                let mutation = write_thing(&context, "commit_twice")?;
                mutation
                    .commit(Some(&state("commit_twice")))
                    .map_err(internal)?;
                mutation
                    .commit(Some(&state("commit_twice_again")))
                    .map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            "drop_mutation" => {
                let mutation = write_thing(&context, "drop_mutation")?;
                drop(mutation);
                artifact(r#"{"n":1}"#.into())
            }
            "write_without_mutation" => {
                storage::set("loose", b"written by write_without_mutation").map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            "bad_artifact" => artifact(r#"{"n":"not a number"}"#.into()),
            "huge_artifact" => {
                let padding = "x".repeat(4 << 20);
                artifact(format!(r#"{{"n":1,"padding":"{padding}"}}"#))
            }
            "invalid_json_artifact" => artifact("{not json".into()),
            "invalid_json_state" => {
                let mutation = write_thing(&context, "invalid_json_state")?;
                mutation.commit(Some("{not json")).map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            #[cfg(feature = "filesystem")]
            "read_files" => {
                let entries = std::fs::read_dir("/").map(|dir| dir.count()).unwrap_or(0);
                artifact(format!(r#"{{"n":{entries}}}"#))
            }
            // The deriver joins in on these, recognising the state.
            "fire_undeclared_trigger"
            | "fire_qualified_trigger"
            | "read_in_derive"
            | "open_in_derive"
            | "sleep_in_derive"
            | "huge_payload"
            | "bad_payload"
            | "well_behaved" => {
                let mutation = write_thing(&context, &action_id)?;
                mutation
                    .commit(Some(&state(&action_id)))
                    .map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            // The waiting actions first write and commit, so a host that
            // kept a timed-out run's writes would show them.
            "sleep_forever" => {
                commit_own_state(&context, &action_id)?;
                sleep_forever()
            }
            "poll_forever" => loop {
                commit_own_state(&context, &action_id)?;
                let timer = wasip2::clocks::monotonic_clock::subscribe_duration(HOUR_NANOS);
                std::hint::black_box(wasip2::io::poll::poll(&[&timer]));
            },
            "block_forever" => loop {
                commit_own_state(&context, &action_id)?;
                let now = wasip2::clocks::monotonic_clock::now();
                let next_year = now.saturating_add(365 * 24 * HOUR_NANOS);
                wasip2::clocks::monotonic_clock::subscribe_instant(next_year).block();
            },
            // `{"once":1}` reports what one attempt did instead of trying
            // forever.
            "read_stdin" => {
                let stdin = wasip2::cli::stdin::get_stdin();
                let mut read = 0;
                loop {
                    stdin.subscribe().block();
                    match stdin.blocking_read(64 << 10) {
                        Ok(bytes) => read += bytes.len(),
                        Err(error) if config_number(&config, "once").is_some() => {
                            return artifact(format!(r#"{{"n":{read},"error":"{error:?}"}}"#));
                        }
                        Err(_) => {}
                    }
                }
            }
            "flood_stderr" | "flood_stdout" => {
                let stream = if action_id == "flood_stderr" {
                    wasip2::cli::stderr::get_stderr()
                } else {
                    wasip2::cli::stdout::get_stdout()
                };
                // 4096 bytes is the most one blocking write may carry.
                let chunk = [b'e'; 4096];
                let mut written = 0;
                loop {
                    match stream.blocking_write_and_flush(&chunk) {
                        Ok(()) => written += chunk.len(),
                        Err(error) if config_number(&config, "once").is_some() => {
                            return artifact(format!(r#"{{"n":{written},"error":"{error:?}"}}"#));
                        }
                        Err(_) => {}
                    }
                    if written >= 256 << 10 && config_number(&config, "once").is_some() {
                        return artifact(format!(r#"{{"n":{written}}}"#));
                    }
                }
            }
            "write_then_fail" => {
                let mutation = write_thing(&context, "write_then_fail")?;
                mutation
                    .commit(Some(&state("write_then_fail")))
                    .map_err(internal)?;
                Err(ActionError::NotFound(
                    "write_then_fail wrote, committed, then failed".into(),
                ))
            }
            // `{"bytes":N}`: a key of N bytes.
            "set_key" => {
                let bytes = config_number(&config, "bytes").unwrap_or(1);
                let mutation =
                    Mutation::open("thing", "t1", &options(&context)).map_err(internal)?;
                storage::set(&"k".repeat(bytes), b"written by set_key").map_err(internal)?;
                mutation.commit(Some(&state("set_key"))).map_err(internal)?;
                artifact(format!(r#"{{"n":{bytes}}}"#))
            }
            // `{"bytes":N}`: a value of N bytes.
            "set_value" => {
                let bytes = config_number(&config, "bytes").unwrap_or(1);
                let mutation =
                    Mutation::open("thing", "t1", &options(&context)).map_err(internal)?;
                storage::set("value", &vec![b'v'; bytes]).map_err(internal)?;
                mutation
                    .commit(Some(&state("set_value")))
                    .map_err(internal)?;
                artifact(format!(r#"{{"n":{bytes}}}"#))
            }
            // `{"keys":K,"limit":L}`: seeds K keys in one mutation, reads
            // them back in pages of (at most) L, then abandons the
            // mutation. Reports each page's size and whether the pages
            // held every key once, in order.
            "scan_past_the_limit" => {
                let keys = config_number(&config, "keys").unwrap_or(1500);
                let limit = config_number(&config, "limit").unwrap_or(5000);
                let limit = u32::try_from(limit).map_err(internal)?;
                let mutation =
                    Mutation::open("thing", "t1", &options(&context)).map_err(internal)?;
                let seeded: Vec<String> = (0..keys).map(|n| format!("scan/{n:06}")).collect();
                for key in &seeded {
                    storage::set(key, b"written by scan_past_the_limit").map_err(internal)?;
                }
                let mut pages = Vec::new();
                let mut read = Vec::new();
                let mut cursor = None;
                loop {
                    let page =
                        storage::scan("scan/", limit, cursor.as_deref()).map_err(internal)?;
                    pages.push(page.entries.len());
                    read.extend(page.entries.into_iter().map(|entry| entry.key));
                    cursor = page.next_cursor;
                    if cursor.is_none() || pages.len() > keys + 1 {
                        break;
                    }
                }
                mutation.abandon().map_err(internal)?;
                artifact(format!(
                    r#"{{"n":{},"pages":{pages:?},"complete":{}}}"#,
                    pages[0],
                    read == seeded
                ))
            }
            // `{"lines":L,"bytes":B}`: L distinct lines of B bytes each.
            "flood_log" => {
                let lines = config_number(&config, "lines").unwrap_or(2000);
                let bytes = config_number(&config, "bytes").unwrap_or(1000);
                for n in 0..lines {
                    let mut line = format!("line {n:06} ");
                    line.extend(std::iter::repeat_n('l', bytes.saturating_sub(line.len())));
                    checkstack::automation::log::log(
                        checkstack::automation::log::Level::Info,
                        &line,
                    );
                }
                artifact(format!(r#"{{"n":{lines}}}"#))
            }
            // `{"bytes": n}`: a state of exactly n bytes.
            "huge_state" => {
                let bytes = config_number(&config, "bytes").unwrap_or(2 << 20);
                let empty = state_padded("huge_state", "");
                let padding = "x".repeat(bytes.saturating_sub(empty.len()));
                let mutation = write_thing(&context, "huge_state")?;
                mutation
                    .commit(Some(&state_padded("huge_state", &padding)))
                    .map_err(internal)?;
                artifact(r#"{"n":1}"#.into())
            }
            "bad_state" => {
                let mutation = write_thing(&context, "bad_state")?;
                mutation
                    .commit(Some(r#"{"v":["bad_state"]}"#))
                    .map_err(internal)?;
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
        // The state names the action that wrote it, which tells the
        // deriver, seeing only the change, how to misbehave.
        let mut trigger_id = "changed";
        let mut payload = change.next.clone().unwrap_or_else(|| state("deleted"));
        match change.next.as_deref().and_then(named_by) {
            Some("fire_undeclared_trigger") => trigger_id = "nonexistent",
            Some("fire_qualified_trigger") => trigger_id = "hostile.changed",
            // The deriver cannot return an error: a trap carries it out.
            Some("read_in_derive") => panic!("the deriver read storage: {:?}", storage::get("k")),
            Some("open_in_derive") => {
                let options = MutationOptions {
                    run_id: None,
                    actor: None,
                };
                let opened = Mutation::open("thing", "t2", &options).map(|_| ());
                panic!("the deriver opened a mutation: {opened:?}")
            }
            Some("sleep_in_derive") => sleep_forever(),
            Some("huge_payload") => {
                let padding = "x".repeat(2 << 20);
                payload = format!(r#"{{"v":"huge_payload","padding":"{padding}"}}"#);
            }
            Some("bad_payload") => payload = r#"{"v":42}"#.into(),
            _ => {}
        }
        vec![TriggerEvent {
            trigger_id: trigger_id.into(),
            payload,
            context_key: Some(change.id),
        }]
    }
}

/// Queries that misbehave: each tries what a query must not do.
impl exports::checkstack::automation::queries::Guest for Hostile {
    fn definitions() -> Vec<exports::checkstack::automation::queries::QueryDefinition> {
        let query = |id: &str, result_schema: &str| {
            exports::checkstack::automation::queries::QueryDefinition {
                id: id.into(),
                display_name: id.into(),
                description: format!("misbehaves: {id}"),
                input_schema: r#"{"type":"object"}"#.into(),
                result_schema: result_schema.into(),
            }
        };
        vec![
            // Tries every write a query could: storage set and delete, and
            // opening a mutation; answers with what each was told.
            query("write", r#"{"type":"object"}"#),
            // Reads what the thing holds, to show a query sees commits; logs
            // a line, and takes only `{"n": <integer>}`.
            exports::checkstack::automation::queries::QueryDefinition {
                input_schema:
                    r#"{"type":"object","additionalProperties":false,"properties":{"n":{"type":"integer"}}}"#
                        .into(),
                ..query("read", r#"{"type":"object"}"#)
            },
            query("loop", r#"{"type":"object"}"#),
            query("allocate", r#"{"type":"object"}"#),
            // Answers with a result its own schema refuses.
            query(
                "bad_result",
                r#"{"type":"object","required":["n"],"properties":{"n":{"type":"integer"}}}"#,
            ),
        ]
    }

    fn run_query(
        query_id: String,
        _input: String,
    ) -> Result<String, exports::checkstack::automation::queries::QueryError> {
        match query_id.as_str() {
            "write" => {
                // The delete names an invalid key and the open an unknown
                // kind: a query is refused before anything else is looked at.
                let set = storage::set("thing/t1", b"written by a query");
                let delete = storage::delete("");
                let options = MutationOptions {
                    run_id: None,
                    actor: None,
                };
                let open = Mutation::open("no_such_kind", "t1", &options).map(|_| ());
                Ok(json_object_of_strings(&[
                    ("set", format!("{set:?}")),
                    ("delete", format!("{delete:?}")),
                    ("open", format!("{open:?}")),
                ]))
            }
            "read" => {
                checkstack::automation::log::log(
                    checkstack::automation::log::Level::Info,
                    "read the thing",
                );
                let value = storage::get("thing/t1")
                    .ok()
                    .flatten()
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default();
                Ok(json_object_of_strings(&[("thing", value)]))
            }
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "allocate" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "bad_result" => Ok(r#"{"n":"not a number"}"#.into()),
            other => Err(
                exports::checkstack::automation::queries::QueryError::NotFound(format!(
                    "no query {other}"
                )),
            ),
        }
    }
}

/// A JSON object of string fields, written without a JSON library (the
/// plugin has none): each value escaped as a JSON string.
fn json_object_of_strings(fields: &[(&str, String)]) -> String {
    let escape = |text: &str| -> String {
        text.chars()
            .flat_map(|c| match c {
                '"' => vec!['\\', '"'],
                '\\' => vec!['\\', '\\'],
                c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
                c => vec![c],
            })
            .collect()
    };
    let body: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!(r#""{key}":"{}""#, escape(value)))
        .collect();
    format!("{{{}}}", body.join(","))
}

export!(Hostile);
