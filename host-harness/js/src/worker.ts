// The worker thread that runs plugins. It holds a replica of the
// committed store, the plugins' compiled modules and (when reused) their
// instances; the main thread holds the store that counts and kills this
// worker when a run passes its deadline or its memory. Nothing a run does
// reaches the main thread's store unless the run succeeded.

import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";

import { Catalog, type PluginDefinition, type QueryDefinition } from "./catalog.js";
import { Session } from "./engine.js";
import { formatBytes } from "./limits.js";
import {
  DeriverTrap,
  HostError,
  type Invocation,
  type PluginExports,
  type QueryExports,
  describe,
  execute,
  executeQuery,
  refusedConfig,
  refusedInput,
} from "./pipeline.js";
import { SeededRandom } from "./random.js";
import { type Snapshot, Store } from "./store.js";
import type { Transpiled } from "./transpile.js";
import { type HostClock, PluginExit, wasi } from "./wasi.js";

export type InstanceMode = "fresh" | "reuse";

export interface WorkerSetup {
  plugins: Transpiled[];
  snapshot: Snapshot;
  memoryBytes: number;
  instanceMode: InstanceMode;
}

export interface RunMessage {
  id: number;
  plugin: number;
  /** A run, or a query (`{kind: "query", localId, input}`). */
  invocation: Invocation | QueryInvocation;
  runId: string;
  nowMs: number;
  fixedClock: boolean;
  /** Seeds the run's own generator (ids the host draws, bytes the plugin draws). */
  seed: string;
}

export interface QueryInvocation {
  kind: "query";
  localId: string;
  input: unknown;
}

export type WorkerReply =
  | { type: "defining"; component: string }
  | { type: "answered"; id: number; answer: import("./records.js").QueryAnswer; logs: import("./records.js").LogLine[] }
  | { type: "ready"; catalogs: ReturnType<Catalog["summary"]>[] }
  | { type: "loadError"; message: string }
  | { type: "started"; id: number }
  | { type: "done"; id: number; finished: import("./pipeline.js").Finished }
  | { type: "hostError"; id: number; message: string };

/** The clock and generator an instance's WASI reads, set for each run. */
class RunInputs implements HostClock {
  nowMsValue = 0;
  fixed = true;
  random = new SeededRandom(0n);
  nowMs(): number {
    return this.fixed ? this.nowMsValue : Date.now();
  }
}

interface Instance {
  exports: PluginExports;
  /** Forgets stderr written by earlier runs of a kept instance. */
  startRun: () => void;
  /** Absent for a component that answers no queries. */
  queries: QueryExports | undefined;
  session: Session;
  stderr: () => string;
  memories: WebAssembly.Memory[];
}

class LoadedPlugin {
  private kept: Instance | undefined;

  constructor(
    private readonly instantiate: (
      getCoreModule: (path: string) => WebAssembly.Module,
      imports: Record<string, unknown>,
      instantiateCore?: (module: WebAssembly.Module, imports: Record<string, unknown>) => WebAssembly.Instance,
    ) => Record<string, unknown>,
    private readonly modules: Map<string, WebAssembly.Module>,
    readonly inputs: RunInputs,
    public catalog: Catalog | undefined,
  ) {}

  instance(mode: InstanceMode): Instance {
    if (mode === "reuse" && this.kept !== undefined) return this.kept;
    const memories: WebAssembly.Memory[] = [];
    const session = new Session(this.catalog as Catalog);
    const system = wasi(this.inputs, {
      bytes: (length: number) => this.inputs.random.bytes(length),
      nextU64: () => this.inputs.random.nextU64(),
    } as SeededRandom);
    const root = this.instantiate(
      (path) => {
        const module = this.modules.get(path);
        if (module === undefined) throw new Error(`the transpiled component has no core module ${path}`);
        return module;
      },
      { ...system.imports, ...session.imports() },
      (module, imports) => {
        const instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
        for (const value of Object.values(instance.exports)) {
          if (value instanceof WebAssembly.Memory) memories.push(value);
        }
        return instance;
      },
    );
    const exports = exported<PluginExports>(root, "plugin");
    if (exports === undefined) throw new HostError("the component does not export checkstack:automation/plugin");
    const queries = exported<QueryExports>(root, "queries");
    const instance = {
      exports,
      queries,
      session,
      startRun: () => system.stderr.clear(),
      stderr: () => system.stderr.text(),
      memories,
    };
    if (mode === "reuse") this.kept = instance;
    return instance;
  }

  discard(): void {
    this.kept = undefined;
  }
}

/** The contract interface `name` a component exports, whatever 0.3 patch it names. */
function exported<T>(root: Record<string, unknown>, name: string): T | undefined {
  const key = Object.keys(root).find((key) => key === name || key.startsWith(`checkstack:automation/${name}@0.3.`));
  return key === undefined ? undefined : (root[key] as T);
}

const setup = workerData as WorkerSetup;
const store = Store.fromSnapshot(setup.snapshot);
const plugins: LoadedPlugin[] = [];
const port = parentPort!;
const reply = (message: WorkerReply) => port.postMessage(message);

/** Why a run was stopped, in the Rust host's words where the cause is the same. */
function trapReport(error: unknown, instance: Instance | undefined): string {
  if (error instanceof HostError || error instanceof PluginExit) return error.message;
  // V8 tells no one when it refuses a memory.grow, so the limit is read
  // from what is left: a memory that cannot grow one more page is at the
  // limit, and so is one that could not take the allocation a Rust
  // plugin's runtime reports failing (the usual way a plugin meets it).
  const failedAllocation = /memory allocation of (\d+) bytes failed/.exec(instance?.stderr() ?? "");
  const atLimit = instance?.memories.some((memory) => {
    if (failedAllocation !== null && memory.buffer.byteLength + Number(failedAllocation[1]) > setup.memoryBytes) return true;
    try {
      memory.grow(1);
      return false;
    } catch {
      return true;
    }
  });
  if (atLimit) return `memory limit of ${formatBytes(setup.memoryBytes)} reached`;
  let reason: string;
  if (error instanceof RangeError && error.message.includes("call stack")) reason = "stack overflow";
  else if (error instanceof WebAssembly.RuntimeError) reason = error.message.startsWith("wasm trap") ? error.message : `wasm trap: ${error.message}`;
  else reason = error instanceof Error ? error.message : String(error);
  const written = instance?.stderr().trim().split(/\s+/).join(" ") ?? "";
  return written === "" ? reason : `${reason}; the plugin wrote: ${written}`;
}

/** A stopped run, in the Rust host's words: `<what> trapped: …`, `<what>: the deriver trapped: …`, or `<what>: <broken rule>`. */
function hostErrorMessage(what: string, error: unknown, instance: Instance | undefined): string {
  if (error instanceof DeriverTrap) return `${what}: the deriver trapped: ${trapReport(error.trap, instance)}`;
  const report = trapReport(error, instance);
  return error instanceof HostError ? `${what}: ${report}` : `${what} trapped: ${report}`;
}

async function load(component: Transpiled): Promise<LoadedPlugin> {
  const modules = new Map<string, WebAssembly.Module>();
  for (const name of await readdir(component.folder)) {
    if (name.endsWith(".wasm")) modules.set(name, new WebAssembly.Module(await readFile(join(component.folder, name))));
  }
  const generated = await import(pathToFileURL(component.module).href);
  const plugin = new LoadedPlugin(generated.instantiate, modules, new RunInputs(), undefined);
  // The catalog comes from the plugin itself, through an instance of its own.
  const probe = plugin.instance("fresh");
  let definition: PluginDefinition;
  let queries: QueryDefinition[];
  reply({ type: "defining", component: component.component });
  try {
    definition = probe.exports.definitions() as PluginDefinition;
    queries = (probe.queries?.definitions() ?? []) as QueryDefinition[];
  } catch (error) {
    throw new Error(`cannot load plugin ${component.component}: the plugin's definitions() trapped: ${trapReport(error, probe)}`);
  }
  try {
    plugin.catalog = Catalog.fromDefinition(definition, queries);
  } catch (error) {
    throw new Error(`${component.component}: ${(error as Error).message}`);
  }
  return plugin;
}

function run(message: RunMessage): void {
  const plugin = plugins[message.plugin];
  const catalog = plugin.catalog as Catalog;
  plugin.inputs.nowMsValue = message.nowMs;
  plugin.inputs.fixed = message.fixedClock;
  plugin.inputs.random = new SeededRandom(BigInt(message.seed));
  const invocation = message.invocation;
  if (invocation.kind === "query") {
    answer(plugin, catalog, message, invocation);
    return;
  }
  const refused = refusedConfig(catalog, invocation, message.runId);
  if (refused !== undefined) {
    reply({ type: "done", id: message.id, finished: refused });
    return;
  }
  inInstance(plugin, catalog, message, invocation, (instance) => {
    const finished = execute(instance.session, instance.exports, store, invocation, {
      runId: message.runId,
      nowMs: message.nowMs,
      random: plugin.inputs.random,
    });
    if (finished.outcome.ok) store.apply(finished.writes);
    reply({ type: "done", id: message.id, finished });
  });
}

/**
 * Runs `body` in an instance (fresh, or the kept one), once the run is
 * taken; a trap, a limit or a broken contract is reported as the host's
 * error, and the instance is not kept.
 */
function inInstance(
  plugin: LoadedPlugin,
  catalog: Catalog,
  message: RunMessage,
  what: { kind: string; localId: string },
  body: (instance: Instance) => void,
): void {
  reply({ type: "started", id: message.id });
  let instance: Instance | undefined;
  try {
    instance = plugin.instance(setup.instanceMode);
    instance.startRun();
    body(instance);
  } catch (error) {
    plugin.discard();
    reply({ type: "hostError", id: message.id, message: hostErrorMessage(describe(catalog, what), error, instance) });
  }
}

/** Answers a query: the input checked first, then the plugin asked; nothing reaches the store. */
function answer(plugin: LoadedPlugin, catalog: Catalog, message: RunMessage, query: QueryInvocation): void {
  const refused = refusedInput(catalog, query.localId, query.input);
  if (refused !== undefined) {
    reply({ type: "answered", id: message.id, answer: refused, logs: [] });
    return;
  }
  inInstance(plugin, catalog, message, query, (instance) => {
    const { answer, logs } = executeQuery(instance.session, instance.queries, store, query.localId, query.input, {
      runId: "",
      nowMs: message.nowMs,
      random: plugin.inputs.random,
    });
    reply({ type: "answered", id: message.id, answer, logs });
  });
}

try {
  for (const component of setup.plugins) plugins.push(await load(component));
  reply({ type: "ready", catalogs: plugins.map((plugin) => (plugin.catalog as Catalog).summary()) });
  port.on("message", (message: RunMessage) => run(message));
} catch (error) {
  reply({ type: "loadError", message: (error as Error).message });
}
