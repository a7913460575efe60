//! How a scheduler run's cost grows with the store: the maintenance job
//! with 10 due windows among 100,000 that are not due, against the same
//! job with only the 10. The plugin keeps a due index, so the two should
//! cost about the same.
//!
//! `cargo bench -p automation-harness --bench scheduler`

use std::path::Path;
use std::time::{Duration, Instant};

use automation_harness::{Harness, Plugin, RunRequest};
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

/// Median time of one job run that moves `DUE_PER_RUN` windows, over a
/// store that holds `background` windows that are not due.
fn job_run_cost(plugin: &Plugin, background: usize) -> Duration {
    let harness = Harness::builder()
        .fixed_clock(now())
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
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        for n in 0..DUE_PER_RUN {
            create(
                &harness,
                "2026-03-01T09:00:00Z",
                "2026-03-01T12:00:00Z",
                &format!("due-{n}"),
            );
        }
        let started = Instant::now();
        let outcome = harness
            .run_job("advance_status", now())
            .expect("the job runs");
        samples.push(started.elapsed());
        assert_eq!(
            outcome.events.len(),
            DUE_PER_RUN,
            "every due window moves once"
        );
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let Some(path) = option_env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN") else {
        eprintln!("no plugin component was built");
        std::process::exit(2);
    };
    let plugin = Plugin::load(
        &automation_harness::default_engine().expect("an engine"),
        Path::new(path),
    )
    .expect("the plugin loads");
    println!(
        "scheduler job run, {DUE_PER_RUN} due windows, median of {SAMPLES} runs (in-memory store)"
    );
    let small = job_run_cost(&plugin, 0);
    println!("  store with only the due windows:      {:>10.1?}", small);
    let large = job_run_cost(&plugin, BACKGROUND_WINDOWS);
    println!(
        "  store with {BACKGROUND_WINDOWS} more, not due: {:>10.1?}",
        large
    );
    println!(
        "  ratio large/small: {:.2} (target: at most 2.00)",
        large.as_secs_f64() / small.as_secs_f64()
    );
}
