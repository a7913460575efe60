// One run, all or nothing, inside the worker: check the config, open the
// transaction, invoke the plugin, check the protocol and the artifact,
// derive and check events, mask, and hand back what to commit. The order
// and every check are the Rust host's (`host-harness/src/run/pipeline.rs`).

import type { Catalog } from "./catalog.js";
import { type Phase, type RunState, Session } from "./engine.js";
import { MAX_DOCUMENT_BYTES } from "./limits.js";
import { Secrets } from "./masking.js";
import type { SeededRandom } from "./random.js";
import {
  type QueryAnswer,
  type QueryFailure,
  invalidInput,
  type ActionFailure,
  type Actor,
  type ChangeRecord,
  type EventRecord,
  type FailureKind,
  type Problem,
  type RunOutcome,
  formatInstant,
  invalidConfig,
} from "./records.js";
import { type Schema, sortProblems } from "./schema.js";
import type { Store, Write } from "./store.js";

/** The plugin's exports, as jco lifts them. */
export interface PluginExports {
  definitions(): unknown;
  runAction(actionId: string, config: string, context: unknown): { externalId?: string; artifact?: string };
  runJob(jobId: string, context: unknown): void;
  derive(change: unknown): Array<{ triggerId: string; payload: string; contextKey?: string }>;
}

/** The plugin's `queries` export, as jco lifts it. */
export interface QueryExports {
  definitions(): unknown;
  runQuery(queryId: string, input: string): string;
}

/** A host error: the run was stopped, or broke the contract. Nothing of it is kept. */
export class HostError extends Error {}

/** The deriver trapped: reported as the deriver's, like the Rust host does. */
export class DeriverTrap extends Error {
  constructor(readonly trap: unknown) {
    super("the deriver trapped");
  }
}

export type Invocation =
  | { kind: "action"; localId: string; config: unknown; actor?: Actor; secrets: string[] }
  | { kind: "job"; localId: string; scheduledAtMs: number };

/** What a finished run hands back: its outcome, and the writes to commit when it succeeded. */
export interface Finished {
  outcome: RunOutcome;
  writes: Write[];
  events: EventRecord[];
}

export interface RunSetting {
  runId: string;
  nowMs: number;
  random: SeededRandom;
}

/** Opens the run's transaction and hands it to the session's imports. */
function startRun(session: Session, store: Store, phase: Phase, setting: RunSetting): RunState {
  const run: RunState = {
    txn: store.begin(),
    runId: setting.runId,
    phase,
    nowMs: setting.nowMs,
    random: setting.random,
    changes: [],
    logs: [],
    logBytes: 0,
  };
  session.run = run;
  return run;
}

/** `plugin <id>@<version>, action <local-id>` (or `job`): what a run's errors start with. */
export function describe(catalog: Catalog, invocation: { kind: string; localId: string }): string {
  return `plugin ${catalog.label()}, ${invocation.kind} ${invocation.localId}`;
}

function failed(runId: string, action: string, failure: ActionFailure, logs: RunOutcome["logs"]): Finished {
  return {
    outcome: {
      ok: false,
      runId,
      action,
      externalId: null,
      artifact: null,
      error: failure,
      changes: [],
      events: [],
      logs,
      fuel: null,
      wallTimeMs: 0,
    },
    writes: [],
    events: [],
  };
}

/** The config check that comes before any instance: a refused config is a failed run. */
export function refusedConfig(catalog: Catalog, invocation: Invocation, runId: string): Finished | undefined {
  if (invocation.kind !== "action") return undefined;
  const action = catalog.actions.get(invocation.localId)!;
  const problems = documentProblems(action.schema, invocation.config);
  return problems.length === 0 ? undefined : failed(runId, action.id, invalidConfig(problems), []);
}

/** What is wrong with a document the host hands a plugin (a config, a query's input): too large, or breaking `schema`. */
function documentProblems(schema: Schema, value: unknown): Problem[] {
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_DOCUMENT_BYTES) return [{ path: "", message: `is ${bytes} bytes; the limit is ${MAX_DOCUMENT_BYTES}` }];
  return schema.problems(value);
}

const failureKinds: Record<string, FailureKind> = {
  "invalid-config": "invalid_config",
  "not-found": "not_found",
  internal: "internal",
};

/** The variant a guest's `result` error carried (jco throws it as `payload`); `undefined` for a trap. */
function errorPayload(error: unknown): { tag: string; val: unknown } | undefined {
  if (error === null || typeof error !== "object" || !Object.hasOwn(error, "payload")) return undefined;
  return (error as { payload: { tag: string; val: unknown } }).payload;
}

/** A domain failure the plugin returned, or `undefined` when `error` is a trap. */
function domainFailure(error: unknown): ActionFailure | undefined {
  const payload = errorPayload(error);
  const kind = failureKinds[payload?.tag ?? ""];
  if (payload === undefined || kind === undefined) return undefined;
  if (kind === "invalid_config") return invalidConfig(sortProblems([...(payload.val as Problem[])]));
  return { kind, message: String(payload.val), problems: [] };
}

function parseDocument(text: string, what: string): unknown {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_DOCUMENT_BYTES) throw new HostError(`${what} of ${bytes} bytes; the limit is ${MAX_DOCUMENT_BYTES}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HostError(`${what} that is not JSON: ${(error as Error).message}`);
  }
}

function describeProblems(problems: Problem[]): string {
  return problems.map((problem) => `${problem.path === "" ? "(root)" : problem.path} ${problem.message}`).join("; ");
}

/**
 * Runs `invocation` on `exports`, whose imports are served by `session`,
 * against `store`. Returns the failed outcome of a domain failure; throws
 * a `HostError` (or the trap itself) when the host stopped the run.
 */
export function execute(
  session: Session,
  exports: PluginExports,
  store: Store,
  invocation: Invocation,
  setting: RunSetting,
): Finished {
  const catalog = session.catalog;
  const qualifiedId = catalog.qualify(invocation.localId);
  const run = startRun(session, store, "action", setting);
  try {
    let externalId: string | null = null;
    let artifact: unknown = null;
    try {
      if (invocation.kind === "action") {
        const success = exports.runAction(invocation.localId, JSON.stringify(invocation.config), {
          runId: setting.runId,
          actor: invocation.actor,
          automationId: undefined,
          trigger: undefined,
          attempt: 1,
        });
        externalId = success.externalId ?? null;
        artifact = checkArtifact(catalog, catalog.actions.get(invocation.localId)!.produces, success.artifact);
      } else {
        exports.runJob(invocation.localId, {
          runId: setting.runId,
          // The plugin's own background work is attributed to the plugin.
          actor: { type: "service", id: catalog.id, name: catalog.id },
          scheduledAt: formatInstant(invocation.scheduledAtMs),
        });
      }
    } catch (error) {
      const failure = domainFailure(error);
      if (failure === undefined) throw error;
      return failed(setting.runId, qualifiedId, failure, run.logs);
    }
    if (run.openMutation !== undefined) throw new HostError(`returned with the mutation of ${run.openMutation} still open`);
    if (run.droppedMutation !== undefined) {
      throw new HostError(`dropped the mutation of ${run.droppedMutation} without committing or abandoning it`);
    }

    // The deriver runs after the plugin returns, as in the Rust host: the
    // component model does not let a host call into a guest from an import.
    run.phase = "derive";
    const events: EventRecord[] = [];
    for (const change of run.changes) {
      let derived: ReturnType<PluginExports["derive"]>;
      try {
        derived = exports.derive({
        kind: change.kind,
        id: change.entityId,
        prev: change.prev === null ? undefined : JSON.stringify(change.prev),
        next: change.next === null ? undefined : JSON.stringify(change.next),
        changedFields: change.changedFields,
        actor: change.actor,
        runId: change.runId ?? undefined,
        occurredAt: change.occurredAt,
        changeId: change.changeId,
        });
      } catch (error) {
        throw new DeriverTrap(error);
      }
      for (const event of derived) {
        try {
          events.push(qualifyEvent(catalog, change, event, setting.random));
        } catch (error) {
          throw error instanceof HostError ? new HostError(`the deriver: ${error.message}`) : error;
        }
      }
    }

    const secrets = new Secrets(invocation.kind === "action" ? invocation.secrets : []);
    const changes = run.changes.map((change) => secrets.maskChange(change));
    const masked = events.map((event) => secrets.maskEvent(event));
    return {
      outcome: {
        ok: true,
        runId: setting.runId,
        action: qualifiedId,
        externalId,
        artifact,
        error: null,
        changes,
        events: masked.map(({ trigger, payload, contextKey, actor, runId, changeId }) => ({
          trigger,
          payload,
          contextKey,
          actor,
          runId,
          changeId,
        })),
        logs: run.logs,
        fuel: null,
        wallTimeMs: 0,
      },
      writes: run.txn.writes(),
      events: masked,
    };
  } finally {
    session.run = undefined;
  }
}

/** An artifact must be present exactly when the action declares a type, and satisfy that type's schema. */
function checkArtifact(catalog: Catalog, produces: string | undefined, text: string | undefined): unknown {
  if (produces === undefined) {
    if (text !== undefined) throw new HostError("returned an artifact but declares no artifact type");
    return null;
  }
  if (text === undefined) throw new HostError(`returned no artifact but declares ${produces}`);
  const artifact = parseDocument(text, "returned an artifact");
  const schema = catalog.artifactTypes.get(catalog.localId(produces) ?? "");
  if (schema === undefined) throw new HostError(`declares unknown artifact type ${produces}`);
  const problems = schema.problems(artifact);
  if (problems.length > 0) {
    throw new HostError(`returned an artifact that breaks the schema of ${produces}: ${describeProblems(problems)}`);
  }
  return artifact;
}

/** Qualifies and checks one derived event. */
function qualifyEvent(
  catalog: Catalog,
  change: ChangeRecord,
  event: { triggerId: string; payload: string; contextKey?: string },
  random: SeededRandom,
): EventRecord {
  const info = catalog.triggers.get(event.triggerId);
  if (info === undefined) throw new HostError(`fired undeclared trigger ${JSON.stringify(event.triggerId)}`);
  if (info.entityKind !== change.kind) {
    throw new HostError(
      `fired ${info.id} from a change of entity kind ${change.kind}, but the trigger is not driven by it`,
    );
  }
  const payload = parseDocument(event.payload, `fired ${info.id} with a payload`);
  const problems = info.schema.problems(payload);
  if (problems.length > 0) {
    throw new HostError(`fired ${info.id} with a payload that breaks its schema: ${describeProblems(problems)}`);
  }
  let contextKey = event.contextKey ?? null;
  if (contextKey === null && info.contextKey !== undefined) {
    const value = (payload as Record<string, unknown> | null)?.[info.contextKey];
    if (typeof value === "string") contextKey = value;
  }
  return {
    eventId: random.uuid(),
    trigger: info.id,
    payload,
    contextKey,
    actor: change.actor,
    runId: change.runId,
    changeId: change.changeId,
    occurredAt: change.occurredAt,
  };
}

/** The input check that comes before any instance: a refused input is a failed answer. */
export function refusedInput(catalog: Catalog, localId: string, input: unknown): QueryAnswer | undefined {
  const query = catalog.queries.get(localId)!;
  const problems = documentProblems(query.input, input);
  return problems.length === 0 ? undefined : { ok: false, result: null, error: invalidInput(problems) };
}

const queryFailureKinds: Record<string, QueryFailure["kind"]> = {
  "invalid-input": "invalid_input",
  "not-found": "not_found",
  internal: "internal",
};

/** The query failure the plugin returned, or `undefined` when `error` is a trap. */
function queryFailure(error: unknown): QueryFailure | undefined {
  const payload = errorPayload(error);
  const kind = queryFailureKinds[payload?.tag ?? ""];
  if (payload === undefined || kind === undefined) return undefined;
  if (kind === "invalid_input") return invalidInput(sortProblems([...(payload.val as Problem[])]));
  return { kind, message: String(payload.val), problems: [] };
}

/**
 * Answers query `localId` for `input` in a transaction that is never
 * applied: reads see the store, writes are refused, nothing is kept. A
 * result that breaks the result schema is a `HostError`.
 */
export function executeQuery(
  session: Session,
  queries: QueryExports | undefined,
  store: Store,
  localId: string,
  input: unknown,
  setting: RunSetting,
): { answer: QueryAnswer; logs: RunOutcome["logs"] } {
  const catalog = session.catalog;
  const run = startRun(session, store, "query", { ...setting, runId: "" });
  try {
    if (queries === undefined) {
      const failure: QueryFailure = {
        kind: "not_found",
        message: `the plugin answers no queries, so none named ${localId}`,
        problems: [],
      };
      return { answer: { ok: false, result: null, error: failure }, logs: run.logs };
    }
    let text: string;
    try {
      text = queries.runQuery(localId, JSON.stringify(input));
    } catch (error) {
      const failure = queryFailure(error);
      if (failure === undefined) throw error;
      return { answer: { ok: false, result: null, error: failure }, logs: run.logs };
    }
    const result = parseDocument(text, "returned a result");
    const problems = catalog.queries.get(localId)!.result.problems(result);
    if (problems.length > 0) throw new HostError(`returned a result that breaks its schema: ${describeProblems(problems)}`);
    return { answer: { ok: true, result, error: null }, logs: run.logs };
  } finally {
    session.run = undefined;
  }
}
