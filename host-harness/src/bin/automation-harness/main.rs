//! `automation-harness`: load a plugin component, describe it, run its
//! actions against a durable store, read the store's history, and run
//! scenario files.
//!
//! Exit status: 0 success; 1 a failed run or a failed expectation; 2 a
//! usage, file or plugin-loading error, reported on one line.

mod faults;
mod print;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use automation_harness::backend::StoreUnavailable;
use automation_harness::scenario::{Scenario, run_scenario_with, shipped_plugins};
use automation_harness::{
    ActionFailure, Actor, ActorType, AutomationRun, AutomationRunStatus, Automations, Backend,
    Harness, Limits, MemoryBackend, Plugin, PluginHost, PostgresBackend, QueryRequest, RunOutcome,
    RunRequest, SqliteBackend, UnknownAction, UnknownQuery,
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
    /// A plugin to load: a component file, or the name of a plugin this
    /// workspace ships (`maintenance`, `notifications`). Repeatable: the
    /// plugins load side by side on one store. Without `--plugin` and
    /// `--plugins`, every shipped plugin loads.
    #[arg(long, global = true, value_name = "WASM | NAME")]
    plugin: Vec<PathBuf>,

    /// Load every `*.wasm` file in this folder too, in name order.
    #[arg(long, global = true, value_name = "DIR")]
    plugins: Option<PathBuf>,

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
    /// Ask a plugin a read-only query about what it holds in a store,
    /// such as `maintenance.get`; nothing is written. `describe` lists the
    /// queries and their inputs.
    Query(QueryArgs),
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
        /// Take this RFC 3339 instant as now instead of the real clock;
        /// between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16.854775807Z.
        #[arg(long, value_name = "INSTANT")]
        now: Option<DateTime<Utc>>,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        automations: OptionalAutomationArgs,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run many actions against a store, one per line of JSON
    /// (`{"run": ACTION, "config": {...}, "actor"?, "runId"?, "secrets"?}`),
    /// printing each committed outcome as one JSON line as soon as it is
    /// durable. A run stopped by a host error (a trap, a limit) is rolled
    /// back and reported as a line with `error.kind` `host`; the batch goes
    /// on.
    Batch {
        /// The file of JSON lines; standard input when absent or `-`.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Record the automation runs the batch's events start, in each
        /// run's own transaction, without running them: `serve` or
        /// `dispatch` does.
        #[arg(long, value_name = "FILE")]
        automations: Option<PathBuf>,
    },
    /// Run scenario files, each on a fresh in-memory store.
    Scenario {
        /// Scenario files (JSON).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Automations for the scenarios that bring none of their own.
        #[arg(long, value_name = "FILE")]
        automations: Option<PathBuf>,
        /// Print the reports as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run as an automation host until SIGINT or SIGTERM: run scheduled
    /// jobs when due, and dispatch automation runs and their retries when
    /// due, printing one line per run. On a signal it finishes the run in
    /// progress and exits 0. The automations file is read once: a changed
    /// file takes effect on the next start.
    Serve {
        #[command(flatten)]
        automations: AutomationArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Run every automation step that is due now, and the runs those steps
    /// start, then exit; prints the automation runs it moved forward.
    Dispatch {
        #[command(flatten)]
        automations: AutomationArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Take this RFC 3339 instant as now instead of the real clock.
        #[arg(long, value_name = "INSTANT")]
        now: Option<DateTime<Utc>>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show a store's automation runs, newest first.
    Runs {
        #[command(flatten)]
        store: StoreArgs,
        /// Only the runs of this automation.
        #[arg(long, value_name = "ID")]
        automation: Option<String>,
        /// Only the runs with this status: pending, running, retrying,
        /// succeeded or failed.
        #[arg(long, value_name = "STATUS")]
        status: Option<AutomationRunStatus>,
        /// Print one JSON object instead of text.
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

/// The automations a host runs.
#[derive(Args)]
struct AutomationArgs {
    /// The automations file (`{"automations": [...]}`; JSON Schema in
    /// host-harness/schemas/automations.schema.json).
    #[arg(long, value_name = "FILE", required = true)]
    automations: PathBuf,
    /// How deep a chain of automation runs may go.
    #[arg(long, value_name = "N", default_value_t = automation_harness::automation::DEFAULT_DEPTH_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..))]
    depth_limit: u32,
}

/// Automations for a command that also runs without them.
#[derive(Args)]
struct OptionalAutomationArgs {
    /// Also run these automations: the events of the runs start automation
    /// runs, dispatched until nothing more is due.
    #[arg(long, value_name = "FILE")]
    automations: Option<PathBuf>,
    /// How deep a chain of automation runs may go.
    #[arg(long, value_name = "N", default_value_t = automation_harness::automation::DEFAULT_DEPTH_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..))]
    depth_limit: u32,
}

#[derive(Args)]
struct StoreArgs {
    /// The store: a SQLite file, or a PostgreSQL database
    /// (`postgres://user:password@host:port/db`).
    #[arg(long, value_name = "PATH | URL", env = "AUTOMATION_HARNESS_STORE",
          hide_env_values = true, default_value = DEFAULT_STORE, value_parser = parse_store)]
    store: StoreSpec,
}

/// Where a command's store is.
#[derive(Clone)]
enum StoreSpec {
    Sqlite(PathBuf),
    /// A connection string, which may hold a password: never printed as
    /// given (see `Display`).
    Postgres(String),
}

fn parse_store(text: &str) -> Result<StoreSpec, String> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        Ok(StoreSpec::Postgres(text.to_owned()))
    } else if text.is_empty() {
        Err("expected a SQLite file or a postgres:// URL".to_owned())
    } else {
        Ok(StoreSpec::Sqlite(PathBuf::from(text)))
    }
}

impl std::fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSpec::Sqlite(path) => write!(f, "{}", path.display()),
            StoreSpec::Postgres(url) => f.write_str(&automation_harness::backend::redact_url(url)),
        }
    }
}

impl std::fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreSpec({self})")
    }
}

impl StoreSpec {
    /// Opens the store (creating a SQLite file, or the tables of a
    /// database, when there are none yet). A store that cannot be reached
    /// fails the command (exit 1) like a failed run; anything else about
    /// it is a usage error (exit 2).
    fn open(&self) -> anyhow::Result<Arc<dyn Backend>> {
        let unless_unavailable = |error: anyhow::Error| {
            if error.chain().any(|cause| cause.is::<StoreUnavailable>()) {
                error
            } else {
                usage(error)
            }
        };
        let backend: Arc<dyn Backend> = match self {
            StoreSpec::Sqlite(path) => Arc::new(SqliteBackend::open(path).map_err(usage)?),
            StoreSpec::Postgres(url) => {
                Arc::new(PostgresBackend::open(url).map_err(unless_unavailable)?)
            }
        };
        Ok(faults::store(backend))
    }

    /// Opens a store that must already exist: reading a SQLite file that
    /// is not there is a usage error, not a new empty store.
    fn open_existing(&self) -> anyhow::Result<Arc<dyn Backend>> {
        if let StoreSpec::Sqlite(path) = self
            && !path.exists()
        {
            return Err(usage(anyhow!("no store at {}", path.display())));
        }
        self.open()
    }
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
    /// Use a throwaway in-memory store instead of the store (`--store`
    /// or `AUTOMATION_HARNESS_STORE`).
    #[arg(long)]
    memory: bool,
    /// The actor of the trigger that started the run: TYPE:ID[:NAME], TYPE
    /// one of system, user, application, service.
    #[arg(long, value_name = "TYPE:ID[:NAME]", value_parser = parse_actor)]
    actor: Option<Actor>,
    /// The run's id; generated when absent.
    #[arg(long, value_name = "ID")]
    run_id: Option<String>,
    /// Fix the host clock at this RFC 3339 instant, between
    /// 1970-01-01T00:00:00Z and 2262-04-11T23:47:16.854775807Z.
    #[arg(long, value_name = "INSTANT")]
    now: Option<DateTime<Utc>>,
    /// A secret of the run, masked in the persisted changes and events.
    /// Repeatable.
    #[arg(long = "secret", value_name = "VALUE")]
    secrets: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    automations: OptionalAutomationArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct QueryArgs {
    /// The query: a local id (`get`) or a qualified one (`maintenance.get`).
    query: String,
    /// The query's input: inline JSON, or `@FILE` to read it from a file.
    #[arg(long, value_name = "JSON | @FILE", default_value = "{}")]
    input: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Fix the host clock at this RFC 3339 instant (queries that default
    /// to "now" read it), between 1970-01-01T00:00:00Z and
    /// 2262-04-11T23:47:16.854775807Z.
    #[arg(long, value_name = "INSTANT")]
    now: Option<DateTime<Utc>>,
    #[command(flatten)]
    limits: LimitArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// What each run may consume; a run that passes a limit is stopped and
/// rolled back, and reported as a host error.
#[derive(Args)]
struct LimitArgs {
    /// Stop a run after this many milliseconds of wall time (default
    /// 1000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    deadline_ms: Option<u64>,
    /// Cap a run's linear memory: bytes, or a number with KiB, MiB or GiB
    /// (default 64MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<usize>,
}

/// `65536`, `64KiB`, `64MiB`, `1GiB`.
fn parse_size(text: &str) -> Result<usize, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err("expected bytes, or a number with KiB, MiB or GiB".to_owned()),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("{text:?} is not a size from 1 byte to {}", usize::MAX))
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        if let Some(ms) = self.deadline_ms {
            limits.deadline = Duration::from_millis(ms);
        }
        if let Some(bytes) = self.max_memory {
            limits.memory_bytes = bytes;
        }
        limits
    }
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
    end_quietly_on_a_closed_pipe();
    let cli = Cli::parse();
    match faults::init().map_err(usage).and_then(|()| execute(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {}", error_line(&error));
            ExitCode::from(if is_usage_error(&error) { 2 } else { 1 })
        }
    }
}

/// Whether `error` ends the command with status 2 rather than 1.
/// `automation-harness history | head` ends like any Unix tool when the
/// reader goes away, instead of panicking in `println!`: Rust ignores
/// SIGPIPE by default, so its default action is put back.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists;
    // restoring a signal's default disposition has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn is_usage_error(error: &anyhow::Error) -> bool {
    error.is::<UsageError>()
        || error
            .chain()
            .any(|cause| cause.is::<UnknownAction>() || cause.is::<UnknownQuery>())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An error's whole chain on one line.
fn error_line(error: &anyhow::Error) -> String {
    one_line(&format!("{error:#}"))
}

/// Refuses a `--now` the plugin's clock cannot show.
fn check_now(now: Option<DateTime<Utc>>) -> anyhow::Result<()> {
    match now {
        Some(now) => automation_harness::clock::check_instant(now)
            .map(drop)
            .context("--now")
            .map_err(usage),
        None => Ok(()),
    }
}

/// A run that ended in a host error (a trap, a limit, a broken protocol, a
/// store failure), as one object with the keys of `run --json`: `ok` false,
/// `error.kind` `host`, `error.message` the whole error chain on one line,
/// no changes, events or logs. `runId` is null when the request named none.
fn host_error_json(
    action: &str,
    run_id: Option<&str>,
    error: &anyhow::Error,
    wall_time: Duration,
) -> Value {
    let message = error_line(error);
    let outcome = RunOutcome {
        run_id: String::new(),
        action: action.to_owned(),
        result: Err(ActionFailure::Internal(message.clone())),
        changes: Vec::new(),
        events: Vec::new(),
        logs: Vec::new(),
        fuel_consumed: None,
        wall_time,
    };
    let mut json = outcome.to_json();
    json["runId"] = json!(run_id);
    json["error"] = json!({ "kind": "host", "message": message, "problems": [] });
    json
}

/// Runs the command; `Ok(false)` when a run or an expectation failed.
fn execute(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Describe { json } => {
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            if json {
                let described: Vec<Value> = plugins.iter().map(Plugin::describe).collect();
                print::json(&json!({ "plugins": described }));
            } else {
                for (index, plugin) in plugins.iter().enumerate() {
                    if index > 0 {
                        println!();
                    }
                    print::describe(plugin);
                }
            }
            Ok(true)
        }
        Command::Run(args) => {
            check_now(args.now)?;
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            run(plugins, args)
        }
        Command::Query(args) => {
            check_now(args.now)?;
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            query(plugins, args)
        }
        Command::History { store, json } => history(&store.store, json),
        Command::Tick {
            store,
            now,
            limits,
            automations,
            json,
        } => {
            check_now(now)?;
            let limits = limits.limits();
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            tick(plugins, &store.store, now, limits, &automations, json)
        }
        Command::Serve {
            automations,
            store,
            limits,
        } => {
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            serve(plugins, &automations, &store.store, limits.limits())
        }
        Command::Dispatch {
            automations,
            store,
            now,
            limits,
            json,
        } => {
            check_now(now)?;
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            dispatch(
                plugins,
                &automations,
                &store.store,
                now,
                limits.limits(),
                json,
            )
        }
        Command::Runs {
            store,
            automation,
            status,
            json,
        } => runs(&store.store, automation.as_deref(), status, json),
        Command::Batch {
            file,
            store,
            limits,
            automations,
        } => {
            let limits = limits.limits();
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            batch(
                plugins,
                file.as_deref(),
                &store.store,
                limits,
                automations.as_deref(),
            )
        }
        Command::Scenario {
            files,
            automations,
            json,
        } => {
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            scenarios(&plugins, &files, automations.as_deref(), json)
        }
        Command::Demo { file } => {
            let plugins = load_plugins(&cli.plugin, cli.plugins.as_deref())?;
            demo(&plugins, &file)
        }
    }
}

/// The component a `--plugin` names: a shipped plugin's name, or a file.
fn plugin_path(given: &Path) -> PathBuf {
    shipped_plugins()
        .into_iter()
        .find(|(name, _)| given == Path::new(name))
        .map(|(_, path)| path)
        .unwrap_or_else(|| given.to_owned())
}

/// The components `--plugin` and `--plugins` name, or every shipped one.
fn plugin_paths(given: &[PathBuf], folder: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = given.iter().map(|path| plugin_path(path)).collect();
    if let Some(folder) = folder {
        let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
            .with_context(|| format!("--plugins {}", folder.display()))?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("--plugins {}", folder.display()))?;
        found.retain(|path| path.extension().is_some_and(|ext| ext == "wasm"));
        found.sort();
        ensure!(
            !found.is_empty(),
            "--plugins {}: no *.wasm file in it",
            folder.display()
        );
        paths.extend(found);
    }
    if paths.is_empty() {
        paths = shipped_plugins()
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        ensure!(
            !paths.is_empty(),
            "this build ships no plugin; pass --plugin <WASM>"
        );
    }
    Ok(paths)
}

/// Loads the plugins the command line names, side by side; two with one
/// id are refused, naming both files.
fn load_plugins(given: &[PathBuf], folder: Option<&Path>) -> anyhow::Result<Vec<Plugin>> {
    let plugins = plugin_paths(given, folder)
        .map_err(usage)?
        .iter()
        .map(|path| load_plugin(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    PluginHost::check_unique_ids(&plugins).map_err(usage)?;
    Ok(plugins)
}

fn load_plugin(path: &Path) -> anyhow::Result<Plugin> {
    let path = path.to_owned();
    if !path.exists() {
        let names: Vec<&str> = shipped_plugins().iter().map(|(name, _)| *name).collect();
        return Err(usage(anyhow!(
            "no plugin component at {} (shipped plugins: {})",
            path.display(),
            names.join(", ")
        )));
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
    Ok(plugin)
}

fn read_config(text: &str) -> anyhow::Result<Value> {
    read_json(text, "config")
}

/// The JSON of `--<what>`: inline, or `@FILE`.
fn read_json(text: &str, what: &str) -> anyhow::Result<Value> {
    let (source, json) = match text.strip_prefix('@') {
        Some(file) => (
            format!("{what} file {file}"),
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {what} file {file}"))?,
        ),
        None => (format!("--{what}"), text.to_owned()),
    };
    serde_json::from_str(&json).with_context(|| format!("{source} is not JSON"))
}

/// Answers one query against the store, which it never writes: exit 0
/// when the query answered, 1 when it failed (not found, invalid input),
/// 2 for bad input the host refused first (an unknown query, a store that
/// does not exist).
fn query(plugins: Vec<Plugin>, args: QueryArgs) -> anyhow::Result<bool> {
    let input = read_json(&args.input, "input").map_err(usage)?;
    let backend = args.store.store.open_existing()?;
    let mut builder = Harness::builder()
        .backend(backend)
        .limits(args.limits.limits());
    if let Some(now) = args.now {
        builder = builder.fixed_clock(now);
    }
    let host = builder.with_plugins(plugins).map_err(usage)?;
    let outcome = host.query(QueryRequest::new(args.query, input))?;
    let json = outcome.to_json();
    if args.json {
        print::json(&json);
    } else {
        print::answer(&json);
    }
    Ok(outcome.is_ok())
}

/// The automations of `file`, when one is given, checked against
/// `plugins` before any store is opened: a bad file leaves the store as
/// it was.
fn load_automations(
    plugins: &[Plugin],
    file: Option<&Path>,
    depth_limit: u32,
) -> anyhow::Result<Option<Automations>> {
    let Some(file) = file else {
        return Ok(None);
    };
    let catalogs: Vec<_> = plugins.iter().map(Plugin::catalog).collect();
    Ok(Some(
        Automations::load(file, &catalogs)
            .map_err(|error| usage(error.into()))?
            .with_depth_limit(depth_limit),
    ))
}

/// `host`, running `automations` when there are some.
fn with_automations(host: PluginHost, automations: Option<Automations>) -> PluginHost {
    match automations {
        Some(automations) => host.with_automations(automations),
        None => host,
    }
}

/// Whether none of `runs` failed.
fn none_failed(runs: &[AutomationRun]) -> bool {
    runs.iter()
        .all(|run| run.status != AutomationRunStatus::Failed)
}

fn run(plugins: Vec<Plugin>, args: RunArgs) -> anyhow::Result<bool> {
    let config = read_config(&args.config).map_err(usage)?;
    let automations = load_automations(
        &plugins,
        args.automations.automations.as_deref(),
        args.automations.depth_limit,
    )?;
    let backend: Arc<dyn Backend> = if args.memory {
        Arc::new(MemoryBackend::new())
    } else {
        args.store.store.open()?
    };
    let mut builder = Harness::builder()
        .backend(backend)
        .limits(args.limits.limits());
    if let Some(now) = args.now {
        builder = builder.fixed_clock(now);
    }
    let harness = with_automations(builder.with_plugins(plugins).map_err(usage)?, automations);
    let watermark = match harness.automations() {
        Some(_) => Some(harness.automation_watermark()?),
        None => None,
    };
    let mut request = RunRequest::new(args.action.clone(), config);
    request.actor = args.actor;
    request.run_id = args.run_id.clone();
    request.secrets = args.secrets;
    let started = Instant::now();
    let outcome = match harness.run(request) {
        Ok(outcome) => outcome,
        Err(error) if args.json && !is_usage_error(&error) => {
            // A script reads stdout: it gets an outcome like any other.
            let json = host_error_json(
                &args.action,
                args.run_id.as_deref(),
                &error,
                started.elapsed(),
            );
            faults::before_print();
            print::json(&json);
            eprintln!("error: {}", error_line(&error));
            return Ok(false);
        }
        Err(error) => return Err(error),
    };
    let automation_runs = match watermark {
        Some(watermark) => Some(harness.dispatch_since(watermark)?),
        None => None,
    };
    faults::before_print();
    let mut json = outcome.to_json();
    if let Some(runs) = &automation_runs {
        json["automationRuns"] = serde_json::to_value(runs)?;
    }
    if args.json {
        print::json(&json);
    } else {
        print::outcome(&json);
        if !args.memory {
            println!("  store       {}", args.store.store);
        }
    }
    Ok(outcome.is_ok() && automation_runs.as_deref().is_none_or(none_failed))
}

fn tick(
    plugins: Vec<Plugin>,
    store: &StoreSpec,
    now: Option<DateTime<Utc>>,
    limits: Limits,
    automations: &OptionalAutomationArgs,
    json: bool,
) -> anyhow::Result<bool> {
    let harness = host_on(
        plugins,
        automations.automations.as_deref(),
        automations.depth_limit,
        store,
        now,
        limits,
    )?;
    let watermark = match harness.automations() {
        Some(_) => Some(harness.automation_watermark()?),
        None => None,
    };
    let started = Instant::now();
    let outcomes = match harness.tick() {
        Ok(outcomes) => outcomes,
        Err(error) if json && !is_usage_error(&error) => {
            // Which job failed is only known when the plugins have one.
            let mut jobs = harness
                .harnesses()
                .iter()
                .flat_map(|harness| harness.catalog().jobs.values());
            let action = match (jobs.next(), jobs.next()) {
                (Some(job), None) => Value::from(job.id.as_str()),
                _ => Value::Null,
            };
            let mut run = host_error_json("", None, &error, started.elapsed());
            run["action"] = action;
            faults::before_print();
            print::json(&json!({ "ok": false, "runs": [run] }));
            eprintln!("error: {}", error_line(&error));
            return Ok(false);
        }
        Err(error) => return Err(error),
    };
    let automation_runs = match watermark {
        Some(watermark) => Some(harness.dispatch_since(watermark)?),
        None => None,
    };
    let ok = outcomes.iter().all(|outcome| outcome.is_ok())
        && automation_runs.as_deref().is_none_or(none_failed);
    faults::before_print();
    if json {
        let runs: Vec<Value> = outcomes.iter().map(|outcome| outcome.to_json()).collect();
        let mut report = json!({ "ok": ok, "runs": runs });
        if let Some(automation_runs) = &automation_runs {
            report["automationRuns"] = serde_json::to_value(automation_runs)?;
        }
        print::json(&report);
    } else {
        if outcomes.is_empty() {
            println!("no job was due");
        }
        for outcome in &outcomes {
            print::outcome(&outcome.to_json());
        }
        if let Some(automation_runs) = &automation_runs {
            print::automation_runs(automation_runs);
        }
    }
    Ok(ok)
}

/// A host of the command line's plugins and, when a file is given, its
/// automations, on the SQLite store at `store`, reading the real clock
/// unless `now` fixes it. The automations are checked before the store is
/// opened.
fn host_on(
    plugins: Vec<Plugin>,
    automations: Option<&Path>,
    depth_limit: u32,
    store: &StoreSpec,
    now: Option<DateTime<Utc>>,
    limits: Limits,
) -> anyhow::Result<PluginHost> {
    let automations = load_automations(&plugins, automations, depth_limit)?;
    let backend = store.open()?;
    let mut builder = Harness::builder().backend(backend).limits(limits);
    if let Some(now) = now {
        builder = builder.fixed_clock(now);
    }
    Ok(with_automations(
        builder.with_plugins(plugins).map_err(usage)?,
        automations,
    ))
}

fn dispatch(
    plugins: Vec<Plugin>,
    automations: &AutomationArgs,
    store: &StoreSpec,
    now: Option<DateTime<Utc>>,
    limits: Limits,
    json: bool,
) -> anyhow::Result<bool> {
    let host = host_on(
        plugins,
        Some(&automations.automations),
        automations.depth_limit,
        store,
        now,
        limits,
    )?;
    let watermark = host.automation_watermark()?;
    let runs = host.dispatch_since(watermark)?;
    let ok = none_failed(&runs);
    faults::before_print();
    if json {
        print::json(&json!({ "ok": ok, "automationRuns": runs }));
    } else if runs.is_empty() {
        println!("no automation run was due");
    } else {
        print::automation_runs(&runs);
    }
    Ok(ok)
}

/// How long `serve` sleeps at most between looks at the store and the
/// job schedule; a signal is noticed within [`SIGNAL_POLL`].
const SERVE_IDLE: Duration = Duration::from_secs(1);
const SIGNAL_POLL: Duration = Duration::from_millis(50);

fn serve(
    plugins: Vec<Plugin>,
    automations: &AutomationArgs,
    store: &StoreSpec,
    limits: Limits,
) -> anyhow::Result<bool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
    }
    let host = host_on(
        plugins,
        Some(&automations.automations),
        automations.depth_limit,
        store,
        None,
        limits,
    )?;
    let count = host.automations().map_or(0, |a| a.iter().count());
    println!(
        "serving {count} automation(s) from {} on {}; SIGINT or SIGTERM stops after the run in \
         progress; a changed automations file takes effect on the next start",
        automations.automations.display(),
        store
    );
    let stopping = || stop.load(Ordering::SeqCst);
    while !stopping() {
        // A failure of the store (or of a plugin that will not even
        // instantiate) is reported and tried again after a pause, like a
        // service does; the runs it concerned are still recorded.
        let pass = || -> anyhow::Result<Duration> {
            for outcome in host.tick()? {
                print::job_line(&outcome);
            }
            host.dispatch_until(&stopping, &mut |_, run| print::automation_run_line(run))?;
            // Sleep until the next retry is due, or a second at most, so
            // runs other processes record and jobs falling due are picked
            // up.
            let now = host.clock().now();
            Ok(
                automation_harness::automation::next_due_after(host.backend().as_ref(), now)?
                    .map(|due| (due - now).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(SERVE_IDLE)
                    .min(SERVE_IDLE),
            )
        };
        let idle = pass().unwrap_or_else(|error| {
            eprintln!("error: {}; trying again", error_line(&error));
            SERVE_IDLE
        });
        let until = Instant::now() + idle;
        while !stopping() && Instant::now() < until {
            std::thread::sleep(SIGNAL_POLL.min(until - Instant::now()));
        }
    }
    println!("stopped");
    Ok(true)
}

fn runs(
    store: &StoreSpec,
    automation: Option<&str>,
    status: Option<AutomationRunStatus>,
    json: bool,
) -> anyhow::Result<bool> {
    let backend = store.open_existing()?;
    let mut runs = automation_harness::automation::recorded_runs(backend.as_ref())?;
    runs.retain(|run| {
        automation.is_none_or(|id| run.automation == id)
            && status.is_none_or(|status| run.status == status)
    });
    runs.reverse();
    if json {
        print::json(&json!({ "automationRuns": runs }));
    } else if runs.is_empty() {
        println!("no automation run");
    } else {
        print::automation_runs(&runs);
    }
    Ok(true)
}

fn batch(
    plugins: Vec<Plugin>,
    file: Option<&Path>,
    store: &StoreSpec,
    limits: Limits,
    automations: Option<&Path>,
) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    let input: Box<dyn BufRead> = match file {
        Some(path) if path != Path::new("-") => Box::new(std::io::BufReader::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(usage)?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let automations = load_automations(
        &plugins,
        automations,
        automation_harness::automation::DEFAULT_DEPTH_LIMIT,
    )?;
    let backend = store.open()?;
    let harness = with_automations(
        Harness::builder()
            .backend(backend)
            .limits(limits)
            .with_plugins(plugins)
            .map_err(usage)?,
        automations,
    );
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
        let mut request = RunRequest::new(step.run.clone(), step.config);
        request.actor = step.actor;
        request.run_id = step.run_id.clone();
        request.secrets = step.secrets;
        let started = Instant::now();
        let outcome = match harness.run(request) {
            Ok(outcome) => outcome.to_json(),
            Err(error) if is_usage_error(&error) => {
                return Err(error.context(format!("line {}", index + 1)));
            }
            // A host error rolled the run back, like a failed run: report
            // it as that run's line and go on with the next.
            Err(error) => {
                eprintln!("error: line {}: {}", index + 1, error_line(&error));
                host_error_json(&step.run, step.run_id.as_deref(), &error, started.elapsed())
            }
        };
        all_ok &= outcome["ok"] == Value::Bool(true);
        // One line per run, flushed once the run is committed, so whoever
        // reads the output knows exactly which runs are durable.
        faults::before_print();
        writeln!(out, "{outcome}")?;
        out.flush()?;
    }
    Ok(all_ok)
}

fn history(store: &StoreSpec, json: bool) -> anyhow::Result<bool> {
    let backend = store.open_existing()?;
    let changes = backend.changes()?;
    let events = backend.events()?;
    if json {
        print::json(&json!({ "changes": changes, "events": events }));
    } else {
        print::history(&changes, &events);
    }
    Ok(true)
}

fn scenarios(
    plugins: &[Plugin],
    files: &[PathBuf],
    automations: Option<&Path>,
    json: bool,
) -> anyhow::Result<bool> {
    let shared_automations: Option<Vec<Value>> = automations
        .map(|file| {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let document: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            document["automations"]
                .as_array()
                .cloned()
                .ok_or_else(|| anyhow!("{}: automations: expected an array", file.display()))
        })
        .transpose()
        .map_err(usage)?;
    let mut loaded: Vec<(PathBuf, Scenario, Vec<Plugin>)> = Vec::new();
    for file in files {
        let mut scenario = Scenario::load(file).map_err(usage)?;
        if scenario.automations.is_none() {
            scenario.automations = shared_automations.clone();
        }
        let plugins = scenario_plugins(&scenario, file, plugins)?;
        loaded.push((file.clone(), scenario, plugins));
    }
    let reports: Vec<_> = loaded
        .iter()
        .map(|(file, scenario, plugins)| (file, run_scenario_with(plugins, scenario)))
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

/// The plugins `scenario` names, or `default` when it names none; its
/// automations checked against them (a bad one is bad input, like a
/// malformed step).
fn scenario_plugins(
    scenario: &Scenario,
    file: &Path,
    default: &[Plugin],
) -> anyhow::Result<Vec<Plugin>> {
    let plugins = match scenario.plugin_paths().map_err(usage)? {
        Some(paths) => {
            let own = paths
                .iter()
                .map(|path| load_plugin(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            PluginHost::check_unique_ids(&own).map_err(usage)?;
            own
        }
        None => default.to_vec(),
    };
    let catalogs: Vec<_> = plugins.iter().map(Plugin::catalog).collect();
    scenario
        .automations(&catalogs)
        .with_context(|| format!("{}", file.display()))
        .map_err(usage)?;
    Ok(plugins)
}

fn demo(plugins: &[Plugin], file: &Path) -> anyhow::Result<bool> {
    let file = if file.exists() {
        file.to_owned()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file)
    };
    let scenario = Scenario::load(&file).map_err(usage)?;
    let plugins = &scenario_plugins(&scenario, &file, plugins)?;
    for plugin in plugins {
        print::describe(plugin);
        println!();
    }
    if let Some(description) = &scenario.description {
        println!("{description}");
        println!();
    }
    let report = run_scenario_with(plugins, &scenario);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bytes_or_binary_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        for bad in [
            "",
            "0",
            "0MiB",
            "1MB",
            "1 MiB",
            "-1",
            "MiB",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_host_error_has_the_keys_of_an_outcome() {
        let error = anyhow!("out of fuel").context("plugin p, action a trapped");
        let json = host_error_json("a", Some("r"), &error, Duration::from_millis(3));
        assert_eq!(json["ok"], false);
        assert_eq!(json["runId"], "r");
        assert_eq!(
            json["error"],
            json!({"kind": "host", "message": "plugin p, action a trapped: out of fuel", "problems": []})
        );
        assert_eq!(json["wallTimeMs"], 3.0);
        let json = host_error_json("a", None, &error, Duration::ZERO);
        assert_eq!(json["runId"], Value::Null);
    }
}
