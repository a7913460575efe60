// The host side of the contract's imports for one plugin instance:
// `storage`, `entity` and `log`, served from the run's transaction. The
// rules are the Rust host's (`host-harness/src/engine/`): storage is the
// plugin's own key space, writes need an open entity mutation, the
// deriver is pure, one mutation at a time, no-op commits record nothing.

import { Catalog } from "./catalog.js";
import { MAX_DOCUMENT_BYTES, MAX_LOG_BYTES, MAX_SCAN_LIMIT, MAX_VALUE_BYTES, entityIdProblem, keyProblem } from "./limits.js";
import type { SeededRandom } from "./random.js";
import { type Actor, type ChangeRecord, type LogLevel, type LogLine, SYSTEM_ACTOR, formatInstant } from "./records.js";
import type { Transaction } from "./store.js";

export type Phase = "action" | "derive" | "query";

/** Why a query may not write: the words the Rust host uses (`contract_rules::READ_ONLY`). */
export const READ_ONLY = "queries are read-only";

/** What the imports see of the run in progress. */
export interface RunState {
  txn: Transaction;
  runId: string;
  phase: Phase;
  nowMs: number;
  random: SeededRandom;
  openMutation?: string;
  droppedMutation?: string;
  changes: ChangeRecord[];
  logs: LogLine[];
  logBytes: number;
}

const TRUNCATED = "log truncated: the run logged more than 1 MiB";

/** The key spaces a plugin's data lives in, shared with the Rust host's layout. */
export const spaces = {
  plugin: (pluginId: string) => `plugin/${pluginId}`,
  entity: (pluginId: string) => `entity/${pluginId}`,
  scheduler: (pluginId: string) => `scheduler/${pluginId}`,
};

/** The names of the fields that differ between two states, sorted; none when equal. */
export function changedFields(prev: unknown, next: unknown): string[] {
  const fields = (state: unknown) => (state !== null && typeof state === "object" ? Object.keys(state) : []);
  const names = [...new Set([...fields(prev), ...fields(next)])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const field = (state: unknown, name: string) =>
    state !== null && typeof state === "object" && Object.hasOwn(state, name) ? (state as Record<string, unknown>)[name] : undefined;
  return names.filter((name) => !jsonEqual(field(prev, name), field(next, name)));
}

/** Equality of JSON values, objects compared by their keys, not their order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, index) => jsonEqual(item, other[index]));
  }
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
  );
}

type Variant = { tag: string; val?: unknown };

function invalidState(message: string): Variant {
  return { tag: "invalid-state", val: [{ path: "", message }] };
}

/** One instance's view of the host: its catalog and the run in progress. */
export class Session {
  run: RunState | undefined;

  constructor(readonly catalog: Catalog) {}

  /** The import object entries of the contract's own interfaces. */
  imports(): Record<string, Record<string, unknown>> {
    return {
      "checkstack:automation/types": {},
      "checkstack:automation/log": { log: (level: LogLevel, message: string) => this.log(level, message) },
      "checkstack:automation/storage": {
        get: (key: string) => this.storageGet(key),
        set: (key: string, value: Uint8Array) => this.storageSet(key, value),
        delete: (key: string) => this.storageDelete(key),
        scan: (prefix: string, limit: number, cursor: string | undefined) => this.storageScan(prefix, limit, cursor),
      },
      "checkstack:automation/entity": { Mutation: this.mutationClass() },
    };
  }

  private log(level: LogLevel, message: string): void {
    const run = this.run;
    if (run === undefined || run.logBytes > MAX_LOG_BYTES) return;
    run.logBytes += Buffer.byteLength(message);
    run.logs.push(run.logBytes > MAX_LOG_BYTES ? { level: "warn", message: TRUNCATED } : { level, message });
  }

  private storage(): RunState {
    const run = this.run;
    if (run === undefined) throw { tag: "not-permitted", val: "storage is only available during a run" };
    if (run.phase === "derive") {
      throw { tag: "not-permitted", val: "storage is not available to the deriver, which must be pure" };
    }
    return run;
  }

  /** A query may not write, whatever it writes: refused before anything else is checked. */
  private refuseInQuery(): void {
    if (this.run?.phase === "query") throw { tag: "not-permitted", val: READ_ONLY };
  }

  private storageForWrite(): RunState {
    const run = this.storage();
    if (run.openMutation === undefined) throw { tag: "not-permitted", val: "writes need an open entity mutation" };
    return run;
  }

  private checkKey(key: string): void {
    const problem = keyProblem(key);
    if (problem !== undefined) throw { tag: "invalid-key", val: problem };
  }

  private storageGet(key: string): Uint8Array | undefined {
    this.checkKey(key);
    return this.storage().txn.get(spaces.plugin(this.catalog.id), key);
  }

  private storageSet(key: string, value: Uint8Array): void {
    this.refuseInQuery();
    this.checkKey(key);
    if (value.length > MAX_VALUE_BYTES) throw { tag: "value-too-large", val: BigInt(MAX_VALUE_BYTES) };
    // A copy: the view jco lifts may point into the guest's memory.
    this.storageForWrite().txn.set(spaces.plugin(this.catalog.id), key, Uint8Array.from(value));
  }

  private storageDelete(key: string): boolean {
    this.refuseInQuery();
    this.checkKey(key);
    return this.storageForWrite().txn.delete(spaces.plugin(this.catalog.id), key);
  }

  private storageScan(prefix: string, limit: number, cursor: string | undefined) {
    const pageSize = Math.min(Math.max(limit, 1), MAX_SCAN_LIMIT);
    const entries = this.storage().txn.scan(spaces.plugin(this.catalog.id), prefix, cursor, pageSize + 1);
    const more = entries.length > pageSize;
    const page = entries.slice(0, pageSize);
    return {
      entries: page.map(([key, value]) => ({ key, value })),
      nextCursor: more ? page[page.length - 1][0] : undefined,
    };
  }

  /** The `mutation` resource, bound to this session. */
  private mutationClass() {
    const session = this;
    return class Mutation {
      private finished = false;

      private constructor(
        private readonly kind: string,
        private readonly id: string,
        private readonly actor: Actor,
        private readonly previous: unknown,
        private readonly savepoint: number,
      ) {}

      private get label(): string {
        return `${this.kind}/${this.id}`;
      }

      static open(kind: string, id: string, options: { runId?: string; actor?: Actor }): Mutation {
        // A query may not write, whatever it names: refused first.
        if (session.run?.phase === "query") throw { tag: "not-permitted", val: `${READ_ONLY}: they cannot write entities` };
        if (!session.catalog.entityKinds.has(kind)) throw { tag: "unknown-kind", val: kind };
        const idProblem = entityIdProblem(id);
        if (idProblem !== undefined) throw { tag: "invalid-id", val: idProblem };
        const run = session.run;
        if (run === undefined) throw { tag: "not-permitted", val: "entities can only be written during a run" };
        if (run.phase !== "action") throw { tag: "not-permitted", val: "the deriver may not write entities" };
        if (run.openMutation !== undefined) throw { tag: "already-open", val: run.openMutation };
        if (options.runId !== undefined && options.runId !== run.runId) {
          throw { tag: "invalid-options", val: `run id ${options.runId} is not the current run ${run.runId}` };
        }
        const stored = run.txn.get(spaces.entity(session.catalog.id), `${kind}/${id}`);
        let previous: unknown = null;
        if (stored !== undefined) {
          try {
            previous = JSON.parse(Buffer.from(stored).toString("utf8"));
          } catch (error) {
            throw { tag: "unavailable", val: `the stored state of ${kind}/${id} is corrupt: ${(error as Error).message}` };
          }
        }
        const mutation = new Mutation(kind, id, options.actor ?? SYSTEM_ACTOR, previous, run.txn.savepoint());
        run.openMutation = mutation.label;
        return mutation;
      }

      prev(): string | undefined {
        return this.previous === null ? undefined : JSON.stringify(this.previous);
      }

      commit(nextText: string | undefined) {
        if (this.finished) throw { tag: "finished" };
        let next: unknown = null;
        if (nextText !== undefined) {
          const bytes = Buffer.byteLength(nextText);
          if (bytes > MAX_DOCUMENT_BYTES) throw invalidState(`is ${bytes} bytes; the limit is ${MAX_DOCUMENT_BYTES}`);
          try {
            next = JSON.parse(nextText);
          } catch (error) {
            throw invalidState(`is not valid JSON: ${(error as Error).message}`);
          }
          if (next === null || typeof next !== "object" || Array.isArray(next)) throw invalidState("must be a JSON object");
          const problems = session.catalog.entityKinds.get(this.kind)!.problems(next);
          if (problems.length > 0) throw { tag: "invalid-state", val: problems };
        }
        const run = session.run;
        if (run === undefined) throw { tag: "not-permitted", val: "the run has ended" };
        this.finished = true;
        run.openMutation = undefined;
        const changed = changedFields(this.previous, next);
        if (changed.length === 0) return undefined;
        const space = spaces.entity(session.catalog.id);
        const key = `${this.kind}/${this.id}`;
        if (next === null) run.txn.delete(space, key);
        else run.txn.set(space, key, Buffer.from(JSON.stringify(next)));
        const change: ChangeRecord = {
          changeId: run.random.uuid(),
          pluginId: session.catalog.id,
          kind: this.kind,
          entityId: this.id,
          prev: this.previous,
          next,
          changedFields: changed,
          actor: this.actor,
          runId: run.runId,
          occurredAt: formatInstant(run.nowMs),
        };
        run.changes.push(change);
        return { changeId: change.changeId, changedFields: changed, occurredAt: change.occurredAt };
      }

      abandon(): void {
        if (!this.end()) throw { tag: "finished" };
      }

      /** Dropped without an ending: what it wrote is undone, and the run fails. */
      [Symbol.dispose](): void {
        if (this.end() && session.run !== undefined) session.run.droppedMutation = this.label;
      }

      private end(): boolean {
        if (this.finished) return false;
        this.finished = true;
        const run = session.run;
        if (run !== undefined) {
          run.openMutation = undefined;
          run.txn.rollbackTo(this.savepoint);
        }
        return true;
      }
    };
  }
}
