use plugin_sdk::testing::{TestHost, TestRun};
use serde_json::{Value, json};

use crate::NotificationsPlugin;
use crate::notification::Notification;

use super::*;

fn host() -> TestHost {
    TestHost::for_plugin(&NotificationsPlugin)
}

fn run(host: &TestHost, action: &str, config: Value) -> TestRun {
    host.run(&NotificationsPlugin, action, config)
}

fn ok(run: &TestRun) -> &ActionSuccess {
    run.result
        .as_ref()
        .unwrap_or_else(|error| panic!("the run failed: {error}"))
}

/// The problems of a run that must be refused, as (path, message).
fn problems(host: &TestHost, action: &str, config: Value) -> Vec<(String, String)> {
    let before = host.snapshot();
    let run = run(host, action, config.clone());
    assert_eq!(host.snapshot(), before, "a refused run writes nothing");
    match run.result {
        Err(ActionError::InvalidConfig(problems)) => {
            problems.into_iter().map(|p| (p.path, p.message)).collect()
        }
        other => panic!("{config} should be invalid, got {other:?}"),
    }
}

fn paths(host: &TestHost, action: &str, config: Value) -> Vec<String> {
    problems(host, action, config)
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

const FIRST_ID: &str = "00000000-0000-4000-8000-000000000001";

/// What `mark_sent` returns: the notification's id, no artifact.
fn marked(id: &str) -> ActionSuccess {
    ActionSuccess {
        external_id: Some(id.to_owned()),
        artifact: None,
    }
}

fn stored(host: &TestHost, id: &str) -> Notification {
    host.get_json(&format!("notification/{id}"))
        .unwrap()
        .expect("the notification is stored")
}

#[test]
fn send_queues_a_notification_and_fires_queued() {
    let host = host();
    let run = run(
        &host,
        "send",
        json!({"channel": "#ops", "subject": "Disk full", "body": "on db-1"}),
    );
    let message = json!({
        "notificationId": FIRST_ID,
        "channel": "#ops",
        "subject": "Disk full",
        "status": "queued",
    });
    assert_eq!(ok(&run), &ActionSuccess::new(FIRST_ID, message.clone()));
    assert_eq!(run.changes.len(), 1);
    let change = &run.changes[0];
    assert_eq!(
        (change.kind.as_str(), change.id.as_str()),
        ("notification", FIRST_ID)
    );
    assert_eq!(change.prev, None);
    assert_eq!(
        change.next,
        Some(json!({"channel": "#ops", "subject": "Disk full", "status": "queued"}))
    );
    assert_eq!(change.options.run_id.as_deref(), Some(run.run_id.as_str()));
    assert_eq!(run.events, [TriggerEvent::new("queued", message, FIRST_ID)]);
    assert_eq!(
        run.log_messages(),
        [format!("Queued notification {FIRST_ID} to #ops")]
    );
    let notification = stored(&host, FIRST_ID);
    assert_eq!(notification.body, "on db-1");
    assert_eq!(
        notification.queued_at.to_string(),
        "2026-03-01T10:00:00.000Z"
    );
    assert_eq!(notification.dedupe_key, None);
    assert_eq!(host.keys(), [format!("notification/{FIRST_ID}")]);
}

#[test]
fn the_body_defaults_to_empty() {
    let host = host();
    run(&host, "send", json!({"channel": "c", "subject": "s"}));
    assert_eq!(stored(&host, FIRST_ID).body, "");
}

#[test]
fn a_taken_dedupe_key_returns_the_queued_notification_and_writes_nothing() {
    let host = host();
    let config = json!({"channel": "#ops", "subject": "Disk full", "dedupeKey": "disk/db-1"});
    let first = run(&host, "send", config.clone());
    assert_eq!(
        host.keys(),
        [
            "dedupe/disk/db-1".to_owned(),
            format!("notification/{FIRST_ID}")
        ]
    );
    let before = host.snapshot();

    let mut different = config.clone();
    different["subject"] = json!("Something else entirely");
    let again = run(&host, "send", different);
    assert_eq!(ok(&again), ok(&first));
    assert!(again.changes.is_empty());
    assert!(again.events.is_empty());
    assert_eq!(host.snapshot(), before);
    assert_eq!(
        again.log_messages(),
        [format!(
            "Notification {FIRST_ID} already exists for dedupe key disk/db-1"
        )]
    );

    // Another key is another notification.
    let mut other = config;
    other["dedupeKey"] = json!("disk/db-2");
    let second = run(&host, "send", other);
    assert_ne!(ok(&second).external_id, ok(&first).external_id);
    assert_eq!(second.events.len(), 1);
}

#[test]
fn a_deduplicated_send_returns_the_notification_as_it_is_now() {
    let host = host();
    let config = json!({"channel": "c", "subject": "s", "dedupeKey": "k"});
    run(&host, "send", config.clone());
    run(&host, "mark_sent", json!({"notificationId": FIRST_ID}));
    let again = run(&host, "send", config);
    assert_eq!(ok(&again).external_id.as_deref(), Some(FIRST_ID));
    assert_eq!(ok(&again).artifact.as_ref().unwrap()["status"], "sent");
    assert!(again.changes.is_empty() && again.events.is_empty());
}

#[test]
fn mark_sent_fires_sent_and_records_when() {
    let host = host();
    run(
        &host,
        "send",
        json!({"channel": "#ops", "subject": "Disk full"}),
    );
    host.advance_minutes(5);
    let run = run(&host, "mark_sent", json!({"notificationId": FIRST_ID}));
    let message = json!({
        "notificationId": FIRST_ID,
        "channel": "#ops",
        "subject": "Disk full",
        "status": "sent",
    });
    // The notification's id, and no artifact: `mark_sent` declares none.
    assert_eq!(ok(&run), &marked(FIRST_ID));
    assert_eq!(run.changes.len(), 1);
    assert_eq!(run.changes[0].changed_fields, ["status"]);
    assert_eq!(run.events, [TriggerEvent::new("sent", message, FIRST_ID)]);
    assert_eq!(
        run.log_messages(),
        [format!("Marked notification {FIRST_ID} as sent")]
    );
    let notification = stored(&host, FIRST_ID);
    assert_eq!(notification.status, Status::Sent);
    assert_eq!(
        notification.sent_at.map(|at| at.to_string()).as_deref(),
        Some("2026-03-01T10:05:00.000Z")
    );
}

#[test]
fn marking_a_sent_notification_again_changes_and_fires_nothing() {
    let host = host();
    run(&host, "send", json!({"channel": "c", "subject": "s"}));
    let first = run(&host, "mark_sent", json!({"notificationId": FIRST_ID}));
    let before = host.snapshot();
    host.advance_minutes(1);
    let again = run(&host, "mark_sent", json!({"notificationId": FIRST_ID}));
    assert_eq!(ok(&again), ok(&first));
    assert_eq!(ok(&again), &marked(FIRST_ID));
    assert!(again.changes.is_empty() && again.events.is_empty());
    assert_eq!(host.snapshot(), before);
    assert_eq!(
        again.log_messages(),
        [format!("Notification {FIRST_ID} was already sent")]
    );
}

#[test]
fn marking_an_unknown_notification_is_not_found() {
    let host = host();
    run(&host, "send", json!({"channel": "c", "subject": "s"}));
    let before = host.snapshot();
    for id in ["nope".to_owned(), String::new(), "n".repeat(2000)] {
        let run = run(&host, "mark_sent", json!({"notificationId": id}));
        assert_eq!(
            run.result,
            Err(ActionError::NotFound(format!(
                "Notification not found: {id}"
            )))
        );
        assert!(run.changes.is_empty());
    }
    assert_eq!(host.snapshot(), before);
}

#[test]
fn send_configs_are_checked_field_by_field() {
    let host = host();
    let valid = json!({"channel": "c", "subject": "s"});
    let with = |field: &str, value: Value| {
        let mut config = valid.clone();
        config[field] = value;
        config
    };
    let cases = [
        (json!({"subject": "s"}), "/channel", "is required"),
        (json!({"channel": "c"}), "/subject", "is required"),
        (with("channel", json!("")), "/channel", "must not be empty"),
        (
            with("channel", json!("c".repeat(201))),
            "/channel",
            "must be at most 200 characters, found 201",
        ),
        (
            with("channel", json!(7)),
            "/channel",
            "must be a string, found 7",
        ),
        (with("subject", json!("")), "/subject", "must not be empty"),
        (
            with("subject", json!("s".repeat(501))),
            "/subject",
            "must be at most 500 characters, found 501",
        ),
        (
            with("body", json!("b".repeat(10_001))),
            "/body",
            "must be at most 10000 characters, found 10001",
        ),
        (
            with("body", json!(["b"])),
            "/body",
            "must be a string, found an array",
        ),
        (
            with("dedupeKey", json!("")),
            "/dedupeKey",
            "must not be empty",
        ),
        (
            with("dedupeKey", json!("k".repeat(201))),
            "/dedupeKey",
            "must be at most 200 characters, found 201",
        ),
        (
            with("dedupeKey", json!("é".repeat(201))),
            "/dedupeKey",
            "must be at most 200 characters, found 201",
        ),
        // The schema refuses null (`"type": "string"`), so the plugin does.
        (
            with("dedupeKey", Value::Null),
            "/dedupeKey",
            "must be a string, found null",
        ),
        (
            with("priority", json!("high")),
            "/priority",
            "is not a known field",
        ),
        (json!("send it"), "", "must be an object, found a string"),
    ];
    for (config, path, message) in cases {
        assert_eq!(
            problems(&host, "send", config.clone()),
            [(path.to_owned(), message.to_owned())],
            "{config}"
        );
    }
    // Exactly at each maximum is valid, in characters, not bytes: 'é' is
    // two bytes, the emoji four.
    let at_most = [
        with("channel", json!("c".repeat(MAX_CHANNEL_CHARS))),
        with("channel", json!("\u{1F600}".repeat(MAX_CHANNEL_CHARS))),
        with("subject", json!("é".repeat(MAX_SUBJECT_CHARS))),
        with("body", json!("é".repeat(MAX_BODY_CHARS))),
        with("dedupeKey", json!("é".repeat(MAX_DEDUPE_KEY_CHARS))),
        json!({
            "channel": "é".repeat(MAX_CHANNEL_CHARS),
            "subject": "s".repeat(MAX_SUBJECT_CHARS),
            "body": "b".repeat(MAX_BODY_CHARS),
            "dedupeKey": "k".repeat(MAX_DEDUPE_KEY_CHARS),
        }),
        with("body", json!("")),
    ];
    for config in at_most {
        let run = run(&host, "send", config.clone());
        let success = ok(&run);
        assert_eq!(run.events.len(), 1, "{config}");
        let id = success.external_id.as_deref().expect("an id");
        let notification = stored(&host, id);
        assert_eq!(notification.channel, config["channel"], "{config}");
        assert_eq!(notification.subject, config["subject"], "{config}");
        assert_eq!(
            notification.body,
            config["body"].as_str().unwrap_or_default(),
            "{config}"
        );
        assert_eq!(
            notification.dedupe_key.as_deref(),
            config["dedupeKey"].as_str(),
            "{config}"
        );
    }
    assert_eq!(MAX_CHANNEL_CHARS, 200);
    assert_eq!(MAX_SUBJECT_CHARS, 500);
    assert_eq!(MAX_BODY_CHARS, 10_000);
    assert_eq!(MAX_DEDUPE_KEY_CHARS, 200);
}

#[test]
fn every_problem_of_a_send_is_reported_at_once() {
    let host = host();
    let found = paths(
        &host,
        "send",
        json!({"subject": "", "body": 3, "dedupeKey": "", "to": "me", "cc": "you"}),
    );
    assert_eq!(
        found,
        ["/body", "/cc", "/channel", "/dedupeKey", "/subject", "/to"]
    );
}

#[test]
fn mark_sent_configs_are_checked() {
    let host = host();
    assert_eq!(
        problems(&host, "mark_sent", json!({})),
        [("/notificationId".to_owned(), "is required".to_owned())]
    );
    assert_eq!(
        paths(
            &host,
            "mark_sent",
            json!({"notificationId": 1, "force": true})
        ),
        ["/force", "/notificationId"]
    );
}

#[test]
fn unknown_actions_and_jobs_are_not_found() {
    let host = host();
    assert_eq!(
        run(&host, "explode", json!({})).result,
        Err(ActionError::NotFound("Unknown action: explode".into()))
    );
    let job = host
        .run_job(
            &NotificationsPlugin,
            "tick",
            plugin_sdk::host::Actor::system(),
        )
        .unwrap();
    assert!(matches!(job.result, Err(ActionError::NotFound(_))));
}

#[test]
fn the_trigger_actor_is_carried_by_every_write() {
    let host = host();
    let actor = plugin_sdk::host::Actor {
        kind: plugin_sdk::host::ActorType::User,
        id: "u-1".into(),
        name: Some("Ann".into()),
    };
    let context = RunContext::new("run-a").with_actor(actor.clone());
    let config = json!({"channel": "c", "subject": "s"});
    let run = host
        .try_run(&NotificationsPlugin, "send", &config, &context)
        .unwrap();
    assert_eq!(run.changes[0].options.actor, Some(actor));
    assert_eq!(run.changes[0].options.run_id.as_deref(), Some("run-a"));
}
