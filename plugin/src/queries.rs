//! The read-only queries: a window with its log (`get`), a page of windows
//! (`list`), and the windows a system is in maintenance for at an instant
//! (`active_for_system`, the question a health check asks). Each reads
//! through the service's indexes and writes nothing.

use plugin_sdk::QueryError;
use plugin_sdk::host::QueryHost;
use serde_json::{Value, json};

use crate::config::{ConfigReader, Problem};
use crate::model::{UpdateEntry, Window};
use crate::service::{ListError, ListFilter, MaintenanceService};

/// How many windows `list` returns when the input does not say.
pub const DEFAULT_LIST_LIMIT: i64 = 50;
/// The most windows one `list` page holds.
pub const MAX_LIST_LIMIT: i64 = 500;

/// Answers the query `query_id` (a local id).
pub fn run_query<H: QueryHost>(
    host: &H,
    query_id: &str,
    input: &Value,
) -> Result<Value, QueryError> {
    match query_id {
        "get" => get(host, input),
        "list" => list(host, input),
        "active_for_system" => active_for_system(host, input),
        other => Err(QueryError::NotFound(format!("Unknown query: {other}"))),
    }
}

/// A window as every query shows it: its fields, without the log.
fn summary(window: &Window) -> Value {
    let mut shown = json!({
        "maintenanceId": window.id,
        "title": window.title,
        "systemIds": window.system_ids,
        "status": window.status,
        "startAt": window.start_at,
        "endAt": window.end_at,
        "suppressNotifications": window.suppress_notifications,
    });
    if let Some(description) = &window.description {
        shown["description"] = json!(description);
    }
    shown
}

fn update(entry: &UpdateEntry) -> Value {
    json!({
        "message": entry.message,
        "statusChange": entry.status_change,
        "at": entry.created_at,
    })
}

fn get<H: QueryHost>(host: &H, input: &Value) -> Result<Value, QueryError> {
    let mut reader = ConfigReader::new(input);
    let id = reader.required_id("maintenanceId");
    let id = reader.finish(|| id)?;
    let service = MaintenanceService::new(host);
    let window = service
        .get(&id)?
        .ok_or_else(|| QueryError::NotFound(format!("Maintenance not found: {id}")))?;
    let mut shown = summary(&window);
    shown["updates"] = service.updates(&id)?.iter().map(update).collect();
    Ok(shown)
}

fn list<H: QueryHost>(host: &H, input: &Value) -> Result<Value, QueryError> {
    let mut reader = ConfigReader::new(input);
    let statuses = reader.optional_status_list("status");
    let system_id = reader.optional_text("systemId", true);
    let from = reader.optional_instant("from");
    let to = reader.optional_instant("to");
    let limit = reader.optional_integer("limit", 1..=MAX_LIST_LIMIT);
    let cursor = reader.optional_text("cursor", true);
    let filter = reader.finish(|| {
        Some(ListFilter {
            statuses,
            system_id,
            from,
            to,
            limit: usize::try_from(limit.unwrap_or(DEFAULT_LIST_LIMIT)).ok()?,
            cursor,
        })
    })?;
    let page = MaintenanceService::new(host)
        .list(&filter)
        .map_err(|error| match error {
            ListError::BadCursor => QueryError::InvalidInput(vec![Problem::new(
                "/cursor",
                "is not a cursor this query handed out",
            )]),
            ListError::Store(error) => error.into(),
        })?;
    Ok(json!({
        "windows": page.windows.iter().map(summary).collect::<Vec<_>>(),
        "nextCursor": page.next_cursor,
    }))
}

fn active_for_system<H: QueryHost>(host: &H, input: &Value) -> Result<Value, QueryError> {
    let mut reader = ConfigReader::new(input);
    let system_id = reader.required_id("systemId");
    let at = reader.optional_instant("at");
    let (system_id, at) = reader.finish(|| Some((system_id?, at)))?;
    let at = at.unwrap_or_else(|| host.now());
    // The active index holds the windows still scheduled or in progress;
    // of those, the ones whose [startAt, endAt) holds the instant.
    let windows: Vec<Value> = MaintenanceService::new(host)
        .active_for_system(&system_id)?
        .iter()
        .filter(|window| window.start_at <= at && at < window.end_at)
        .map(summary)
        .collect();
    Ok(json!({ "windows": windows }))
}

#[cfg(test)]
mod tests {
    use plugin_sdk::testing::TestHost;
    use serde_json::json;

    use super::*;
    use crate::MaintenancePlugin;
    use crate::testing::{Instrumented, fake_host};

    fn create(host: &TestHost, title: &str, systems: &[&str], start: &str, end: &str) -> String {
        let run = host.run(
            &MaintenancePlugin,
            "create",
            json!({"title": title, "systemIds": systems, "startAt": start, "endAt": end}),
        );
        run.result.expect("created").external_id.expect("an id")
    }

    fn query(host: &TestHost, id: &str, input: Value) -> Result<Value, QueryError> {
        host.query(&MaintenancePlugin, id, &input)
    }

    /// The paths of the problems of an input the query refuses.
    fn refused_paths(host: &TestHost, id: &str, input: Value) -> Vec<String> {
        match query(host, id, input) {
            Err(QueryError::InvalidInput(problems)) => {
                problems.into_iter().map(|problem| problem.path).collect()
            }
            other => panic!("invalid input expected, got {other:?}"),
        }
    }

    fn ids(result: &Value) -> Vec<String> {
        result["windows"]
            .as_array()
            .expect("windows")
            .iter()
            .map(|window| window["maintenanceId"].as_str().expect("an id").to_owned())
            .collect()
    }

    #[test]
    fn get_shows_the_whole_window_and_its_log_oldest_first() {
        let host = fake_host();
        let run = host.run(
            &MaintenancePlugin,
            "create",
            json!({"title": "DB upgrade", "description": "primary", "systemIds": ["db"],
                   "startAt": "2026-03-01T10:00:00Z", "endAt": "2026-03-01T11:00:00Z"}),
        );
        let id = run.result.unwrap().external_id.unwrap();
        let update = |message: &str, status: Option<&str>| {
            let mut config = json!({"maintenanceId": id, "message": message});
            if let Some(status) = status {
                config["statusChange"] = json!(status);
            }
            host.run(&MaintenancePlugin, "add_update", config)
                .result
                .unwrap();
            host.advance_minutes(1);
        };
        update("Starting", Some("in_progress"));
        update("Halfway", None);
        host.run(
            &MaintenancePlugin,
            "clear_system",
            json!({"systemId": "db"}),
        )
        .result
        .unwrap();

        let window = query(&host, "get", json!({"maintenanceId": id})).unwrap();
        assert_eq!(window["title"], "DB upgrade");
        assert_eq!(window["description"], "primary");
        assert_eq!(window["status"], "completed");
        assert_eq!(window["systemIds"], json!(["db"]));
        assert_eq!(window["suppressNotifications"], false);
        let updates = window["updates"].as_array().unwrap();
        let shown: Vec<(&str, &Value)> = updates
            .iter()
            .map(|u| (u["message"].as_str().unwrap(), &u["statusChange"]))
            .collect();
        assert_eq!(
            shown,
            [
                ("Starting", &json!("in_progress")),
                ("Halfway", &Value::Null),
                ("Cleared by automation", &json!("completed")),
            ]
        );
        assert!(updates[0]["at"].as_str() < updates[2]["at"].as_str());
    }

    #[test]
    fn get_of_an_unknown_window_is_not_found_and_bad_input_is_named() {
        let host = fake_host();
        assert_eq!(
            query(&host, "get", json!({"maintenanceId": "nope"})),
            Err(QueryError::NotFound("Maintenance not found: nope".into()))
        );
        assert_eq!(
            refused_paths(&host, "get", json!({"maintenanceId": "", "extra": 1})),
            ["/maintenanceId", "/extra"]
        );
    }

    #[test]
    fn list_pages_through_every_window_by_start_then_id() {
        let host = fake_host();
        let mut expected = Vec::new();
        for (n, start) in ["12", "10", "11", "10", "13"].iter().enumerate() {
            let id = create(
                &host,
                &format!("w{n}"),
                &["a"],
                &format!("2026-03-01T{start}:00:00Z"),
                "2026-03-02T00:00:00Z",
            );
            expected.push((start.to_string(), id));
        }
        expected.sort();
        let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

        let mut seen = Vec::new();
        let mut cursor = Value::Null;
        let mut pages = 0;
        loop {
            let mut input = json!({"limit": 2});
            if !cursor.is_null() {
                input["cursor"] = cursor.clone();
            }
            let page = query(&host, "list", input).unwrap();
            seen.extend(ids(&page));
            pages += 1;
            cursor = page["nextCursor"].clone();
            if cursor.is_null() {
                break;
            }
        }
        assert_eq!(seen, expected);
        assert_eq!(pages, 3);
        // A page that ends exactly at the last window says so.
        let all = query(&host, "list", json!({"limit": 5})).unwrap();
        assert_eq!(all["nextCursor"], Value::Null);
        assert_eq!(ids(&all), expected);
        assert_eq!(ids(&query(&host, "list", json!({})).unwrap()), expected);
    }

    #[test]
    fn list_filters_by_status_system_and_start() {
        let host = fake_host();
        let early = create(
            &host,
            "early",
            &["a"],
            "2026-03-01T08:00:00Z",
            "2026-03-01T09:00:00Z",
        );
        let both = create(
            &host,
            "both",
            &["a", "b"],
            "2026-03-01T10:00:00Z",
            "2026-03-01T11:00:00Z",
        );
        let late = create(
            &host,
            "late",
            &["b"],
            "2026-03-01T12:00:00Z",
            "2026-03-01T13:00:00Z",
        );
        host.run(
            &MaintenancePlugin,
            "add_update",
            json!({"maintenanceId": both, "message": "go", "statusChange": "in_progress"}),
        )
        .result
        .unwrap();
        let list = |input: Value| ids(&query(&host, "list", input).unwrap());
        assert_eq!(
            list(json!({"systemId": "a"})),
            [early.clone(), both.clone()]
        );
        assert_eq!(list(json!({"systemId": "b"})), [both.clone(), late.clone()]);
        assert_eq!(
            list(json!({"status": ["in_progress"]})),
            std::slice::from_ref(&both)
        );
        assert_eq!(
            list(json!({"status": ["scheduled", "completed"], "systemId": "b"})),
            std::slice::from_ref(&late)
        );
        assert_eq!(
            list(json!({"from": "2026-03-01T10:00:00Z", "to": "2026-03-01T12:00:00Z"})),
            std::slice::from_ref(&both)
        );
        assert_eq!(list(json!({"from": "2026-03-01T10:00:01Z"})), [late]);
        assert!(list(json!({"systemId": "c"})).is_empty());
        // A window that leaves a system leaves its listing.
        host.run(
            &MaintenancePlugin,
            "update",
            json!({"maintenanceId": both, "systemIds": ["b"]}),
        )
        .result
        .unwrap();
        assert_eq!(list(json!({"systemId": "a"})), [early]);
    }

    #[test]
    fn a_cursor_that_list_did_not_hand_out_is_bad_input() {
        let host = fake_host();
        assert_eq!(
            refused_paths(&host, "list", json!({"cursor": "yesterday"}))[0],
            "/cursor"
        );
        assert_eq!(
            refused_paths(&host, "list", json!({"limit": 501, "status": ["done"]})),
            ["/status/0", "/limit"]
        );
    }

    #[test]
    fn a_systems_listing_reads_only_that_systems_windows() {
        let host = fake_host();
        for n in 0..300 {
            create(
                &host,
                "other",
                &[&format!("other-{n}")],
                "2026-03-01T10:00:00Z",
                "2026-03-01T11:00:00Z",
            );
        }
        let mine: Vec<String> = (0..3)
            .map(|_| {
                create(
                    &host,
                    "mine",
                    &["mine"],
                    "2026-03-01T10:00:00Z",
                    "2026-03-01T11:00:00Z",
                )
            })
            .collect();
        // The windows a query reads stand in for its cost.
        let counting = Instrumented::new(&host);
        let listed = run_query(&counting, "list", &json!({"systemId": "mine"})).unwrap();
        assert_eq!(ids(&listed).len(), mine.len());
        assert_eq!(counting.window_reads(), mine.len());
        let page = run_query(&counting, "list", &json!({"limit": 10})).unwrap();
        assert_eq!(ids(&page).len(), 10);
        // One page of windows, plus the one that shows a next page exists.
        assert_eq!(counting.window_reads(), mine.len() + 11);
    }

    #[test]
    fn active_for_system_answers_for_an_instant_and_follows_the_window() {
        let host = fake_host();
        host.set_now("2026-03-01T10:30:00Z");
        let id = create(
            &host,
            "w",
            &["db"],
            "2026-03-01T10:00:00Z",
            "2026-03-01T11:00:00Z",
        );
        create(
            &host,
            "elsewhere",
            &["web"],
            "2026-03-01T10:00:00Z",
            "2026-03-01T11:00:00Z",
        );
        let active = |input: Value| ids(&query(&host, "active_for_system", input).unwrap());
        assert_eq!(active(json!({"systemId": "db"})), std::slice::from_ref(&id));
        assert_eq!(
            active(json!({"systemId": "db", "at": "2026-03-01T10:00:00Z"})),
            std::slice::from_ref(&id)
        );
        assert!(active(json!({"systemId": "db", "at": "2026-03-01T11:00:00Z"})).is_empty());
        assert!(active(json!({"systemId": "db", "at": "2026-03-01T09:59:59.999Z"})).is_empty());
        host.run(
            &MaintenancePlugin,
            "clear_system",
            json!({"systemId": "db"}),
        )
        .result
        .unwrap();
        assert!(active(json!({"systemId": "db"})).is_empty());
        assert_eq!(active(json!({"systemId": "web"})).len(), 1);
    }

    #[test]
    fn queries_write_nothing() {
        let host = fake_host();
        create(
            &host,
            "w",
            &["db"],
            "2026-03-01T10:00:00Z",
            "2026-03-01T11:00:00Z",
        );
        let before = host.snapshot();
        for (id, input) in [
            ("get", json!({"maintenanceId": "nope"})),
            ("list", json!({})),
            ("active_for_system", json!({"systemId": "db"})),
        ] {
            let _ = query(&host, id, input);
        }
        assert_eq!(host.snapshot(), before);
    }
}
