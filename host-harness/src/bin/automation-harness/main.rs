//! `automation-harness`: load a plugin component, describe it, run its
//! actions against a durable store, read the store's history, and run
//! scenario files.
//!
//! Exit status: 0 success; 1 a failed run or a failed expectation; 2 a
//! usage, file or plugin-loading error, reported on one line.

mod print;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use automation_harness::scenario::{Scenario, run_scenario};
use automation_harness::{
    Actor, ActorType, Backend, Harness, MemoryBackend, Plugin, RunRequest, SqliteBackend,
    UnknownAction,
};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// Where `run` and `history` keep their store unless told otherwise,
/// relative to the current directory.
const DEFAULT_STORE: &str = ".automation-harness/store.sqlite3";

/// The scenario `demo` walks through.
const DEMO_SCENARIO: &str = "scenarios/park-then-clear.json";

#[derive(Parser)]
#[command(
    name = "automation-harness",
    version,
    about = "Run Checkstack automation plugins (WebAssembly components) in a sandboxed host",
    long_about = "Run Checkstack automation plugins (WebAssembly components) in a sandboxed host.\n\n\
        Exit status: 0 success; 1 a failed run or failed expectation; 2 a usage, file or \
        plugin-loading error."
)]
struct Cli {
    /// The plugin component to load. Defaults to the maintenance plugin
    /// this workspace builds.
    #[arg(long, global = true, value_name = "WASM")]
    plugin: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the plugin's catalog: triggers, actions, artifact types,
    /// entity kinds and the component's imports.
    Describe {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run one action against a store.
    Run(RunArgs),
    /// Show a store's change log and trigger event log, oldest first.
    History {
        #[command(flatten)]
        store: StoreArgs,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run every scheduled job that is due at the clock's instant against a
    /// store, printing each run like `run`.
    Tick {
        #[command(flatten)]
        store: StoreArgs,
        /// Take this RFC 3339 instant as now instead of the real clock.
        #[arg(long, value_name = "INSTANT")]
        now: Option<DateTime<Utc>>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run many actions against a store, one per line of JSON
    /// (`{"run": ACTION, "config": {...}, "actor"?, "runId"?, "secrets"?}`),
    /// printing each committed outcome as one JSON line as soon as it is
    /// durable.
    Batch {
        /// The file of JSON lines; standard input when absent or `-`.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Run scenario files, each on a fresh in-memory store.
    Scenario {
        /// Scenario files (JSON).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the reports as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the catalog, then walk through a scenario step by step.
    Demo {
        /// The scenario to walk through.
        #[arg(value_name = "FILE", default_value = DEMO_SCENARIO)]
        file: PathBuf,
    },
}

#[derive(Args)]
struct StoreArgs {
    /// The SQLite store file.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_STORE)]
    store: PathBuf,
}

#[derive(Args)]
struct RunArgs {
    /// The action: a local id (`set_system`) or a qualified one
    /// (`maintenance.set_system`).
    action: String,
    /// The action's config: inline JSON, or `@FILE` to read it from a file.
    #[arg(long, value_name = "JSON | @FILE")]
    config: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Use a throwaway in-memory store instead of the SQLite file.
    #[arg(long, conflicts_with = "store")]
    memory: bool,
    /// The actor of the trigger that started the run: TYPE:ID[:NAME], TYPE
    /// one of system, user, application, service.
    #[arg(long, value_name = "TYPE:ID[:NAME]", value_parser = parse_actor)]
    actor: Option<Actor>,
    /// The run's id; generated when absent.
    #[arg(long, value_name = "ID")]
    run_id: Option<String>,
    /// Fix the host clock at this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT")]
    now: Option<DateTime<Utc>>,
    /// A secret of the run, masked in the persisted changes and events.
    /// Repeatable.
    #[arg(long = "secret", value_name = "VALUE")]
    secrets: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_actor(text: &str) -> Result<Actor, String> {
    let mut parts = text.splitn(3, ':');
    let kind = match parts.next().unwrap_or_default() {
        "system" => ActorType::System,
        "user" => ActorType::User,
        "application" => ActorType::Application,
        "service" => ActorType::Service,
        other => {
            return Err(format!(
                "unknown actor type {other:?}; expected system, user, application or service"
            ));
        }
    };
    let id = parts
        .next()
        .filter(|id| !id.is_empty())
        .ok_or("expected TYPE:ID[:NAME]")?;
    let name = parts
        .next()
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    Ok(Actor::new(kind, id, name))
}

/// An error that ends the command with status 2: bad usage, an unreadable
/// file, a plugin that will not load.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
struct UsageError(anyhow::Error);

fn usage(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(error))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            let usage_error =
                error.is::<UsageError>() || error.chain().any(|cause| cause.is::<UnknownAction>());
            eprintln!("error: {}", one_line(&format!("{error:#}")));
            ExitCode::from(if usage_error { 2 } else { 1 })
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs the command; `Ok(false)` when a run or an expectation failed.
fn execute(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Describe { json } => {
            let (plugin, path) = load_plugin(cli.plugin.as_deref())?;
            if json {
                print::json(&print::describe_json(&plugin));
            } else {
                print::describe(&plugin, &path);
            }
            Ok(true)
        }
        Command::Run(args) => {
            let (plugin, _) = load_plugin(cli.plugin.as_deref())?;
            run(plugin, args)
        }
        Command::History { store, json } => history(&store.store, json),
        Command::Tick { store, now, json } => {
            let (plugin, _) = load_plugin(cli.plugin.as_deref())?;
            tick(plugin, &store.store, now, json)
        }
        Command::Batch { file, store } => {
            let (plugin, _) = load_plugin(cli.plugin.as_deref())?;
            batch(plugin, file.as_deref(), &store.store)
        }
        Command::Scenario { files, json } => {
            let (plugin, _) = load_plugin(cli.plugin.as_deref())?;
            scenarios(&plugin, &files, json)
        }
        Command::Demo { file } => {
            let (plugin, path) = load_plugin(cli.plugin.as_deref())?;
            demo(&plugin, &path, &file)
        }
    }
}

fn default_plugin() -> anyhow::Result<PathBuf> {
    option_env!("AUTOMATION_HARNESS_DEFAULT_PLUGIN")
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("this build has no default plugin; pass --plugin <WASM>"))
}

fn load_plugin(path: Option<&Path>) -> anyhow::Result<(Plugin, PathBuf)> {
    let path = match path {
        Some(path) => path.to_owned(),
        None => default_plugin().map_err(usage)?,
    };
    if !path.exists() {
        return Err(usage(anyhow!("no plugin component at {}", path.display())));
    }
    let engine = automation_harness::default_engine().map_err(usage)?;
    // Compiling takes far longer than loading a compiled entry, so the
    // CLI keeps compiled plugins in the user's cache directory.
    let plugin = match automation_harness::cache::default_cache_dir() {
        Some(dir) => {
            let cache = automation_harness::cache::ComponentCache::new(dir);
            Plugin::load_cached(&engine, &path, &cache).map(|(plugin, _)| plugin)
        }
        None => Plugin::load(&engine, &path),
    }
    .map_err(usage)?;
    Ok((plugin, path))
}

fn read_config(text: &str) -> anyhow::Result<Value> {
    let (source, json) = match text.strip_prefix('@') {
        Some(file) => (
            format!("config file {file}"),
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read config file {file}"))?,
        ),
        None => ("--config".to_owned(), text.to_owned()),
    };
    serde_json::from_str(&json).with_context(|| format!("{source} is not JSON"))
}

fn run(plugin: Plugin, args: RunArgs) -> anyhow::Result<bool> {
    let config = read_config(&args.config).map_err(usage)?;
    let backend: Arc<dyn Backend> = if args.memory {
        Arc::new(MemoryBackend::new())
    } else {
        Arc::new(SqliteBackend::open(&args.store.store).map_err(usage)?)
    };
    let mut builder = Harness::builder().backend(backend);
    if let Some(now) = args.now {
        builder = builder.fixed_clock(now);
    }
    let harness = builder.with_plugin(plugin);
    let mut request = RunRequest::new(args.action, config);
    request.actor = args.actor;
    request.run_id = args.run_id;
    request.secrets = args.secrets;
    let outcome = harness.run(request)?;
    if args.json {
        print::json(&outcome.to_json());
    } else {
        print::outcome(&outcome.to_json());
        if !args.memory {
            println!("  store       {}", args.store.store.display());
        }
    }
    Ok(outcome.is_ok())
}

fn tick(
    plugin: Plugin,
    store: &Path,
    now: Option<DateTime<Utc>>,
    json: bool,
) -> anyhow::Result<bool> {
    let backend = SqliteBackend::open(store).map_err(usage)?;
    let mut builder = Harness::builder().backend(Arc::new(backend));
    if let Some(now) = now {
        builder = builder.fixed_clock(now);
    }
    let harness = builder.with_plugin(plugin);
    let outcomes = harness.tick()?;
    let ok = outcomes.iter().all(|outcome| outcome.is_ok());
    if json {
        let runs: Vec<Value> = outcomes.iter().map(|outcome| outcome.to_json()).collect();
        print::json(&json!({ "ok": ok, "runs": runs }));
    } else if outcomes.is_empty() {
        println!("no job was due");
    } else {
        for outcome in &outcomes {
            print::outcome(&outcome.to_json());
        }
    }
    Ok(ok)
}

fn batch(plugin: Plugin, file: Option<&Path>, store: &Path) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    let input: Box<dyn BufRead> = match file {
        Some(path) if path != Path::new("-") => Box::new(std::io::BufReader::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(usage)?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let backend = SqliteBackend::open(store).map_err(usage)?;
    let harness = Harness::builder()
        .backend(Arc::new(backend))
        .with_plugin(plugin);
    let mut out = std::io::stdout().lock();
    let mut all_ok = true;
    for (index, line) in input.lines().enumerate() {
        let line = line.context("cannot read the batch input")?;
        if line.trim().is_empty() {
            continue;
        }
        let step: automation_harness::scenario::Step = serde_json::from_str(&line)
            .with_context(|| format!("line {} is not a run", index + 1))
            .map_err(usage)?;
        let mut request = RunRequest::new(step.run, step.config);
        request.actor = step.actor;
        request.run_id = step.run_id;
        request.secrets = step.secrets;
        let outcome = harness.run(request)?;
        all_ok &= outcome.is_ok();
        // One line per run, flushed once the run is committed, so whoever
        // reads the output knows exactly which runs are durable.
        writeln!(out, "{}", outcome.to_json())?;
        out.flush()?;
    }
    Ok(all_ok)
}

fn history(store: &Path, json: bool) -> anyhow::Result<bool> {
    if !store.exists() {
        return Err(usage(anyhow!("no store at {}", store.display())));
    }
    let backend = SqliteBackend::open(store).map_err(usage)?;
    let changes = backend.changes()?;
    let events = backend.events()?;
    if json {
        print::json(&json!({ "changes": changes, "events": events }));
    } else {
        print::history(&changes, &events);
    }
    Ok(true)
}

fn scenarios(plugin: &Plugin, files: &[PathBuf], json: bool) -> anyhow::Result<bool> {
    let loaded: Vec<(PathBuf, Scenario)> = files
        .iter()
        .map(|file| Ok((file.clone(), Scenario::load(file).map_err(usage)?)))
        .collect::<anyhow::Result<_>>()?;
    let reports: Vec<_> = loaded
        .iter()
        .map(|(file, scenario)| (file, run_scenario(plugin, scenario)))
        .collect();
    if json {
        let reports: Vec<Value> = reports
            .iter()
            .map(|(file, report)| json!({ "file": file, "report": report }))
            .collect();
        print::json(&Value::Array(reports));
    } else {
        for (file, report) in &reports {
            print::scenario(report, file, false);
        }
        let passed = reports.iter().filter(|(_, report)| report.passed).count();
        println!(
            "{} scenario(s): {passed} passed, {} failed",
            reports.len(),
            reports.len() - passed
        );
    }
    Ok(reports.iter().all(|(_, report)| report.passed))
}

fn demo(plugin: &Plugin, plugin_path: &Path, file: &Path) -> anyhow::Result<bool> {
    let file = if file.exists() {
        file.to_owned()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file)
    };
    let scenario = Scenario::load(&file).map_err(usage)?;
    print::describe(plugin, plugin_path);
    println!();
    if let Some(description) = &scenario.description {
        println!("{description}");
        println!();
    }
    let report = run_scenario(plugin, &scenario);
    print::scenario(&report, &file, true);
    if report.passed {
        println!(
            "Every step did what the scenario expects. Try `automation-harness run set_system \
             --config '{{\"systemId\":\"db-1\",\"durationMinutes\":30}}'` next."
        );
    }
    if scenario.steps.is_empty() {
        bail!("{} has no steps", file.display());
    }
    Ok(report.passed)
}
