//! The automation host: trigger events start automation runs, recorded
//! with the run that fired them, and the dispatcher runs their steps as
//! action runs: chained, templated, retried, ordered per context key,
//! never past the depth limit, never twice. Every test runs the real
//! components (maintenance, notifications, probe) on both stores.

use std::sync::Arc;

use automation_harness::{
    Actor, ActorType, AutomationRun, AutomationRunStatus, Automations, PluginHost, RunRequest,
};
use chrono::Duration;
use integration_tests::{TestStore, automation_host_on, on_every_backend};
use serde_json::{Value, json};

fn run(host: &PluginHost, action: &str, config: Value) -> automation_harness::RunOutcome {
    let outcome = host
        .run(RunRequest::new(action, config).actor(ann()))
        .unwrap_or_else(|error| panic!("{action} errored: {error:#}"));
    assert!(outcome.is_ok(), "{action} failed: {:?}", outcome.result);
    outcome
}

fn ann() -> Actor {
    Actor::new(ActorType::User, "u-1", Some("Ann".into()))
}

/// Every automation run recorded in the host's store, oldest first.
fn recorded(host: &PluginHost) -> Vec<AutomationRun> {
    automation_harness::automation::recorded_runs(host.backend().as_ref()).unwrap()
}

fn park(system: &str) -> Value {
    json!({"systemId": system, "durationMinutes": 30})
}

fn chain_maintenance_to_maintenance(store: TestStore) {
    let host = store.automation_host(json!([
        {
            "id": "start-parked",
            "trigger": "maintenance.created",
            "when": "payload.status == 'scheduled'",
            "steps": [{"id": "start", "action": "maintenance.add_update", "config": {
                "maintenanceId": "{{trigger.payload.maintenanceId}}",
                "message": "Starting now",
                "statusChange": "in_progress"
            }}]
        },
        {
            "id": "note-start",
            "trigger": "maintenance.updated",
            "when": "payload.status == 'in_progress' && 'db-1' in payload.systemIds",
            "steps": [{"id": "note", "action": "maintenance.add_update", "config": {
                "maintenanceId": "{{trigger.payload.maintenanceId}}",
                "message": "Started for {{trigger.payload.systemIds.0}} by {{trigger.actor.name}}"
            }}]
        }
    ]));
    let watermark = host.automation_watermark().unwrap();
    let parked = run(&host, "maintenance.set_system", park("db-1"));
    let window = integration_tests::external_id(&parked);

    // Recorded with the run, before any dispatch: the outbox.
    let pending = recorded(&host);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, AutomationRunStatus::Pending);
    assert_eq!(pending[0].event_id, parked.events[0].event_id);

    let runs = host.dispatch_since(watermark).unwrap();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let (start, note) = (&runs[0], &runs[1]);
    assert_eq!(
        (
            start.automation.as_str(),
            start.status,
            start.depth,
            start.attempts
        ),
        ("start-parked", AutomationRunStatus::Succeeded, 1, 1)
    );
    assert_eq!(start.context_key.as_deref(), Some(window.as_str()));
    assert_eq!(start.steps.len(), 1);
    assert!(start.steps[0].ok);
    assert_eq!(start.steps[0].external_id.as_deref(), Some(window.as_str()));
    assert_eq!(
        start.steps[0].artifact.as_ref().unwrap()["status"],
        "in_progress"
    );
    // The step's event started the second automation, one level deeper.
    assert_eq!(start.steps[0].events.len(), 1);
    assert_eq!(note.event_id, start.steps[0].events[0].event_id);
    assert_eq!(note.trigger, "maintenance.updated");
    assert_eq!(
        (note.status, note.depth),
        (AutomationRunStatus::Succeeded, 2)
    );
    // The note's add_update changes no entity field, so the chain ends.
    assert!(note.steps[0].events.is_empty());

    // The writes of both steps carry the actor of the trigger that started
    // the chain, and their own run ids.
    let changes = host.backend().changes().unwrap();
    assert_eq!(changes.len(), 2, "the creation and the status change");
    assert_eq!(changes[1].actor, ann());
    assert_eq!(changes[1].run_id, start.steps[0].run_id);
    assert_eq!(changes[1].next.as_ref().unwrap()["status"], "in_progress");
    // Nothing is left to do.
    assert!(host.dispatch().unwrap().is_empty());
    assert!(
        recorded(&host)
            .iter()
            .all(|run| run.status == AutomationRunStatus::Succeeded)
    );
}

fn chain_across_plugins(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "announce",
        "name": "Announce maintenance",
        "trigger": "maintenance.created",
        "steps": [
            {"id": "send", "action": "notifications.send", "config": {
                "channel": "#ops",
                "subject": "Maintenance {{trigger.payload.maintenanceId}} on {{trigger.payload.systemIds}}",
                "dedupeKey": "{{trigger.eventId}}"
            }},
            {"id": "sent", "action": "notifications.mark_sent", "config": {
                "notificationId": "{{steps.send.externalId}}"
            }}
        ]
    }]));
    let watermark = host.automation_watermark().unwrap();
    let parked = run(&host, "set_system", park("db-1"));
    let window = integration_tests::external_id(&parked);
    let runs = host.dispatch_since(watermark).unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let announce = &runs[0];
    assert_eq!(announce.status, AutomationRunStatus::Succeeded);
    assert_eq!(announce.steps.len(), 2);
    let notification = announce.steps[0].external_id.clone().unwrap();
    assert_eq!(
        announce.steps[0].artifact.as_ref().unwrap()["subject"],
        format!("Maintenance {window} on [\"db-1\"]")
    );
    assert_eq!(
        announce.steps[1].external_id.as_deref(),
        Some(notification.as_str())
    );
    let events = host.backend().events().unwrap();
    let triggers: Vec<&str> = events.iter().map(|e| e.trigger.as_str()).collect();
    assert_eq!(
        triggers,
        [
            "maintenance.created",
            "notifications.queued",
            "notifications.sent"
        ]
    );
    // Each step's events are listed in its record.
    assert_eq!(announce.steps[0].events[0].event_id, events[1].event_id);
    assert_eq!(announce.steps[1].events[0].event_id, events[2].event_id);
    assert_eq!(events[2].actor, ann());
}

fn a_false_condition_starts_and_records_nothing(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "only-db-2",
        "trigger": "maintenance.created",
        "when": "'db-2' in payload.systemIds && actor.id == 'u-1'",
        "steps": [{"id": "s", "action": "probe.context"}]
    }]));
    run(&host, "set_system", park("db-1"));
    assert!(recorded(&host).is_empty());
    assert!(host.dispatch().unwrap().is_empty());
    let spaces = host.backend().snapshot().unwrap().spaces;
    assert!(
        !spaces.keys().any(|space| space.starts_with("automation/")),
        "{:?}",
        spaces.keys()
    );
    run(&host, "set_system", park("db-2"));
    let runs = host.dispatch().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, AutomationRunStatus::Succeeded);
}

fn a_condition_that_is_not_boolean_fails_the_run_naming_the_automation(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "sloppy",
        "trigger": "maintenance.created",
        "when": "payload.status",
        "steps": [{"id": "s", "action": "probe.context"}]
    }]));
    // The run that fired the event still commits.
    run(&host, "set_system", park("db-1"));
    let runs = recorded(&host);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, AutomationRunStatus::Failed);
    let error = runs[0].error.as_ref().unwrap();
    assert_eq!(error.kind, "condition");
    assert!(
        error.message.contains("automation sloppy: when:"),
        "{}",
        error.message
    );
    assert!(runs[0].steps.is_empty());
}

fn templates_see_the_trigger_and_earlier_steps(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "look",
        "trigger": "maintenance.created",
        "steps": [
            {"id": "ctx", "action": "probe.context"},
            {"id": "copy", "action": "probe.record", "config": {
                "key": "{{trigger.contextKey}}",
                "value": "{{steps.ctx.artifact.trigger.payload.status}} after {{steps.ctx.externalId}} for {{trigger.actor.id}}"
            }}
        ]
    }]));
    let parked = run(&host, "set_system", park("db-1"));
    let event = &parked.events[0];
    let runs = host.dispatch().unwrap();
    let look = &runs[0];
    assert_eq!(look.status, AutomationRunStatus::Succeeded, "{look:#?}");
    // What the plugin saw of its run.
    let seen = look.steps[0].artifact.clone().unwrap();
    assert_eq!(seen["automationId"], "look");
    assert_eq!(seen["attempt"], 1);
    assert_eq!(seen["actor"], json!({"id": "u-1", "name": "Ann"}));
    assert_eq!(
        seen["trigger"],
        json!({
            "triggerId": "maintenance.created",
            "eventId": event.event_id,
            "payload": event.payload,
            "contextKey": event.context_key,
        })
    );
    // Each step starts over at attempt 1.
    assert_eq!(look.steps[1].artifact.as_ref().unwrap()["attempt"], 1);
    let ctx_run = look.steps[0].run_id.clone().unwrap();
    assert_eq!(
        look.steps[1].artifact.as_ref().unwrap()["value"],
        format!("scheduled after {ctx_run} for u-1")
    );
    assert_eq!(
        look.steps[1].external_id.as_deref(),
        event.context_key.as_deref()
    );
}

fn a_template_naming_nothing_fails_the_step_as_invalid_config(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "typo",
        "trigger": "maintenance.created",
        "retry": {"maxAttempts": 5},
        "steps": [
            {"id": "ctx", "action": "probe.context"},
            {"id": "use", "action": "probe.record", "config": {
                "key": "{{trigger.payload.systemId}}"
            }}
        ]
    }]));
    run(&host, "set_system", park("db-1"));
    let runs = host.dispatch().unwrap();
    let typo = &runs[0];
    assert_eq!(typo.status, AutomationRunStatus::Failed);
    assert_eq!(typo.attempts, 1, "invalid_config is not retried");
    let error = typo.error.as_ref().unwrap();
    assert_eq!(
        (error.kind.as_str(), error.step.as_deref()),
        ("invalid_config", Some("use"))
    );
    assert!(
        error.message.contains("{{trigger.payload.systemId}}"),
        "{}",
        error.message
    );
    // The first step stays committed; the failed one ran nothing.
    assert!(typo.steps[0].ok);
    assert!(!typo.steps[1].ok);
    assert_eq!(typo.steps[1].run_id, None);
}

fn two_automations_feeding_each_other_stop_at_the_depth_limit(store: TestStore) {
    let host = store.automation_host(json!([
        {
            "id": "ping",
            "trigger": "probe.recorded",
            "when": "payload.key == 'ping'",
            "steps": [{"id": "s", "action": "probe.record",
                       "config": {"key": "pong", "value": "{{trigger.payload.value}}+"}}]
        },
        {
            "id": "pong",
            "trigger": "probe.recorded",
            "when": "payload.key == 'pong'",
            "steps": [{"id": "s", "action": "probe.record",
                       "config": {"key": "ping", "value": "{{trigger.payload.value}}+"}}]
        }
    ]));
    run(&host, "probe.record", json!({"key": "ping", "value": "v"}));
    let runs = host.dispatch().unwrap();
    assert_eq!(runs.len(), 9, "{runs:#?}");
    for (index, run) in runs[..8].iter().enumerate() {
        assert_eq!(run.status, AutomationRunStatus::Succeeded);
        assert_eq!(run.depth, index as u32 + 1);
        assert_eq!(run.automation, if index % 2 == 0 { "ping" } else { "pong" });
    }
    let refused = &runs[8];
    assert_eq!(refused.status, AutomationRunStatus::Failed);
    assert_eq!(refused.depth, 9);
    assert_eq!(refused.error.as_ref().unwrap().kind, "depth_limit");
    assert!(refused.steps.is_empty(), "no step of a refused run runs");
    // The first run plus the eight steps wrote; nothing more.
    assert_eq!(host.backend().changes().unwrap().len(), 9);
    assert!(host.dispatch().unwrap().is_empty());

    // The limit is a host setting.
    let shallow = TestStore::memory();
    let document = json!({"automations": [{
        "id": "again",
        "trigger": "probe.recorded",
        "steps": [{"id": "s", "action": "probe.record",
                   "config": {"key": "k", "value": "{{trigger.payload.value}}+"}}]
    }]});
    let plain = automation_host_on(Arc::clone(&shallow.backend), json!([]), 3);
    let automations = Automations::from_document("test", &document, &plain.catalogs())
        .unwrap()
        .with_depth_limit(3);
    let host = plain.with_automations(automations);
    run(&host, "probe.record", json!({"key": "k", "value": "v"}));
    let runs = host.dispatch().unwrap();
    let depths: Vec<(u32, AutomationRunStatus)> =
        runs.iter().map(|run| (run.depth, run.status)).collect();
    assert_eq!(
        depths,
        [
            (1, AutomationRunStatus::Succeeded),
            (2, AutomationRunStatus::Succeeded),
            (3, AutomationRunStatus::Succeeded),
            (4, AutomationRunStatus::Failed)
        ]
    );
}

/// The changes of the probe plugin's items.
fn probe_changes(host: &PluginHost) -> Vec<automation_harness::ChangeRecord> {
    let mut changes = host.backend().changes().unwrap();
    changes.retain(|change| change.plugin_id == "probe");
    changes
}

/// Moves the hosts' fixed clock, running the jobs due on the way.
fn advance(host: &PluginHost, by: Duration) {
    host.advance(by).unwrap();
}

fn a_step_failing_internal_is_retried_with_backoff_until_it_passes(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "flaky",
        "trigger": "maintenance.created",
        "retry": {"maxAttempts": 3, "backoff": "PT30S"},
        "steps": [{"id": "try", "action": "probe.flaky",
                   "config": {"key": "{{trigger.contextKey}}", "succeedOn": 3}}]
    }]));
    let parked = run(&host, "set_system", park("db-1"));
    let key = parked.events[0].context_key.clone().unwrap();

    let first = host.dispatch().unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].status, AutomationRunStatus::Retrying);
    assert_eq!(first[0].attempts, 1);
    let error = first[0].error.as_ref().unwrap();
    assert_eq!(error.kind, "internal");
    assert_eq!(error.message, format!("attempt 1 of {key} fails"));
    assert_eq!(
        first[0].next_attempt_at.as_deref(),
        Some("2026-03-01T10:00:30.000Z")
    );
    // Not due yet: nothing runs.
    advance(&host, Duration::seconds(29));
    assert_eq!(recorded(&host), first);
    // Advancing runs the retry when it falls due.
    advance(&host, Duration::seconds(1));
    let second = recorded(&host);
    assert_eq!(second[0].status, AutomationRunStatus::Retrying);
    assert_eq!(second[0].attempts, 2);
    assert_eq!(
        second[0].error.as_ref().unwrap().message,
        format!("attempt 2 of {key} fails")
    );
    // The backoff doubles.
    assert_eq!(
        second[0].next_attempt_at.as_deref(),
        Some("2026-03-01T10:01:30.000Z")
    );
    advance(&host, Duration::seconds(60));
    let third = recorded(&host);
    assert_eq!(third[0].status, AutomationRunStatus::Succeeded);
    assert_eq!(third[0].attempts, 3);
    assert_eq!(third[0].error, None);
    assert_eq!(third[0].steps[0].artifact.as_ref().unwrap()["attempt"], 3);
    // The failed attempts wrote and rolled back: one change, one value.
    let changes = probe_changes(&host);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].next,
        Some(json!({"key": key, "value": "attempt 3"}))
    );
}

fn one_advance_runs_every_retry_that_falls_due_on_the_way(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "flaky",
        "trigger": "maintenance.created",
        "retry": {"maxAttempts": 3, "backoff": "PT30S"},
        "steps": [{"id": "try", "action": "probe.flaky",
                   "config": {"key": "k", "succeedOn": 3}}]
    }]));
    run(&host, "set_system", park("db-1"));
    assert_eq!(host.dispatch().unwrap()[0].attempts, 1);
    // Attempt 2 falls due at 10:00:30 and fails; attempt 3 at 10:01:30.
    advance(&host, Duration::minutes(5));
    let runs = recorded(&host);
    assert_eq!(runs[0].status, AutomationRunStatus::Succeeded);
    assert_eq!(runs[0].attempts, 3);
    let changes = probe_changes(&host);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].occurred_at, "2026-03-01T10:01:30.000Z",
        "the retry ran when it fell due, not at the end of the advance"
    );
}

fn a_step_that_keeps_failing_fails_after_its_last_attempt(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "doomed",
        "trigger": "maintenance.created",
        "retry": {"maxAttempts": 2, "backoff": "PT1M"},
        "steps": [{"id": "try", "action": "probe.trap",
                   "config": {"key": "k", "succeedOn": 5}}]
    }]));
    run(&host, "set_system", park("db-1"));
    let first = host.dispatch().unwrap();
    assert_eq!(first[0].status, AutomationRunStatus::Retrying);
    // A trap is a host error: retried like internal.
    assert_eq!(first[0].error.as_ref().unwrap().kind, "host");
    assert!(
        first[0]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("plugin probe@0.1.0, action trap"),
        "{:?}",
        first[0].error
    );
    advance(&host, Duration::minutes(1));
    let last = recorded(&host);
    assert_eq!(last[0].status, AutomationRunStatus::Failed);
    assert_eq!(last[0].attempts, 2);
    assert_eq!(last[0].steps.len(), 1);
    assert!(!last[0].steps[0].ok);
    assert_eq!(last[0].error.as_ref().unwrap().step.as_deref(), Some("try"));
    advance(&host, Duration::hours(1));
    assert_eq!(recorded(&host), last);
    // The failed attempts changed nothing.
    assert!(probe_changes(&host).is_empty());
}

fn not_found_is_not_retried(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "lost",
        "trigger": "maintenance.created",
        "steps": [{"id": "note", "action": "maintenance.add_update",
                   "config": {"maintenanceId": "no-such-window", "message": "hello"}}]
    }]));
    run(&host, "set_system", park("db-1"));
    let runs = host.dispatch().unwrap();
    assert_eq!(runs[0].status, AutomationRunStatus::Failed);
    assert_eq!(runs[0].attempts, 1);
    let error = runs[0].error.as_ref().unwrap();
    assert_eq!(error.kind, "not_found");
    assert_eq!(error.message, "Maintenance not found: no-such-window");
    advance(&host, Duration::hours(1));
    assert_eq!(recorded(&host), runs);
}

fn runs_of_one_context_key_keep_event_order_under_four_dispatchers(store: TestStore) {
    // Two steps per run: runs of one key that overlapped would interleave
    // their "a" and "b" entries.
    let automations = json!([{
        "id": "collect",
        "trigger": "probe.recorded",
        "when": "payload.key.startsWith('k')",
        "steps": [
            {"id": "a", "action": "probe.append",
             "config": {"key": "list-{{trigger.contextKey}}", "value": "{{trigger.payload.value}}a"}},
            {"id": "b", "action": "probe.append",
             "config": {"key": "list-{{trigger.contextKey}}", "value": "{{trigger.payload.value}}b"}}
        ]
    }]);
    let host = store.automation_host(automations.clone());
    let keys = ["k0", "k1", "k2", "k3"];
    let per_key = 10;
    for round in 0..per_key {
        for key in keys {
            run(
                &host,
                "probe.record",
                json!({"key": key, "value": format!("{round:02}")}),
            );
        }
    }
    assert_eq!(recorded(&host).len(), keys.len() * per_key);
    std::thread::scope(|scope| {
        for seed in 0..4 {
            let backend = Arc::clone(&store.backend);
            let automations = automations.clone();
            scope.spawn(move || {
                let dispatcher = automation_host_on(backend, automations, 100 + seed);
                dispatcher.dispatch().unwrap();
            });
        }
    });
    let runs = recorded(&host);
    assert!(
        runs.iter()
            .all(|run| run.status == AutomationRunStatus::Succeeded),
        "{runs:#?}"
    );
    let expected: Vec<String> = (0..per_key)
        .flat_map(|round| [format!("{round:02}a"), format!("{round:02}b")])
        .collect();
    for key in keys {
        let last = runs
            .iter()
            .rev()
            .find(|run| run.context_key.as_deref() == Some(key))
            .unwrap();
        assert_eq!(
            last.steps[1].artifact.as_ref().unwrap()["list"],
            json!(expected),
            "the list of {key}: every step once, runs in event order, never overlapping"
        );
    }
}

fn a_retrying_run_holds_back_later_runs_of_its_key_only(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "collect",
        "trigger": "probe.recorded",
        "when": "payload.key.startsWith('k')",
        "retry": {"maxAttempts": 3, "backoff": "PT1M"},
        "steps": [{"id": "add", "action": "probe.append",
                   "config": {"key": "list-{{trigger.contextKey}}", "value": "{{trigger.payload.value}}"}}]
    }]));
    // The first run of k0 fails its first attempt ("!" values do).
    run(
        &host,
        "probe.record",
        json!({"key": "k0", "value": "!first"}),
    );
    run(
        &host,
        "probe.record",
        json!({"key": "k0", "value": "second"}),
    );
    run(
        &host,
        "probe.record",
        json!({"key": "k1", "value": "other"}),
    );
    let runs = host.dispatch().unwrap();
    let status: Vec<(&str, AutomationRunStatus)> = runs
        .iter()
        .map(|run| (run.context_key.as_deref().unwrap(), run.status))
        .collect();
    assert_eq!(
        status,
        [
            ("k0", AutomationRunStatus::Retrying),
            ("k1", AutomationRunStatus::Succeeded)
        ],
        "k0's second run waits; k1 goes on"
    );
    let waiting = recorded(&host);
    assert_eq!(waiting[1].status, AutomationRunStatus::Pending);
    assert!(waiting[1].steps.is_empty());
    advance(&host, Duration::minutes(1));
    let lists: Vec<Value> = recorded(&host)
        .iter()
        .filter(|run| run.context_key.as_deref() == Some("k0"))
        .map(|run| run.steps[0].artifact.as_ref().unwrap()["list"].clone())
        .collect();
    assert_eq!(
        lists,
        [json!(["!first"]), json!(["!first", "second"])],
        "the held run ran after the retry, in event order"
    );
}

fn invalid_config_is_not_retried_whoever_finds_it(store: TestStore) {
    let host = store.automation_host(json!([
        {
            "id": "host-check",
            "trigger": "maintenance.created",
            "steps": [{"id": "s", "action": "probe.flaky", "config": {"key": "k", "succeedOn": 0}}]
        },
        {
            "id": "plugin-check",
            "trigger": "maintenance.created",
            "steps": [{"id": "s", "action": "probe.record", "config": {"value": "no key"}}]
        }
    ]));
    run(&host, "set_system", park("db-1"));
    let runs = host.dispatch().unwrap();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert_eq!(run.status, AutomationRunStatus::Failed, "{run:#?}");
        assert_eq!(run.attempts, 1);
        assert_eq!(run.error.as_ref().unwrap().kind, "invalid_config");
    }
    assert!(
        runs[0]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("/succeedOn")
    );
    assert!(runs[1].error.as_ref().unwrap().message.contains("/key"));
    // The plugin ran for the second, so its step names the run.
    assert!(runs[1].steps[0].run_id.is_some());
}

fn a_crash_between_commit_and_dispatch_loses_nothing(store: TestStore) {
    let automations = json!([{
        "id": "announce",
        "trigger": "maintenance.created",
        "steps": [{"id": "send", "action": "notifications.send",
                   "config": {"channel": "#ops", "subject": "{{trigger.payload.maintenanceId}}"}}]
    }]);
    {
        let host = store.automation_host(automations.clone());
        run(&host, "set_system", park("db-1"));
        run(&host, "set_system", park("db-2"));
        // The host goes away before it dispatches anything.
    }
    let restarted = automation_host_on(Arc::clone(&store.backend), automations, 99);
    let runs = restarted.dispatch().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|run| run.status == AutomationRunStatus::Succeeded)
    );
    let queued = restarted
        .backend()
        .events()
        .unwrap()
        .into_iter()
        .filter(|event| event.trigger == "notifications.queued")
        .count();
    assert_eq!(queued, 2);
}

fn a_retry_outlives_the_host_that_scheduled_it(store: TestStore) {
    let automations = json!([{
        "id": "flaky",
        "trigger": "maintenance.created",
        "retry": {"maxAttempts": 3, "backoff": "PT30S"},
        "steps": [{"id": "try", "action": "probe.flaky",
                   "config": {"key": "k", "succeedOn": 2}}]
    }]);
    {
        let host = store.automation_host(automations.clone());
        run(&host, "set_system", park("db-1"));
        assert_eq!(
            host.dispatch().unwrap()[0].status,
            AutomationRunStatus::Retrying
        );
        // This host goes away with the retry pending.
    }
    let other = automation_host_on(Arc::clone(&store.backend), automations, 99);
    assert!(other.dispatch().unwrap().is_empty(), "not due yet");
    other.advance(Duration::seconds(30)).unwrap();
    let runs = recorded(&other);
    assert_eq!(runs[0].status, AutomationRunStatus::Succeeded);
    assert_eq!(runs[0].attempts, 2);
}

fn a_failed_run_starts_nothing(store: TestStore) {
    let host = store.automation_host(json!([{
        "id": "any",
        "trigger": "probe.recorded",
        "steps": [{"id": "s", "action": "probe.context"}]
    }]));
    let failed = host
        .run(RunRequest::new(
            "probe.flaky",
            json!({"key": "k", "succeedOn": 2}),
        ))
        .unwrap();
    assert!(!failed.is_ok());
    assert!(recorded(&host).is_empty());
}

on_every_backend!(
    chain_maintenance_to_maintenance,
    chain_across_plugins,
    a_false_condition_starts_and_records_nothing,
    a_condition_that_is_not_boolean_fails_the_run_naming_the_automation,
    templates_see_the_trigger_and_earlier_steps,
    a_template_naming_nothing_fails_the_step_as_invalid_config,
    two_automations_feeding_each_other_stop_at_the_depth_limit,
    a_step_failing_internal_is_retried_with_backoff_until_it_passes,
    a_step_that_keeps_failing_fails_after_its_last_attempt,
    not_found_is_not_retried,
    runs_of_one_context_key_keep_event_order_under_four_dispatchers,
    a_retrying_run_holds_back_later_runs_of_its_key_only,
    invalid_config_is_not_retried_whoever_finds_it,
    one_advance_runs_every_retry_that_falls_due_on_the_way,
    a_crash_between_commit_and_dispatch_loses_nothing,
    a_failed_run_starts_nothing,
    a_retry_outlives_the_host_that_scheduled_it,
);

mod loading {
    use super::*;

    fn problems(automations: Value) -> String {
        let host = automation_host_on(
            Arc::new(automation_harness::MemoryBackend::new()),
            json!([]),
            1,
        );
        let document = json!({ "automations": automations });
        Automations::from_document("file.json", &document, &host.catalogs())
            .map(drop)
            .expect_err("the automations are refused")
            .to_string()
    }

    fn step(action: &str, config: Value) -> Value {
        json!({"id": "s", "action": action, "config": config})
    }

    #[test]
    fn every_problem_names_the_automation_and_the_field() {
        let cases = [
            (
                json!([{"id": "a", "trigger": "maintenance.nope", "steps": [step("probe.context", json!({}))]}]),
                r#"file.json: automation "a": trigger: unknown trigger "maintenance.nope"; the loaded plugins have: maintenance.created"#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "steps": [step("maintenance.nope", json!({}))]}]),
                r#"file.json: automation "a": steps[0].action: unknown action "maintenance.nope""#,
            ),
            (
                json!([
                    {"id": "a", "trigger": "maintenance.created", "steps": [step("probe.context", json!({}))]},
                    {"id": "a", "trigger": "maintenance.created", "steps": [step("probe.context", json!({}))]}
                ]),
                r#"file.json: automation "a": id: another automation has this id"#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "steps": [
                    step("probe.record", json!({"key": "{{steps.later.externalId}}"})),
                    {"id": "later", "action": "probe.context"}
                ]}]),
                r#"file.json: automation "a": steps[0].config: template {{steps.later.externalId}}: step "later" runs later"#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "steps": [
                    step("probe.record", json!({"key": "{{steps.ghost.artifact}}"}))
                ]}]),
                r#"file.json: automation "a": steps[0].config: template {{steps.ghost.artifact}}: no step has the id "ghost""#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "steps": [
                    step("probe.record", json!({"key": "{{trigger.body}}"}))
                ]}]),
                r#"file.json: automation "a": steps[0].config: template {{trigger.body}}: trigger has payload, contextKey, actor, eventId, not "body""#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "when": "payload.status ==",
                        "steps": [step("probe.context", json!({}))]}]),
                r#"file.json: automation "a": when: not a CEL expression"#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "when": "status == 'x'",
                        "steps": [step("probe.context", json!({}))]}]),
                r#"file.json: automation "a": when: unknown variable status; a condition sees payload, contextKey, actor, trigger"#,
            ),
            (
                json!([{"id": "Bad Id", "trigger": "maintenance.created", "steps": [step("probe.context", json!({}))]}]),
                r#"file.json: automation "Bad Id": id: "Bad Id" does not match"#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "steps": []}]),
                r#"file.json: automation "a": steps: [] has less than 1 item"#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "retry": {"backoff": "soon"},
                        "steps": [step("probe.context", json!({}))]}]),
                r#"file.json: automation "a": retry.backoff: "soon" is not an ISO 8601 duration"#,
            ),
            (
                json!([{"id": "a", "trigger": "maintenance.created", "colour": "red",
                        "steps": [step("probe.context", json!({}))]}]),
                r#"file.json: automation "a": colour: is not a known field"#,
            ),
        ];
        for (automations, expected) in cases {
            let message = problems(automations);
            assert!(
                message.starts_with(expected),
                "expected {expected}\n     got {message}"
            );
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }

    #[test]
    fn the_shipped_schema_is_the_one_the_host_checks_against() {
        let shipped = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../host-harness/schemas/automations.schema.json"),
        )
        .unwrap();
        assert_eq!(shipped, automation_harness::automation::AUTOMATIONS_SCHEMA);
        let schema: Value = serde_json::from_str(&shipped).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let host = automation_host_on(
            Arc::new(automation_harness::MemoryBackend::new()),
            json!([{"id": "a", "trigger": "maintenance.created",
                    "steps": [{"id": "s", "action": "probe.context"}]}]),
            1,
        );
        let automation = host.automations().unwrap().get("a").unwrap();
        assert!(automation.definition.enabled);
        assert_eq!(automation.max_attempts(), 3);
        assert_eq!(automation.backoff_after(1), Duration::seconds(30));
        assert_eq!(automation.definition.steps[0].config, json!({}));
    }

    #[test]
    fn a_disabled_automation_starts_nothing() {
        let store = TestStore::memory();
        let host = store.automation_host(json!([{
            "id": "off", "enabled": false, "trigger": "maintenance.created",
            "steps": [{"id": "s", "action": "probe.context"}]
        }]));
        run(&host, "set_system", park("db-1"));
        assert!(recorded(&host).is_empty());
    }
}

mod scenarios {
    use super::*;
    use automation_harness::scenario::{Scenario, run_scenario_with};

    /// A scenario's automations: each step's outcome lists the automation
    /// runs it started or moved, and `advance` dispatches the retries that
    /// fall due.
    #[test]
    fn a_scenario_sees_retries_fall_due_as_the_clock_advances() {
        let scenario: Scenario = serde_json::from_value(json!({
            "name": "a retry in a scenario",
            "now": "2026-03-01T10:00:00.000Z",
            "automations": [{
                "id": "flaky",
                "trigger": "probe.recorded",
                "when": "payload.key == 'k'",
                "retry": {"maxAttempts": 3, "backoff": "PT1M"},
                "steps": [{"id": "try", "action": "probe.flaky",
                           "config": {"key": "f", "succeedOn": 2}}]
            }],
            "steps": [
                {"id": "rec", "run": "probe.record", "config": {"key": "k", "value": "v"},
                 "expect": {"ok": true, "automationRuns": [{
                     "automation": "flaky", "trigger": "probe.recorded", "contextKey": "k",
                     "depth": 1, "status": "retrying", "attempts": 1,
                     "error": {"kind": "internal", "message": "attempt 1 of f fails", "step": "try"},
                     "steps": [],
                     "nextAttemptAt": "2026-03-01T10:01:00.000Z"
                 }]}},
                {"advance": "PT30S", "expect": {"automationRuns": []}},
                {"advance": "PT30S", "expect": {"automationRuns": [{
                    "automation": "flaky", "status": "succeeded", "attempts": 2, "error": null,
                    "steps": [{"id": "try", "action": "probe.flaky", "ok": true,
                               "artifact": {"attempt": 2, "automationId": "flaky"}}]
                }]}},
                {"run": "probe.record", "config": {"key": "other", "value": "v"},
                 "expect": {"automationRuns": []}}
            ]
        }))
        .unwrap();
        let plugins = vec![
            integration_tests::plugin(),
            integration_tests::probe_plugin(),
        ];
        let report = run_scenario_with(&plugins, &scenario);
        assert!(report.passed, "{report:#?}");

        // The expectation is checked: a wrong one fails the step.
        let mut wrong = scenario.clone();
        wrong.steps[2]["expect"]["automationRuns"][0]["attempts"] = json!(3);
        let report = run_scenario_with(&plugins, &wrong);
        assert!(!report.passed);
        assert_eq!(report.steps[2].mismatches[0].what, "automationRuns");
    }
}
