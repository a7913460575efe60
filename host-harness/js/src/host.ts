// The Node host: plugins loaded side by side on one in-memory store, runs
// sent to a worker thread and held to a deadline and a memory limit, jobs
// scheduled on the host's clock. The worker does the run; this side owns
// the store that counts, and commits a run's writes only when it
// succeeded, so a plugin that traps, loops or eats memory loses nothing.

import v8 from "node:v8";
import { Worker } from "node:worker_threads";

import type { CatalogSummary } from "./catalog.js";
import { spaces } from "./engine.js";
import { UsageError } from "./errors.js";
import { DEFAULT_LIMITS, type Limits, formatBytes } from "./limits.js";
import type { Invocation } from "./pipeline.js";
import { SeededRandom } from "./random.js";
import {
  type Actor,
  type ChangeRecord,
  type EventRecord,
  type LogLine,
  type QueryAnswer,
  type RunOutcome,
  formatInstant,
} from "./records.js";
import { Store } from "./store.js";
import { type Transpiled, transpiled } from "./transpile.js";
import type { InstanceMode, RunMessage, WorkerReply, WorkerSetup } from "./worker.js";

type FinalReply = Extract<WorkerReply, { type: "done" } | { type: "answered" }>;

export interface HostOptions {
  limits?: Limits;
  /** Seeds every id the host draws and every byte a plugin draws; drawn from the system when absent. */
  seed?: bigint;
  /** A fixed clock at this instant (epoch milliseconds); the real clock when absent. */
  nowMs?: number;
  instanceMode?: InstanceMode;
  /** How long loading the plugins (transpiling aside) may take. */
  loadDeadlineMs?: number;
}

export interface QueryRequest {
  /** A local (`get`) or qualified (`maintenance.get`) query id. */
  query: string;
  input: unknown;
}

export interface RunRequest {
  /** A local (`set_system`) or qualified (`maintenance.set_system`) action id. */
  action: string;
  config: unknown;
  actor?: Actor;
  runId?: string;
  secrets?: string[];
}

/** The host stopped a run (a trap, a limit, a broken contract); nothing of it was kept. */
export class HostRunError extends Error {}

/** Most the worker's JavaScript heap may hold, besides the plugin's linear memory. */
const WORKER_HEAP_MB = 256;
/** How long a worker may take to pick a run up before the run's own deadline starts. */
const WORKER_GRACE_MS = 5_000;

let memoryFlag: number | undefined;

/**
 * Caps every wasm memory of this process. V8 has no per-instance cap a
 * host can set, so the cap is the process's: the first host fixes it. jco
 * runs its transpiler as wasm in this process too, so a host transpiles
 * its components before it sets the cap.
 */
function capWasmMemory(bytes: number): void {
  const pages = Math.floor(bytes / 65536);
  if (memoryFlag === undefined) {
    v8.setFlagsFromString(`--wasm-max-mem-pages=${pages}`);
    memoryFlag = pages;
  } else if (memoryFlag !== pages) {
    throw new UsageError(
      `this process already caps wasm memory at ${formatBytes(memoryFlag * 65536)}; a host with ${formatBytes(bytes)} needs a process of its own`,
    );
  }
}

export class NodeHost {
  readonly store = new Store();
  readonly changes: ChangeRecord[] = [];
  readonly events: EventRecord[] = [];
  private worker: Worker | undefined;
  /** The worker being started, shared by whoever needs one meanwhile. */
  private spawning: Promise<Worker> | undefined;
  /** Runs, queries and clock moves, one at a time, in the order asked. */
  private queue: Promise<unknown> = Promise.resolve();
  private catalogs: CatalogSummary[] = [];
  private nextMessage = 0;
  private clockMs: number | undefined;

  private constructor(
    private readonly components: Transpiled[],
    private readonly limits: Limits,
    private readonly random: SeededRandom,
    private readonly instanceMode: InstanceMode,
    private readonly loadDeadlineMs: number,
  ) {}

  /** Transpiles (or takes from the cache) and loads `components`, side by side. */
  static async start(components: string[], options: HostOptions = {}): Promise<NodeHost> {
    const limits = options.limits ?? DEFAULT_LIMITS;
    const loaded = [];
    for (const component of components) loaded.push(await transpiled(component));
    capWasmMemory(limits.memoryBytes);
    const host = new NodeHost(
      loaded,
      limits,
      options.seed === undefined ? SeededRandom.fromEntropy() : new SeededRandom(options.seed),
      options.instanceMode ?? "fresh",
      options.loadDeadlineMs ?? 30_000,
    );
    host.clockMs = options.nowMs;
    await host.ensureWorker();
    const ids = new Map<string, string>();
    for (const [index, catalog] of host.catalogs.entries()) {
      const earlier = ids.get(catalog.id);
      if (earlier !== undefined) {
        await host.close();
        throw new UsageError(`${earlier} and ${components[index]} both declare plugin id ${catalog.id}`);
      }
      ids.set(catalog.id, components[index]);
    }
    return host;
  }

  /** The plugins' ids, versions, actions and jobs, in load order. */
  plugins(): readonly CatalogSummary[] {
    return this.catalogs;
  }

  /** Where the host clock stands, in epoch milliseconds. */
  now(): number {
    return this.clockMs ?? Date.now();
  }

  async close(): Promise<void> {
    const worker = this.worker ?? (await this.spawning?.catch(() => undefined));
    this.worker = undefined;
    await worker?.terminate();
  }

  /**
   * Runs `task` after everything asked before it: one worker serves one
   * run at a time, and a run must see every write committed before it.
   */
  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs an action; a domain failure is a failed outcome, a stopped run a `HostRunError`. */
  async run(request: RunRequest): Promise<RunOutcome> {
    const [plugin, localId] = this.route(request.action);
    const runId = request.runId ?? this.random.uuid();
    return this.serialised(() =>
      this.execute(plugin, { kind: "action", localId, config: request.config, actor: request.actor, secrets: request.secrets ?? [] }, runId),
    );
  }

  /**
   * Answers a read-only query. A domain failure (including an input that
   * breaks the query's schema) is a failed answer; a trap, a limit or a
   * result that breaks its schema is a `HostRunError`. Nothing a query
   * does reaches the store.
   */
  async query(request: QueryRequest): Promise<QueryAnswer & { logs: LogLine[] }> {
    const [plugin, localId] = this.routeQuery(request.query);
    return this.serialised(() => this.answer(plugin, localId, request.input));
  }

  private async answer(plugin: number, localId: string, input: unknown): Promise<QueryAnswer & { logs: LogLine[] }> {
    const reply = await this.send(plugin, { kind: "query", localId, input }, "");
    if (reply.type !== "answered") throw new HostRunError(`the worker answered a query with ${reply.type}`);
    return { ...reply.answer, logs: reply.logs };
  }

  /**
   * Moves the fixed clock forward by `byMs`, running every job that falls
   * due on the way at its instant, in time order (then by job id).
   */
  async advance(byMs: number): Promise<RunOutcome[]> {
    return this.serialised(() => this.moveClock(byMs));
  }

  private async moveClock(byMs: number): Promise<RunOutcome[]> {
    if (this.clockMs === undefined) throw new UsageError("advancing time needs a fixed clock");
    if (byMs < 0) throw new UsageError(`time cannot go backwards (advance by ${byMs} ms)`);
    const start = this.clockMs;
    const end = start + byMs;
    const due: Array<{ at: number; plugin: number; job: string; id: string; everySeconds: number }> = [];
    this.catalogs.forEach((catalog, plugin) => {
      for (const job of catalog.jobs) {
        for (const at of dueBetween(job.everySeconds, start, end)) {
          due.push({ at, plugin, job: job.localId, id: `${catalog.id}.${job.localId}`, everySeconds: job.everySeconds });
        }
      }
    });
    due.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const outcomes: RunOutcome[] = [];
    for (const job of due) {
      this.clockMs = job.at;
      const outcome = await this.runJob(job.plugin, job.job, job.everySeconds, job.at);
      if (outcome !== undefined) outcomes.push(outcome);
    }
    this.clockMs = end;
    return outcomes;
  }

  /** Runs a job scheduled at `scheduledAtMs`, unless it already ran for that due instant. */
  private async runJob(plugin: number, job: string, everySeconds: number, scheduledAtMs: number): Promise<RunOutcome | undefined> {
    const space = spaces.scheduler(this.catalogs[plugin].id);
    const stored = this.store.get(space, job);
    const lastRun = stored === undefined ? undefined : Date.parse(Buffer.from(stored).toString("utf8"));
    if (lastRun !== undefined && lastRun >= latestDue(everySeconds, scheduledAtMs)) return undefined;
    const outcome = await this.execute(plugin, { kind: "job", localId: job, scheduledAtMs }, this.random.uuid());
    if (outcome.ok) this.store.apply([{ space, key: job, value: Buffer.from(formatInstant(scheduledAtMs)) }]);
    return outcome;
  }

  private route(action: string): [number, string] {
    return this.resolve("action", action, (catalog) => catalog.actions);
  }

  private routeQuery(query: string): [number, string] {
    return this.resolve("query", query, (catalog) => catalog.queries);
  }

  /**
   * The plugin and local id an id names, as the Rust host resolves them:
   * qualified, or local when exactly one plugin declares it; else bad
   * input listing what there is.
   */
  private resolve(what: string, id: string, declared: (catalog: CatalogSummary) => string[]): [number, string] {
    const labels = () => this.catalogs.map((catalog) => `${catalog.id}@${catalog.version}`).join(", ");
    const all = this.catalogs.flatMap((catalog) => declared(catalog).map((local) => `${catalog.id}.${local}`));
    // The Rust host lists "(none)" only for queries: every plugin has actions.
    const known = () => (all.length === 0 && what === "query" ? "(none)" : all.join(", "));
    const unknown = (detail: string) => new UsageError(`plugin ${labels()} has no ${what} ${JSON.stringify(id)}; it has: ${detail}`);
    const dot = id.indexOf(".");
    if (dot >= 0) {
      const plugin = this.catalogs.findIndex((catalog) => catalog.id === id.slice(0, dot));
      const local = id.slice(dot + 1);
      if (plugin < 0 || !declared(this.catalogs[plugin]).includes(local)) throw unknown(known());
      return [plugin, local];
    }
    const serving = this.catalogs.flatMap((catalog, index) => (declared(catalog).includes(id) ? [index] : []));
    if (serving.length === 0) throw unknown(known());
    if (serving.length > 1) {
      const [first, second] = serving.map((index) => `${this.catalogs[index].id}.${id}`);
      throw unknown(`${first} and ${second} both declare it: qualify it`);
    }
    return [serving[0], id];
  }

  private async execute(plugin: number, invocation: Invocation, runId: string): Promise<RunOutcome> {
    const started = performance.now();
    const reply = await this.send(plugin, invocation, runId);
    if (reply.type !== "done") throw new HostRunError(`the worker answered a run with ${reply.type}`);
    const finished = reply.finished;
    if (finished.outcome.ok) {
      this.store.apply(finished.writes);
      this.changes.push(...finished.outcome.changes);
      this.events.push(...finished.events);
    }
    return { ...finished.outcome, wallTimeMs: performance.now() - started };
  }

  /**
   * Sends one run (or query) to the worker, at the host clock's instant and
   * with a seed of its own, and waits for it, killing the worker at the
   * deadline.
   */
  private async send(plugin: number, invocation: RunMessage["invocation"], runId: string): Promise<FinalReply> {
    const message: RunMessage = {
      id: this.nextMessage++,
      plugin,
      invocation,
      runId,
      nowMs: this.now(),
      fixedClock: this.clockMs !== undefined,
      seed: this.random.nextU64().toString(),
    };
    const worker = await this.ensureWorker();
    const what = `plugin ${this.catalogs[message.plugin].id}@${this.catalogs[message.plugin].version}, ${message.invocation.kind} ${message.invocation.localId}`;
    return new Promise<FinalReply>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const stop = (reason: string) => {
        cleanup();
        this.kill(worker);
        reject(new HostRunError(`${what} trapped: ${reason}`));
      };
      const deadline = () => stop(`deadline of ${this.limits.deadlineMs} ms exceeded`);
      const onMessage = (reply: WorkerReply) => {
        if (!("id" in reply) || reply.id !== message.id) return;
        if (reply.type === "started") {
          // The deadline counts from when the worker takes the run.
          clearTimeout(timer);
          timer = setTimeout(deadline, this.limits.deadlineMs);
        } else if (reply.type === "done" || reply.type === "answered") {
          cleanup();
          resolve(reply);
        } else if (reply.type === "hostError") {
          cleanup();
          reject(new HostRunError(reply.message));
        }
      };
      const onError = (error: Error & { code?: string }) =>
        stop(
          error.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? `memory limit of ${WORKER_HEAP_MB} MiB of the host's heap reached`
            : `the worker failed: ${error.message}`,
        );
      const onExit = () => stop("the worker exited");
      const cleanup = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      // A worker that never takes the run (stuck, or gone) is stopped too.
      timer = setTimeout(deadline, this.limits.deadlineMs + WORKER_GRACE_MS);
      worker.postMessage(message);
    });
  }

  private kill(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    void worker.terminate();
  }

  /** The worker, or a new one when there is none (first use, or killed). */
  private ensureWorker(): Promise<Worker> {
    if (this.worker !== undefined) return Promise.resolve(this.worker);
    this.spawning ??= this.spawn().finally(() => {
      this.spawning = undefined;
    });
    return this.spawning;
  }

  /** A worker seeded with the committed store, ready once it has loaded every plugin. */
  private async spawn(): Promise<Worker> {
    const setup: WorkerSetup = {
      plugins: this.components,
      snapshot: this.store.snapshot(),
      memoryBytes: this.limits.memoryBytes,
      instanceMode: this.instanceMode,
    };
    const worker = new Worker(new URL("./worker.js", import.meta.url), {
      workerData: setup,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 32 },
      stdout: true,
      stderr: true,
    });
    const catalogs = await new Promise<CatalogSummary[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const fail = (message: string) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        void worker.terminate();
        reject(new UsageError(message));
      };
      const arm = (ms: number, message: string) => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(message), ms);
      };
      // Compiling and importing the components gets the load deadline;
      // each plugin's `definitions()` runs its code, so it gets a run's.
      arm(this.loadDeadlineMs, `loading the plugins took longer than ${this.loadDeadlineMs} ms`);
      const onMessage = (reply: WorkerReply) => {
        if (reply.type === "defining") {
          arm(
            this.limits.deadlineMs,
            `cannot load plugin ${reply.component}: the plugin's definitions() trapped: deadline of ${this.limits.deadlineMs} ms exceeded`,
          );
        } else if (reply.type === "ready") {
          clearTimeout(timer);
          worker.off("message", onMessage);
          resolve(reply.catalogs);
        } else {
          fail(reply.type === "loadError" ? reply.message : `unexpected ${reply.type} from the worker`);
        }
      };
      worker.on("message", onMessage);
      worker.once("error", (error) => fail(`the plugins could not load: ${error.message}`));
    });
    this.catalogs = catalogs;
    this.worker = worker;
    // A worker that dies between runs is replaced by the next run.
    worker.once("exit", () => {
      if (this.worker === worker) this.worker = undefined;
    });
    return worker;
  }
}

/** The latest instant at or before `atMs` that a job every `everySeconds` falls due. */
export function latestDue(everySeconds: number, atMs: number): number {
  const interval = everySeconds * 1000;
  return atMs - (((atMs % interval) + interval) % interval);
}

/** Every instant in `(afterMs, untilMs]` that a job every `everySeconds` falls due, in order. */
export function dueBetween(everySeconds: number, afterMs: number, untilMs: number): number[] {
  const instants: number[] = [];
  for (let due = latestDue(everySeconds, untilMs); due > afterMs; due -= everySeconds * 1000) instants.push(due);
  return instants.reverse();
}
