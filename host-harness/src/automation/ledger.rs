//! Where automation runs live in the store, and how each one moves
//! forward. Every change of a run record is written in a transaction of
//! the store: the outbox in the transaction of the run whose events start
//! it, a step's progress in that step's own run, a failure in a
//! transaction that first checks nobody recorded the attempt already.
//!
//! Key spaces (the store serialises writers, so a sequence number drawn
//! in a transaction orders runs by the commit order of their events):
//! - `automation/runs`: `<sequence, 20 digits>` -> the [`AutomationRun`];
//! - `automation/queue`: the same key -> when its next step is due, for
//!   every run not yet finished: what a dispatcher scans (everything else
//!   about the run is in its record);
//! - `automation/sequence`: `last` -> the last sequence number drawn.

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::definition::Automation;
use super::record::{AutomationError, AutomationRun, AutomationRunStatus, StepRecord};
use crate::backend::{Backend, Transaction};
use crate::clock::format_instant;

const RUNS: &str = "automation/runs";
const QUEUE: &str = "automation/queue";
const SEQUENCE: &str = "automation/sequence";
const LAST: &str = "last";
/// How many records one scan reads.
const PAGE: usize = 512;

fn key(sequence: u64) -> String {
    format!("{sequence:020}")
}

fn parse_key(key: &str) -> anyhow::Result<u64> {
    key.parse()
        .with_context(|| format!("automation run key {key:?} is not a sequence number"))
}

/// Draws the next sequence number.
pub(crate) fn next_sequence(txn: &mut dyn Transaction) -> anyhow::Result<u64> {
    let next = last_sequence(txn)? + 1;
    txn.set(SEQUENCE, LAST, next.to_string().as_bytes())?;
    Ok(next)
}

/// The run recorded under `sequence`.
pub(crate) fn read_run(
    txn: &mut dyn Transaction,
    sequence: u64,
) -> anyhow::Result<Option<AutomationRun>> {
    txn.get(RUNS, &key(sequence))?
        .map(|bytes| {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("automation run {sequence} is corrupt"))
        })
        .transpose()
}

/// Records `run` under `sequence`, and keeps it in the queue exactly while
/// it is unfinished.
pub(crate) fn write_run(
    txn: &mut dyn Transaction,
    sequence: u64,
    run: &AutomationRun,
) -> anyhow::Result<()> {
    let key = key(sequence);
    txn.set(RUNS, &key, &serde_json::to_vec(run)?)?;
    match (&run.next_attempt_at, run.status.is_finished()) {
        (Some(due_at), false) => {
            let due_at: DateTime<Utc> = due_at
                .parse()
                .with_context(|| format!("automation run {sequence}: bad due instant"))?;
            txn.set(QUEUE, &key, &serde_json::to_vec(&due_at)?)?;
        }
        _ => {
            txn.delete(QUEUE, &key)?;
        }
    }
    Ok(())
}

/// Every unfinished run's sequence number and when its next step is due,
/// in sequence order.
pub(crate) fn queue(txn: &mut dyn Transaction) -> anyhow::Result<Vec<(u64, DateTime<Utc>)>> {
    scan(txn, QUEUE, None)
}

/// Every unfinished run with its record, in sequence order: what a
/// dispatcher's pass works through.
pub(crate) fn queued_runs(txn: &mut dyn Transaction) -> anyhow::Result<Vec<(u64, AutomationRun)>> {
    let mut runs = Vec::new();
    for (sequence, _) in queue(txn)? {
        if let Some(run) = read_run(txn, sequence)? {
            runs.push((sequence, run));
        }
    }
    Ok(runs)
}

/// Every automation run recorded in `backend`, oldest first.
pub fn recorded_runs(backend: &dyn Backend) -> anyhow::Result<Vec<AutomationRun>> {
    let mut txn = backend.begin()?;
    Ok(runs_after(txn.as_mut(), None)?
        .into_iter()
        .map(|(_, run)| run)
        .collect())
}

/// The earliest instant after `after` at which an unfinished run of
/// `backend` falls due, if one does. (Runs already due are not counted:
/// one held back by an earlier run of its key falls due with nothing.)
pub fn next_due_after(
    backend: &dyn Backend,
    after: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut txn = backend.begin()?;
    Ok(queue(txn.as_mut())?
        .into_iter()
        .map(|(_, due_at)| due_at)
        .filter(|due| *due > after)
        .min())
}

/// Every run recorded after `after` (all of them when `None`), in
/// sequence order.
pub(crate) fn runs_after(
    txn: &mut dyn Transaction,
    after: Option<u64>,
) -> anyhow::Result<Vec<(u64, AutomationRun)>> {
    scan(txn, RUNS, after)
}

/// The last sequence number drawn, 0 before the first run.
pub(crate) fn last_sequence(txn: &mut dyn Transaction) -> anyhow::Result<u64> {
    Ok(match txn.get(SEQUENCE, LAST)? {
        Some(bytes) => String::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .context("the stored automation sequence is corrupt")?,
        None => 0,
    })
}

fn scan<T: serde::de::DeserializeOwned>(
    txn: &mut dyn Transaction,
    space: &str,
    after: Option<u64>,
) -> anyhow::Result<Vec<(u64, T)>> {
    let mut found = Vec::new();
    let mut cursor = after.map(key);
    loop {
        let page = txn.scan(space, "", cursor.as_deref(), PAGE)?;
        let full = page.len() == PAGE;
        for (key, bytes) in page {
            let sequence = parse_key(&key)?;
            let value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{space}: entry {sequence} is corrupt"))?;
            found.push((sequence, value));
            cursor = Some(key);
        }
        if !full {
            return Ok(found);
        }
    }
}

/// Which attempt of which step a dispatcher is about to make: the state it
/// read, which must still hold when it claims the attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub sequence: u64,
    pub step: usize,
    /// The attempt about to be made, from 1.
    pub number: u32,
}

impl Attempt {
    /// The attempt `run` is waiting for.
    pub fn next_of(sequence: u64, run: &AutomationRun) -> Self {
        Self {
            sequence,
            step: run.next_step(),
            number: run.attempts + 1,
        }
    }

    /// Whether `run` still waits for exactly this attempt, due by `now`.
    pub fn is_awaited_by(&self, run: &AutomationRun, now: DateTime<Utc>) -> bool {
        !run.status.is_finished()
            && *self == Self::next_of(self.sequence, run)
            && run
                .next_attempt_at
                .as_deref()
                .and_then(|due| due.parse::<DateTime<Utc>>().ok())
                .is_some_and(|due| due <= now)
    }
}

impl AutomationRun {
    /// Records that the step of `attempt` committed, with `step`'s record.
    pub(crate) fn step_committed(
        &mut self,
        automation: &Automation,
        attempt: Attempt,
        step: StepRecord,
        now: DateTime<Utc>,
    ) {
        self.steps.push(step);
        self.attempts = attempt.number;
        self.error = None;
        if automation.step(self.next_step()).is_some() {
            self.status = AutomationRunStatus::Running;
            // The next step starts over at attempt 1.
            self.attempts = 0;
            self.next_attempt_at = Some(format_instant(now));
        } else {
            self.status = AutomationRunStatus::Succeeded;
            self.next_attempt_at = None;
        }
    }

    /// Records that the step of `attempt` failed with `error`: retried
    /// after the automation's backoff when `retryable` and attempts are
    /// left, failed for good otherwise (with `step` as its record).
    pub(crate) fn step_failed(
        &mut self,
        automation: &Automation,
        attempt: Attempt,
        error: AutomationError,
        retryable: bool,
        step: StepRecord,
        now: DateTime<Utc>,
    ) {
        self.attempts = attempt.number;
        if retryable && attempt.number < automation.max_attempts() {
            self.status = AutomationRunStatus::Retrying;
            self.next_attempt_at = Some(format_instant(
                now + automation.backoff_after(attempt.number),
            ));
        } else {
            self.status = AutomationRunStatus::Failed;
            self.next_attempt_at = None;
            self.steps.push(step);
        }
        self.error = Some(error);
    }
}
