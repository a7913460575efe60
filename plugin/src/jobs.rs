//! Scheduled jobs: the plugin declares them, the host decides when they
//! run.

use plugin_sdk::host::Host;

use crate::actions::ActionError;
use crate::entity::{EntityState, write_entity};
use crate::service::MaintenanceService;

pub use plugin_sdk::JobContext;

/// Moves windows along their lifecycle as time passes.
pub const JOB_ADVANCE_STATUS: &str = "advance_status";

/// Runs the job `job_id` (a local id).
pub fn run_job<H: Host>(host: &H, job_id: &str, context: &JobContext) -> Result<(), ActionError> {
    match job_id {
        JOB_ADVANCE_STATUS => advance_status(host, context),
        other => Err(ActionError::NotFound(format!("Unknown job: {other}"))),
    }
}

/// Every scheduled window whose start has passed starts, every window in
/// progress whose end has passed completes: one step per window per run,
/// so a window created in the past takes one step per tick.
fn advance_status<H: Host>(host: &H, context: &JobContext) -> Result<(), ActionError> {
    let service = MaintenanceService::new(host);
    let options = context.mutation_options();
    let due = service.due_windows(context.scheduled_at)?;
    let mut moved = 0;
    for window in &due {
        let advanced = write_entity(host, &window.id, &options, || {
            let advanced = service.advance(&window.id)?;
            let state = EntityState::from(advanced.as_ref().unwrap_or(window));
            Ok((advanced, Some(state)))
        })?;
        if advanced.is_some() {
            moved += 1;
        }
    }
    if moved > 0 {
        host.info(&format!(
            "Maintenance scheduler moved {moved} window(s) at {}",
            context.scheduled_at
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{RunContext, run_action};
    use crate::model::Status;
    use crate::testing::fake_host;
    use plugin_sdk::host::{Actor, ActorType};
    use plugin_sdk::testing::TestHost;
    use serde_json::json;

    fn service_actor() -> Actor {
        Actor {
            kind: ActorType::Service,
            id: "maintenance".into(),
            name: Some("maintenance".into()),
        }
    }

    fn tick(host: &TestHost) {
        let context = JobContext {
            run_id: "job-run".into(),
            actor: service_actor(),
            scheduled_at: plugin_sdk::host::Environment::now(host),
        };
        run_job(host, JOB_ADVANCE_STATUS, &context).unwrap();
    }

    fn status(host: &TestHost, id: &str) -> Status {
        MaintenanceService::new(host)
            .get(id)
            .unwrap()
            .unwrap()
            .status
    }

    #[test]
    fn windows_step_through_their_lifecycle_one_step_per_tick() {
        let host = fake_host();
        let run = RunContext::default();
        let created = run_action(
            &host,
            "create",
            &json!({"title": "t", "systemIds": ["a"], "startAt": "2026-03-01T08:00:00Z", "endAt": "2026-03-01T09:00:00Z"}),
            &run,
        )
        .unwrap();
        let id = created.external_id.unwrap();
        tick(&host);
        assert_eq!(status(&host, &id), Status::InProgress);
        tick(&host);
        assert_eq!(status(&host, &id), Status::Completed);
        tick(&host);
        assert_eq!(status(&host, &id), Status::Completed);
        let changes = host.changes();
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[1].options.actor, Some(service_actor()));
    }

    #[test]
    fn cancelled_and_future_windows_stay_put() {
        let host = fake_host();
        let run = RunContext::default();
        let future = run_action(
            &host,
            "set_system",
            &json!({"systemId": "a", "durationMinutes": 5}),
            &run,
        )
        .unwrap()
        .external_id
        .unwrap();
        host.advance_minutes(-1);
        let cancelled = run_action(
            &host,
            "set_system",
            &json!({"systemId": "b", "durationMinutes": 5}),
            &run,
        )
        .unwrap()
        .external_id
        .unwrap();
        run_action(
            &host,
            "add_update",
            &json!({"maintenanceId": cancelled, "message": "off", "statusChange": "cancelled"}),
            &run,
        )
        .unwrap();
        host.advance_minutes(-1);
        tick(&host);
        assert_eq!(status(&host, &future), Status::Scheduled);
        assert_eq!(status(&host, &cancelled), Status::Cancelled);
    }

    #[test]
    fn unknown_jobs_are_not_found() {
        let host = fake_host();
        let context = JobContext {
            run_id: "r".into(),
            actor: service_actor(),
            scheduled_at: plugin_sdk::host::Environment::now(&host),
        };
        assert!(matches!(
            run_job(&host, "nope", &context),
            Err(ActionError::NotFound(_))
        ));
    }
}
