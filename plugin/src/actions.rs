//! The five actions: config rules, the writes they make through the entity
//! handle, and the artifact each returns.

use plugin_sdk::host::Host;
use serde_json::{Value, json};

use crate::config::{ConfigReader, Problem};
use crate::entity::{EntityState, write_entity};
use crate::model::{Instant, Status, Window, WindowView};
use crate::service::{MaintenanceService, NewWindow, WindowPatch};

pub use plugin_sdk::{ActionError, ActionSuccess, RunContext};

/// The longest window `set_system` opens: 30 days.
pub const MAX_DURATION_MINUTES: i64 = 43_200;

/// Runs the action `action_id` (a local id).
pub fn run_action<H: Host>(
    host: &H,
    action_id: &str,
    config: &Value,
    run: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    match action_id {
        "create" => create(host, config, run),
        "update" => update(host, config, run),
        "add_update" => add_update(host, config, run),
        "set_system" => set_system(host, config, run),
        "clear_system" => clear_system(host, config, run),
        other => Err(ActionError::NotFound(format!("Unknown action: {other}"))),
    }
}

fn window_success(window: &Window) -> ActionSuccess {
    ActionSuccess {
        external_id: Some(window.id.clone()),
        artifact: serde_json::to_value(WindowView::from(window)).ok(),
    }
}

fn check_order(reader: &mut ConfigReader<'_>, start_at: Option<Instant>, end_at: Option<Instant>) {
    if let (Some(start_at), Some(end_at)) = (start_at, end_at)
        && end_at <= start_at
    {
        reader.problem(
            "/endAt",
            format!("must be after startAt ({start_at}), found {end_at}"),
        );
    }
}

fn parse_create(config: &Value) -> Result<NewWindow, Vec<Problem>> {
    let mut reader = ConfigReader::new(config);
    let title = reader.required_text("title");
    let description = reader.optional_text("description", false);
    let system_ids = reader.required_id_list("systemIds");
    let start_at = reader.required_instant("startAt");
    let end_at = reader.required_instant("endAt");
    let suppress_notifications = reader.optional_bool("suppressNotifications");
    check_order(&mut reader, start_at, end_at);
    reader.finish(|| {
        Some(NewWindow {
            title: title?,
            description,
            system_ids: system_ids?,
            start_at: start_at?,
            end_at: end_at?,
            suppress_notifications: suppress_notifications.unwrap_or(false),
        })
    })
}

fn create<H: Host>(
    host: &H,
    config: &Value,
    run: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    let input = parse_create(config)?;
    let created = create_window(host, input, run)?;
    host.info(&format!("Automation scheduled maintenance {}", created.id));
    Ok(window_success(&created))
}

/// Creates a window through the entity handle. The id is generated before
/// the mutation opens so that `prev` reads the window as absent.
fn create_window<H: Host>(
    host: &H,
    input: NewWindow,
    run: &RunContext,
) -> Result<Window, ActionError> {
    let id = host.new_id();
    let service = MaintenanceService::new(host);
    write_entity(host, &id, &run.mutation_options(), || {
        let window = service.create(input, id.clone())?;
        let state = EntityState::from(&window);
        Ok((window, Some(state)))
    })
}

fn parse_update(config: &Value) -> Result<(String, WindowPatch), Vec<Problem>> {
    let mut reader = ConfigReader::new(config);
    let maintenance_id = reader.required_id("maintenanceId");
    let patch = WindowPatch {
        title: reader.optional_text("title", true),
        description: reader.optional_text("description", false),
        system_ids: reader.optional_id_list("systemIds"),
        start_at: reader.optional_instant("startAt"),
        end_at: reader.optional_instant("endAt"),
        suppress_notifications: reader.optional_bool("suppressNotifications"),
    };
    check_order(&mut reader, patch.start_at, patch.end_at);
    reader.finish(|| Some((maintenance_id?, patch)))
}

fn not_found(id: &str) -> ActionError {
    ActionError::NotFound(format!("Maintenance not found: {id}"))
}

fn update<H: Host>(
    host: &H,
    config: &Value,
    run: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    let (id, patch) = parse_update(config)?;
    let service = MaintenanceService::new(host);
    // Probing first keeps a missing window a clean failure that opens no
    // mutation at all.
    let existing = service.get(&id)?.ok_or_else(|| not_found(&id))?;
    let patched = patch.apply_to(&existing);
    if patched.end_at <= patched.start_at {
        let (path, message) = if patch.end_at.is_some() {
            (
                "/endAt",
                format!("must be after startAt ({})", patched.start_at),
            )
        } else {
            (
                "/startAt",
                format!("must be before endAt ({})", patched.end_at),
            )
        };
        return Err(ActionError::InvalidConfig(vec![Problem {
            path: path.to_owned(),
            message,
        }]));
    }
    let updated = write_entity(host, &id, &run.mutation_options(), || {
        let window = service.update(&id, &patch)?.ok_or_else(|| not_found(&id))?;
        let state = EntityState::from(&window);
        Ok((window, Some(state)))
    })?;
    host.info(&format!("Automation updated maintenance {}", updated.id));
    Ok(window_success(&updated))
}

fn parse_add_update(config: &Value) -> Result<(String, String, Option<Status>), Vec<Problem>> {
    let mut reader = ConfigReader::new(config);
    let maintenance_id = reader.required_id("maintenanceId");
    let message = reader.required_text("message");
    let status_change = reader.optional_status("statusChange");
    reader.finish(|| Some((maintenance_id?, message?, status_change)))
}

fn add_update<H: Host>(
    host: &H,
    config: &Value,
    run: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    let (id, message, status_change) = parse_add_update(config)?;
    let service = MaintenanceService::new(host);
    if service.get(&id)?.is_none() {
        return Err(not_found(&id));
    }
    let window = write_entity(host, &id, &run.mutation_options(), || {
        let (window, _) = service
            .add_update(&id, &message, status_change, None)?
            .ok_or_else(|| not_found(&id))?;
        let state = EntityState::from(&window);
        Ok((window, Some(state)))
    })?;
    host.info(&format!(
        "Automation added update to maintenance {}",
        window.id
    ));
    Ok(window_success(&window))
}

struct SetSystemConfig {
    system_id: String,
    title: Option<String>,
    description: Option<String>,
    duration_minutes: i64,
    suppress_notifications: bool,
}

fn parse_set_system(config: &Value) -> Result<SetSystemConfig, Vec<Problem>> {
    let mut reader = ConfigReader::new(config);
    let system_id = reader.required_id("systemId");
    let title = reader.optional_text("title", true);
    let description = reader.optional_text("description", false);
    let duration_minutes = reader.required_integer("durationMinutes", 1..=MAX_DURATION_MINUTES);
    let suppress_notifications = reader.optional_bool("suppressNotifications");
    reader.finish(|| {
        Some(SetSystemConfig {
            system_id: system_id?,
            title,
            description,
            duration_minutes: duration_minutes?,
            suppress_notifications: suppress_notifications.unwrap_or(false),
        })
    })
}

fn set_system<H: Host>(
    host: &H,
    config: &Value,
    run: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    let config = parse_set_system(config)?;
    let start_at = host.now();
    // A window must start and end in years 0000-9999 to be stored; with
    // the host clock near the end of year 9999 the duration is what the
    // caller can still change.
    let end_at = Some(start_at)
        .filter(|start| start.is_printable())
        .and_then(|start| start.plus_minutes(config.duration_minutes))
        .ok_or_else(|| {
            ActionError::InvalidConfig(vec![Problem {
                path: "/durationMinutes".to_owned(),
                message: format!(
                    "must end the window by 9999-12-31T23:59:59.999Z; starting now \
                     ({start_at}), {} minutes would end after it",
                    config.duration_minutes
                ),
            }])
        })?;
    let input = NewWindow {
        title: config
            .title
            .unwrap_or_else(|| format!("Automation maintenance ({})", config.system_id)),
        description: config.description,
        system_ids: vec![config.system_id.clone()],
        start_at,
        end_at,
        suppress_notifications: config.suppress_notifications,
    };
    let created = create_window(host, input, run)?;
    host.info(&format!(
        "Automation parked system {} via maintenance {}",
        config.system_id, created.id
    ));
    Ok(window_success(&created))
}

fn parse_clear_system(config: &Value) -> Result<(String, Option<String>), Vec<Problem>> {
    let mut reader = ConfigReader::new(config);
    let system_id = reader.required_id("systemId");
    let message = reader.optional_text("message", true);
    reader.finish(|| Some((system_id?, message)))
}

fn clear_system<H: Host>(
    host: &H,
    config: &Value,
    run: &RunContext,
) -> Result<ActionSuccess, ActionError> {
    let (system_id, message) = parse_clear_system(config)?;
    let message = message.unwrap_or_else(|| "Cleared by automation".to_owned());
    let service = MaintenanceService::new(host);
    let mut closed_ids = Vec::new();
    // Ordered by startAt, then id, so the artifact, the changes and the
    // events come out in the same order on every store.
    for window in service.active_for_system(&system_id)? {
        let closed = write_entity(host, &window.id, &run.mutation_options(), || {
            let closed = service.close(&window.id, Some(&message))?;
            // A window that vanished mid-run keeps its old state, so the
            // diff is empty and nothing fires for it.
            let state = EntityState::from(closed.as_ref().unwrap_or(&window));
            Ok((closed, Some(state)))
        })?;
        if let Some(closed) = closed {
            closed_ids.push(closed.id);
        }
    }
    host.info(&format!(
        "Automation cleared maintenance for system {system_id} ({} window(s))",
        closed_ids.len()
    ));
    Ok(ActionSuccess {
        external_id: Some(system_id.clone()),
        artifact: Some(json!({ "systemId": system_id, "closedMaintenanceIds": closed_ids })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fake_host;
    use plugin_sdk::host::{Actor, ActorType};
    use plugin_sdk::testing::TestHost;

    fn run() -> RunContext {
        RunContext::new("run-1")
    }

    fn ok(host: &TestHost, action: &str, config: Value) -> ActionSuccess {
        run_action(host, action, &config, &run()).expect("action succeeds")
    }

    fn problems(host: &TestHost, action: &str, config: Value) -> Vec<String> {
        match run_action(host, action, &config, &run()) {
            Err(ActionError::InvalidConfig(problems)) => {
                problems.into_iter().map(|p| p.path).collect()
            }
            other => panic!("expected invalid config, got {other:?}"),
        }
    }

    fn create_config() -> Value {
        json!({
            "title": "DB upgrade",
            "systemIds": ["db-2", "db-1", "db-2"],
            "startAt": "2026-03-01T10:00:00Z",
            "endAt": "2026-03-01T12:00:00+01:00",
        })
    }

    #[test]
    fn create_stores_a_scheduled_window_and_records_its_creation() {
        let host = fake_host();
        let success = ok(&host, "create", create_config());
        let id = success.external_id.unwrap();
        assert_eq!(
            success.artifact.unwrap(),
            json!({
                "maintenanceId": id,
                "status": "scheduled",
                "systemIds": ["db-1", "db-2"],
                "startAt": "2026-03-01T10:00:00.000Z",
                "endAt": "2026-03-01T11:00:00.000Z",
            })
        );
        let changes = host.changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].prev, None);
        assert_eq!(changes[0].options.run_id.as_deref(), Some("run-1"));
        assert_eq!(
            host.log_messages(),
            [format!("Automation scheduled maintenance {id}")]
        );
    }

    #[test]
    fn the_trigger_actor_is_passed_to_every_write() {
        let host = fake_host();
        let actor = Actor {
            kind: ActorType::User,
            id: "u-1".into(),
            name: Some("Ann".into()),
        };
        let context = RunContext::new("run-9").with_actor(actor.clone());
        run_action(&host, "create", &create_config(), &context).unwrap();
        assert_eq!(host.changes()[0].options.actor, Some(actor));
    }

    #[test]
    fn create_rejects_every_broken_rule_at_once() {
        let host = fake_host();
        let paths = problems(
            &host,
            "create",
            json!({"title": " ", "systemIds": [], "startAt": "2026-13-01T00:00:00Z", "bogus": 1}),
        );
        assert_eq!(
            paths,
            ["/title", "/systemIds", "/startAt", "/endAt", "/bogus"]
        );
        assert!(host.keys().is_empty());
    }

    #[test]
    fn create_rejects_a_window_that_ends_before_it_starts() {
        let host = fake_host();
        let mut config = create_config();
        config["endAt"] = json!("2026-03-01T09:00:00Z");
        assert_eq!(problems(&host, "create", config), ["/endAt"]);
    }

    #[test]
    fn update_changes_only_the_fields_given() {
        let host = fake_host();
        let id = ok(&host, "create", create_config()).external_id.unwrap();
        let success = ok(
            &host,
            "update",
            json!({"maintenanceId": id, "systemIds": ["db-3"], "title": "New"}),
        );
        let artifact = success.artifact.unwrap();
        assert_eq!(artifact["systemIds"], json!(["db-3"]));
        assert_eq!(artifact["startAt"], "2026-03-01T10:00:00.000Z");
        assert_eq!(host.changes().len(), 2);
    }

    #[test]
    fn an_update_of_title_or_order_only_records_no_change() {
        let host = fake_host();
        let id = ok(&host, "create", create_config()).external_id.unwrap();
        ok(
            &host,
            "update",
            json!({"maintenanceId": id, "title": "Renamed", "description": "d",
                   "systemIds": ["db-1", "db-2", "db-1"], "suppressNotifications": true}),
        );
        assert_eq!(host.changes().len(), 1);
    }

    #[test]
    fn update_of_a_missing_window_is_not_found_and_writes_nothing() {
        let host = fake_host();
        let result = run_action(&host, "update", &json!({"maintenanceId": "nope"}), &run());
        assert_eq!(
            result,
            Err(ActionError::NotFound("Maintenance not found: nope".into()))
        );
        assert!(host.keys().is_empty());
    }

    #[test]
    fn update_may_not_reverse_the_stored_window() {
        let host = fake_host();
        let id = ok(&host, "create", create_config()).external_id.unwrap();
        let paths = problems(
            &host,
            "update",
            json!({"maintenanceId": id, "startAt": "2026-03-02T00:00:00Z"}),
        );
        assert_eq!(paths, ["/startAt"]);
        let paths = problems(
            &host,
            "update",
            json!({"maintenanceId": id, "endAt": "2026-03-01T09:00:00Z"}),
        );
        assert_eq!(paths, ["/endAt"]);
        assert_eq!(host.changes().len(), 1);
    }

    #[test]
    fn add_update_with_a_status_records_a_change_and_without_one_does_not() {
        let host = fake_host();
        let id = ok(&host, "create", create_config()).external_id.unwrap();
        ok(
            &host,
            "add_update",
            json!({"maintenanceId": id, "message": "note"}),
        );
        assert_eq!(host.changes().len(), 1);
        let success = ok(
            &host,
            "add_update",
            json!({"maintenanceId": id, "message": "go", "statusChange": "in_progress"}),
        );
        assert_eq!(success.artifact.unwrap()["status"], "in_progress");
        assert_eq!(host.changes().len(), 2);
        assert_eq!(
            host.log_messages().last().unwrap(),
            &format!("Automation added update to maintenance {id}")
        );
    }

    #[test]
    fn add_update_to_a_missing_window_is_not_found() {
        let host = fake_host();
        let result = run_action(
            &host,
            "add_update",
            &json!({"maintenanceId": "nope", "message": "hi"}),
            &run(),
        );
        assert!(matches!(result, Err(ActionError::NotFound(_))));
        assert!(host.keys().is_empty());
    }

    #[test]
    fn set_system_opens_a_window_from_now() {
        let host = fake_host();
        let success = ok(
            &host,
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 30}),
        );
        let artifact = success.artifact.unwrap();
        assert_eq!(artifact["startAt"], "2026-03-01T10:00:00.000Z");
        assert_eq!(artifact["endAt"], "2026-03-01T10:30:00.000Z");
        assert_eq!(artifact["systemIds"], json!(["db-1"]));
        let id = success.external_id.unwrap();
        let window = MaintenanceService::new(&host).get(&id).unwrap().unwrap();
        assert_eq!(window.title, "Automation maintenance (db-1)");
        assert_eq!(
            host.log_messages()[0],
            format!("Automation parked system db-1 via maintenance {id}")
        );
    }

    #[test]
    fn set_system_bounds_the_duration() {
        let host = fake_host();
        for duration in [json!(0), json!(43201), json!(1.5), json!("30")] {
            let paths = problems(
                &host,
                "set_system",
                json!({"systemId": "db-1", "durationMinutes": duration}),
            );
            assert_eq!(paths, ["/durationMinutes"]);
        }
    }

    #[test]
    fn clear_system_closes_only_that_systems_active_windows() {
        let host = fake_host();
        let first = ok(
            &host,
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 5}),
        );
        let second = ok(&host, "create", create_config());
        ok(
            &host,
            "set_system",
            json!({"systemId": "web", "durationMinutes": 5}),
        );
        let success = ok(&host, "clear_system", json!({"systemId": "db-1"}));
        let mut expected = vec![first.external_id.unwrap(), second.external_id.unwrap()];
        expected.sort();
        let mut closed: Vec<String> =
            serde_json::from_value(success.artifact.unwrap()["closedMaintenanceIds"].clone())
                .unwrap();
        closed.sort();
        assert_eq!(closed, expected);
        assert_eq!(success.external_id.as_deref(), Some("db-1"));
        assert_eq!(
            host.log_messages().last().unwrap(),
            "Automation cleared maintenance for system db-1 (2 window(s))"
        );
        let again = ok(&host, "clear_system", json!({"systemId": "db-1"}));
        assert_eq!(again.artifact.unwrap()["closedMaintenanceIds"], json!([]));
    }

    /// 256 characters of four bytes each: the longest id, 1024 bytes.
    fn longest_id() -> String {
        "\u{1F600}".repeat(crate::config::MAX_ID_CHARS)
    }

    fn too_long_id() -> String {
        "s".repeat(crate::config::MAX_ID_CHARS + 1)
    }

    #[test]
    fn ids_longer_than_256_characters_are_invalid_config_at_their_path() {
        let host = fake_host();
        let id = ok(&host, "create", create_config()).external_id.unwrap();
        let cases = [
            (
                "set_system",
                json!({"systemId": "s".repeat(2000), "durationMinutes": 5}),
                "/systemId",
            ),
            (
                "clear_system",
                json!({"systemId": too_long_id()}),
                "/systemId",
            ),
            (
                "update",
                json!({"maintenanceId": "m".repeat(1018)}),
                "/maintenanceId",
            ),
            (
                "add_update",
                json!({"maintenanceId": too_long_id(), "message": "m"}),
                "/maintenanceId",
            ),
            (
                "create",
                json!({"title": "t", "systemIds": ["a", too_long_id()],
                       "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
                "/systemIds/1",
            ),
            (
                "update",
                json!({"maintenanceId": id, "systemIds": [too_long_id(), "a", "b"]}),
                "/systemIds/0",
            ),
        ];
        for (action, config, path) in cases {
            assert_eq!(problems(&host, action, config.clone()), [path], "{config}");
        }
        assert_eq!(host.changes().len(), 1);
    }

    #[test]
    fn ids_of_256_four_byte_characters_fit_every_key() {
        let host = fake_host();
        let long = longest_id();
        assert_eq!(long.len(), plugin_sdk::host::MAX_KEY_BYTES);
        for (action, config) in [
            ("update", json!({"maintenanceId": long})),
            ("add_update", json!({"maintenanceId": long, "message": "m"})),
        ] {
            let result = run_action(&host, action, &config, &run());
            assert_eq!(result, Err(not_found(&long)), "{action}");
        }
        let parked = ok(
            &host,
            "set_system",
            json!({"systemId": long, "durationMinutes": 5}),
        );
        let mut config = create_config();
        config["systemIds"] = json!([long, "db-1"]);
        let created = ok(&host, "create", config);
        assert!(
            host.keys()
                .iter()
                .all(|key| key.len() <= plugin_sdk::host::MAX_KEY_BYTES)
        );
        let cleared = ok(&host, "clear_system", json!({"systemId": long}));
        assert_eq!(
            cleared.artifact.unwrap()["closedMaintenanceIds"],
            json!([parked.external_id.unwrap(), created.external_id.unwrap()])
        );
        let again = ok(&host, "clear_system", json!({"systemId": long}));
        assert_eq!(again.artifact.unwrap()["closedMaintenanceIds"], json!([]));
    }

    #[test]
    fn instants_beyond_year_9999_in_utc_are_invalid_config() {
        let host = fake_host();
        let mut config = create_config();
        config["endAt"] = json!("9999-12-31T23:00:00-02:00");
        assert_eq!(problems(&host, "create", config), ["/endAt"]);
        let mut config = create_config();
        config["startAt"] = json!("0000-01-01T00:00:00+01:00");
        assert_eq!(problems(&host, "create", config), ["/startAt"]);

        let id = ok(&host, "create", create_config()).external_id.unwrap();
        let paths = problems(
            &host,
            "update",
            json!({"maintenanceId": id, "startAt": "0000-01-01T00:59:59.999+01:00",
                   "endAt": "9999-12-31T23:59:59.999-00:01"}),
        );
        assert_eq!(paths, ["/startAt", "/endAt"]);
        assert_eq!(host.changes().len(), 1);

        // The bounds themselves are fine, and stored as printed.
        let mut config = create_config();
        config["startAt"] = json!("0000-01-01T00:00:00Z");
        config["endAt"] = json!("9999-12-31T23:59:59.999Z");
        let artifact = ok(&host, "create", config).artifact.unwrap();
        assert_eq!(artifact["startAt"], "0000-01-01T00:00:00.000Z");
        assert_eq!(artifact["endAt"], "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn leap_seconds_are_invalid_config() {
        let host = fake_host();
        let mut config = create_config();
        config["startAt"] = json!("2026-12-31T23:59:60Z");
        config["endAt"] = json!("2027-01-01T01:00:00Z");
        assert_eq!(problems(&host, "create", config), ["/startAt"]);
        let id = ok(&host, "create", create_config()).external_id.unwrap();
        let paths = problems(
            &host,
            "update",
            json!({"maintenanceId": id, "endAt": "2026-03-01T11:59:60+01:00"}),
        );
        assert_eq!(paths, ["/endAt"]);
        assert_eq!(host.changes().len(), 1);
    }

    #[test]
    fn set_system_may_not_end_after_year_9999() {
        let host = fake_host();
        host.set_now("9999-12-31T23:50:00Z");
        for minutes in [10, MAX_DURATION_MINUTES] {
            match run_action(
                &host,
                "set_system",
                &json!({"systemId": "db-1", "durationMinutes": minutes}),
                &run(),
            ) {
                Err(ActionError::InvalidConfig(problems)) => {
                    assert_eq!(problems.len(), 1);
                    assert_eq!(problems[0].path, "/durationMinutes");
                    assert!(problems[0].message.contains("9999-12-31T23:50:00.000Z"));
                }
                other => panic!("expected invalid config, got {other:?}"),
            }
        }
        assert!(host.keys().is_empty());
        let success = ok(
            &host,
            "set_system",
            json!({"systemId": "db-1", "durationMinutes": 9}),
        );
        assert_eq!(
            success.artifact.unwrap()["endAt"],
            "9999-12-31T23:59:00.000Z"
        );
    }

    #[test]
    fn clear_system_closes_windows_by_start_then_id() {
        let host = fake_host();
        // The fake host numbers ids in creation order, so creating the
        // windows out of start order makes the two orders differ.
        let mut ids = Vec::new();
        for start in ["12:00", "10:00", "11:00", "10:00"] {
            let mut config = create_config();
            config["systemIds"] = json!(["db-1"]);
            config["startAt"] = json!(format!("2026-03-01T{start}:00Z"));
            config["endAt"] = json!("2026-03-01T13:00:00Z");
            ids.push(ok(&host, "create", config).external_id.unwrap());
        }
        let expected = [&ids[1], &ids[3], &ids[2], &ids[0]];
        let success = ok(&host, "clear_system", json!({"systemId": "db-1"}));
        assert_eq!(
            success.artifact.unwrap()["closedMaintenanceIds"],
            json!(expected)
        );
        let changes = host.changes();
        let closed: Vec<&String> = changes[4..].iter().map(|c| &c.id).collect();
        assert_eq!(closed, expected);
    }

    #[test]
    fn unknown_actions_are_not_found() {
        let host = fake_host();
        let result = run_action(&host, "explode", &json!({}), &run());
        assert!(matches!(result, Err(ActionError::NotFound(_))));
    }
}
