//! Automations: each turns the events of one trigger into runs of action
//! steps. This module holds what is written (definitions, checked against
//! the loaded catalogs, with `when` conditions in CEL), what is recorded
//! (automation runs, in the store), and the bookkeeping that records them
//! in the same transactions as the action runs they come from; the
//! dispatcher that runs the steps is [`crate::PluginHost::dispatch`].
//!
//! Why the records live in the store: an automation run is recorded in the
//! transaction of the run whose event starts it (an outbox), and each step
//! records its progress in its own run's transaction. A crash between a
//! commit and the dispatch of what it started loses nothing, and no step
//! commits twice, whichever dispatchers share the store.

mod definition;
mod ledger;
mod outbox;
mod record;

pub use definition::{
    AUTOMATIONS_SCHEMA, Automation, AutomationDefinition, Automations, AutomationsError,
    DEFAULT_DEPTH_LIMIT, RetryDefinition, StepDefinition,
};
pub use ledger::{next_due_after, recorded_runs};
pub use outbox::{CONDITION, DEPTH_LIMIT, HOST};
pub use record::{AutomationError, AutomationRun, AutomationRunStatus, StepEvent, StepRecord};

pub(crate) use ledger::{Attempt, last_sequence, queued_runs, runs_after};
pub(crate) use outbox::{
    Outbox, StepProgress, action_error, host_error, record_failure, step_record,
};
