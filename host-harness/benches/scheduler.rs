//! How a scheduler run's cost grows with the store: the maintenance job
//! with 10 due windows among 100,000 that are not due, against the same
//! job with only the 10. The plugin keeps a due index, so the two should
//! cost about the same.
//!
//! `cargo bench -p automation-harness --bench scheduler`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automation_harness::{Clock, FixedClock, Harness, Plugin, RunRequest};
use chrono::{DateTime, Utc};
use serde_json::json;

const BACKGROUND_WINDOWS: usize = 100_000;
const DUE_PER_RUN: usize = 10;
const SAMPLES: usize = 40;

fn now() -> DateTime<Utc> {
    "2026-03-01T10:00:00Z".parse().expect("valid instant")
}

fn create(harness: &Harness, start: &str, end: &str, system: &str) {
    let outcome = harness
        .run(RunRequest::new(
            "create",
            json!({"title": "bench", "systemIds": [system], "startAt": start, "endAt": end}),
        ))
        .expect("create runs");
    assert!(outcome.is_ok(), "create failed: {:?}", outcome.result);
}

/// A harness over a fresh in-memory store that holds `background`
/// windows that are not due.
fn store_with(plugin: &Plugin, clock: &Arc<FixedClock>, background: usize) -> Harness {
    let harness = Harness::builder()
        .clock(Arc::clone(clock) as Arc<dyn Clock>)
        .with_plugin(plugin.clone());
    let filled = Instant::now();
    for n in 0..background {
        create(
            &harness,
            "2030-01-01T00:00:00Z",
            "2030-01-01T01:00:00Z",
            &format!("sys-{n}"),
        );
    }
    if background > 0 {
        eprintln!("  filled {background} windows in {:.1?}", filled.elapsed());
    }
    harness
}

/// One job run that moves `DUE_PER_RUN` windows, created untimed just
/// before; the time of the run alone.
fn job_run(harness: &Harness) -> Duration {
    for n in 0..DUE_PER_RUN {
        create(
            harness,
            "2026-03-01T09:00:00Z",
            "2026-03-01T12:00:00Z",
            &format!("due-{n}"),
        );
    }
    // Each sample runs for a later instant, so the job is due every time.
    let at = harness.clock().now();
    let started = Instant::now();
    let outcome = harness
        .run_job("advance_status", at)
        .expect("the job runs")
        .expect("the job is due");
    let elapsed = started.elapsed();
    assert_eq!(
        outcome.events.len(),
        DUE_PER_RUN,
        "every due window moves once"
    );
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let Some(path) = option_env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN") else {
        eprintln!("no plugin component was built");
        std::process::exit(2);
    };
    // `cargo bench` passes --bench; `cargo test --benches` runs this as a
    // smoke test, with a small store and few samples, so its asserts run
    // in every test run.
    let full = std::env::args().any(|argument| argument == "--bench");
    let (background, samples) = if full {
        (BACKGROUND_WINDOWS, SAMPLES)
    } else {
        (100, 3)
    };
    let plugin = Plugin::load(
        &automation_harness::default_engine().expect("an engine"),
        Path::new(path),
    )
    .expect("the plugin loads");
    println!(
        "scheduler job run, {DUE_PER_RUN} due windows, median of {samples} runs per store, \
         the stores taking turns run by run (in-memory stores)"
    );
    let clock = Arc::new(FixedClock::new(now()));
    let small = store_with(&plugin, &clock, 0);
    let large = store_with(&plugin, &clock, background);
    let mut small_samples = Vec::with_capacity(samples);
    let mut large_samples = Vec::with_capacity(samples);
    for sample in 0..samples {
        clock.set(now() + chrono::Duration::minutes(sample as i64));
        small_samples.push(job_run(&small));
        large_samples.push(job_run(&large));
    }
    let (small, large) = (median(small_samples), median(large_samples));
    println!("  store with only the due windows:      {:>10.1?}", small);
    println!("  store with {background} more, not due: {:>10.1?}", large);
    println!(
        "  ratio large/small: {:.2} (target: at most 2.00)",
        large.as_secs_f64() / small.as_secs_f64()
    );
}
