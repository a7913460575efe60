//! Time-driven jobs. The plugin declares each job and its interval; the
//! host decides when it runs: at every whole multiple of the interval
//! since the Unix epoch, once. Which instant each job last ran at is kept
//! in the store, written in the job run's own transaction, so a durable
//! store never runs a job twice for the same instant and a failed run is
//! retried at the next tick.

use anyhow::{Context as _, anyhow, ensure};
use chrono::{DateTime, Duration, Utc};

use crate::backend::Transaction;
use crate::catalog::JobInfo;
use crate::clock::{Clock, FixedClock, format_instant};
use crate::harness::Harness;
use crate::run::Bookkeeping;
use crate::run::{RunOutcome, UnknownAction};

/// The latest instant at or before `now` at which `job` is due.
pub fn latest_due(job: &JobInfo, now: DateTime<Utc>) -> DateTime<Utc> {
    let interval = i64::from(job.every_seconds) * 1000;
    let millis = now.timestamp_millis();
    let due = millis - millis.rem_euclid(interval);
    DateTime::from_timestamp_millis(due).unwrap_or(now)
}

/// The instants in `(after, until]` at which `job` is due, in order.
pub fn due_between(
    job: &JobInfo,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let step = Duration::seconds(i64::from(job.every_seconds));
    let mut instants = Vec::new();
    let mut due = latest_due(job, until);
    while due > after {
        instants.push(due);
        due -= step;
    }
    instants.reverse();
    instants
}

/// A job run's claim on its due instant, taken inside the run's own
/// transaction: of two hosts ticking one store at once, whichever gets the
/// write lock first runs the job and records the instant, and the other
/// then finds it recorded and runs nothing.
struct DueInstantClaim<'a> {
    space: &'a str,
    job: &'a JobInfo,
    due: DateTime<Utc>,
    scheduled_at: DateTime<Utc>,
}

impl Bookkeeping for DueInstantClaim<'_> {
    fn claim(&mut self, txn: &mut dyn Transaction) -> anyhow::Result<bool> {
        let ran = read_last_run(txn, self.space, self.job)?;
        Ok(ran.is_none_or(|ran| ran < self.due))
    }

    fn record(&mut self, txn: &mut dyn Transaction, _outcome: &RunOutcome) -> anyhow::Result<()> {
        txn.set(
            self.space,
            &self.job.local_id,
            format_instant(self.scheduled_at).as_bytes(),
        )
    }
}

/// The instant `job` last ran at, as recorded in `txn`.
fn read_last_run(
    txn: &mut dyn Transaction,
    space: &str,
    job: &JobInfo,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    txn.get(space, &job.local_id)?
        .map(|bytes| {
            let text = String::from_utf8(bytes).context("a stored job instant is not UTF-8")?;
            DateTime::parse_from_rfc3339(&text)
                .map(|instant| instant.with_timezone(&Utc))
                .with_context(|| format!("the stored last run of job {} is corrupt", job.id))
        })
        .transpose()
}

impl Harness {
    fn scheduler_space(&self) -> String {
        format!("scheduler/{}", self.plugin.catalog.id)
    }

    /// The instant `job` last ran at on this store, if it ever did.
    pub fn last_job_run(&self, job: &JobInfo) -> anyhow::Result<Option<DateTime<Utc>>> {
        let mut txn = self.backend.begin()?;
        read_last_run(txn.as_mut(), &self.scheduler_space(), job)
    }

    /// Runs `job` (local or qualified) at `scheduled_at` and records that
    /// it ran, unless it already ran on this store for the instant it
    /// became due at or before `scheduled_at`: then nothing runs (`None`).
    /// The check and the record are in the run's transaction, so this
    /// holds across threads and processes sharing the store.
    pub fn run_job(
        &self,
        job: &str,
        scheduled_at: DateTime<Utc>,
    ) -> anyhow::Result<Option<RunOutcome>> {
        let catalog = &self.plugin.catalog;
        let info = catalog
            .local_id(job)
            .and_then(|local| catalog.jobs.get(local))
            .ok_or_else(|| UnknownAction {
                plugin: catalog.label(),
                action: job.to_owned(),
                known: catalog.jobs.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let space = self.scheduler_space();
        let mut claim = DueInstantClaim {
            space: &space,
            job: info,
            due: latest_due(info, scheduled_at),
            scheduled_at,
        };
        self.run_job_at(info, scheduled_at, &mut claim)
    }

    /// Runs, at the clock's current instant, every job that has become
    /// due since it last ran on this store.
    pub fn tick(&self) -> anyhow::Result<Vec<RunOutcome>> {
        let now = self.clock.now();
        let mut outcomes = Vec::new();
        for job in self.plugin.catalog.jobs.values() {
            // No look at the record before the run: the run's own claim
            // is the one place that decides (a job that is not due costs
            // an instantiation and a transaction, microseconds).
            outcomes.extend(self.run_job(&job.local_id, now)?);
        }
        Ok(outcomes)
    }

    /// Moves the fixed clock forward by `by`, running each job at every
    /// instant it falls due on the way, in time order, with the clock
    /// standing at that instant. Advancing two minutes past two due
    /// instants of a job runs it twice.
    pub fn advance(&self, by: Duration) -> anyhow::Result<Vec<RunOutcome>> {
        advance(&[self], self.fixed_clock.as_deref(), by, None)
    }
}

/// Every job of `harnesses` at every instant in `(start, end]` it falls
/// due, in time order, then by qualified job id.
pub(crate) fn due_jobs<'a>(
    harnesses: &[&'a Harness],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, &'a Harness, &'a JobInfo)> {
    let mut due: Vec<(DateTime<Utc>, &Harness, &JobInfo)> = harnesses
        .iter()
        .flat_map(|harness| {
            harness.catalog().jobs.values().flat_map(move |job| {
                due_between(job, start, end)
                    .into_iter()
                    .map(move |at| (at, *harness, job))
            })
        })
        .collect();
    due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.id.cmp(&b.2.id)));
    due
}

/// Work besides jobs that falls due as time moves, such as automation
/// retries: when it is next due, and how to run what is due.
pub(crate) struct AlsoDue<'a> {
    /// The first instant after the given one at which something falls due.
    pub next_after: &'a dyn Fn(DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>>,
    /// Runs what is due at the clock's instant.
    pub run_due: &'a dyn Fn() -> anyhow::Result<()>,
}

/// Moves `clock`, which every harness of `harnesses` reads, forward by
/// `by`, running each of their jobs at every instant it falls due on the
/// way, in time order, then by qualified job id, with the clock standing at
/// that instant; and `also`'s work at each instant it falls due, after
/// the jobs of that instant.
pub(crate) fn advance(
    harnesses: &[&Harness],
    clock: Option<&FixedClock>,
    by: Duration,
    also: Option<AlsoDue<'_>>,
) -> anyhow::Result<Vec<RunOutcome>> {
    ensure!(
        by >= Duration::zero(),
        "time cannot go backwards (advance by {by})"
    );
    let clock = clock.ok_or_else(|| anyhow!("advancing time needs a fixed clock"))?;
    let start = clock.now();
    let end = start + by;
    let mut jobs = due_jobs(harnesses, start, end).into_iter().peekable();
    let mut outcomes = Vec::new();
    let run_also = || match &also {
        Some(also) => (also.run_due)(),
        None => Ok(()),
    };
    run_also()?;
    loop {
        let next_job = jobs.peek().map(|(at, _, _)| *at);
        let next_other = match &also {
            Some(also) => (also.next_after)(clock.now())?,
            None => None,
        };
        let Some(next) = [next_job, next_other]
            .into_iter()
            .flatten()
            .min()
            .filter(|next| *next <= end)
        else {
            break;
        };
        clock.set(next);
        while let Some((at, harness, job)) = jobs.next_if(|(at, _, _)| *at == next) {
            outcomes.extend(harness.run_job(&job.local_id, at)?);
        }
        run_also()?;
    }
    clock.set(end);
    run_also()?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutely() -> JobInfo {
        JobInfo {
            id: "p.job".into(),
            local_id: "job".into(),
            display_name: String::new(),
            description: String::new(),
            every_seconds: 60,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn due_instants_are_whole_intervals() {
        let job = minutely();
        assert_eq!(
            latest_due(&job, at("2026-03-01T10:00:59Z")),
            at("2026-03-01T10:00:00Z")
        );
        assert_eq!(
            due_between(&job, at("2026-03-01T10:00:00Z"), at("2026-03-01T10:02:00Z")),
            [at("2026-03-01T10:01:00Z"), at("2026-03-01T10:02:00Z")]
        );
        assert!(
            due_between(&job, at("2026-03-01T10:00:01Z"), at("2026-03-01T10:00:59Z")).is_empty()
        );
    }
}
