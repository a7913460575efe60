// A plugin's catalog: its definitions checked (ids well formed and unique,
// schemas valid, every reference declared) and its schemas compiled, the
// same checks the Rust host makes when it loads a plugin.

import { Schema } from "./schema.js";

/** What `definitions()` returns, as jco lifts it. */
export interface PluginDefinition {
  id: string;
  version: string;
  triggers: Array<{ id: string; payloadSchema: string; contextKey?: string; entityKind?: string }>;
  actions: Array<{ id: string; configSchema: string; produces?: string }>;
  artifactTypes: Array<{ id: string; schema: string }>;
  entityKinds: Array<{ kind: string; stateSchema: string }>;
  jobs: Array<{ id: string; schedule: { tag: "every-seconds"; val: number } }>;
}

export interface ActionInfo {
  id: string;
  localId: string;
  schema: Schema;
  /** The qualified artifact type, when the action declares one. */
  produces?: string;
}

export interface TriggerInfo {
  id: string;
  localId: string;
  schema: Schema;
  contextKey?: string;
  entityKind?: string;
}

/** What the `queries` export's `definitions()` returns, as jco lifts it. */
export interface QueryDefinition {
  id: string;
  inputSchema: string;
  resultSchema: string;
}

export interface QueryInfo {
  id: string;
  localId: string;
  input: Schema;
  result: Schema;
}

export interface JobInfo {
  id: string;
  localId: string;
  everySeconds: number;
}

/** Ids, and nothing else: what the main thread needs to route and schedule. */
export interface CatalogSummary {
  id: string;
  version: string;
  actions: string[];
  jobs: Array<{ localId: string; everySeconds: number }>;
  queries: string[];
}

export class Catalog {
  readonly actions = new Map<string, ActionInfo>();
  readonly triggers = new Map<string, TriggerInfo>();
  readonly artifactTypes = new Map<string, Schema>();
  readonly entityKinds = new Map<string, Schema>();
  readonly jobs = new Map<string, JobInfo>();
  readonly queries = new Map<string, QueryInfo>();

  private constructor(readonly id: string, readonly version: string) {}

  /** Checks `definition` and builds the catalog; throws naming what is wrong. */
  static fromDefinition(definition: PluginDefinition, queries: QueryDefinition[] = []): Catalog {
    if (!/^[a-z][a-z0-9_-]*$/.test(definition.id)) {
      throw new Error(`plugin id ${JSON.stringify(definition.id)} must match [a-z][a-z0-9_-]*`);
    }
    if (definition.version === "") throw new Error("plugin version must not be empty");
    const catalog = new Catalog(definition.id, definition.version);
    for (const kind of definition.entityKinds) {
      checkLocalId("entity kind", kind.kind);
      declare(catalog.entityKinds, "entity kind", kind.kind, compiled(kind.stateSchema, `state schema of entity kind ${kind.kind}`));
    }
    for (const artifact of definition.artifactTypes) {
      checkLocalId("artifact type", artifact.id);
      declare(catalog.artifactTypes, "artifact type", artifact.id, compiled(artifact.schema, `schema of artifact type ${artifact.id}`));
    }
    for (const trigger of definition.triggers) {
      checkLocalId("trigger", trigger.id);
      if (trigger.entityKind !== undefined && !catalog.entityKinds.has(trigger.entityKind)) {
        throw new Error(`trigger ${trigger.id} is driven by undeclared entity kind ${trigger.entityKind}`);
      }
      declare(catalog.triggers, "trigger", trigger.id, {
        id: catalog.qualify(trigger.id),
        localId: trigger.id,
        schema: compiled(trigger.payloadSchema, `payload schema of trigger ${trigger.id}`),
        contextKey: trigger.contextKey,
        entityKind: trigger.entityKind,
      });
    }
    for (const action of definition.actions) {
      checkLocalId("action", action.id);
      if (action.produces !== undefined && !catalog.artifactTypes.has(action.produces)) {
        throw new Error(`action ${action.id} produces undeclared artifact type ${action.produces}`);
      }
      declare(catalog.actions, "action", action.id, {
        id: catalog.qualify(action.id),
        localId: action.id,
        schema: compiled(action.configSchema, `config schema of action ${action.id}`),
        produces: action.produces === undefined ? undefined : catalog.qualify(action.produces),
      });
    }
    for (const job of definition.jobs) {
      checkLocalId("job", job.id);
      if (job.schedule.val <= 0) throw new Error(`job ${job.id} has an interval of 0 s`);
      declare(catalog.jobs, "job", job.id, { id: catalog.qualify(job.id), localId: job.id, everySeconds: job.schedule.val });
    }
    for (const query of queries) {
      checkLocalId("query", query.id);
      declare(catalog.queries, "query", query.id, {
        id: catalog.qualify(query.id),
        localId: query.id,
        input: compiled(query.inputSchema, `input schema of query ${query.id}`),
        result: compiled(query.resultSchema, `result schema of query ${query.id}`),
      });
    }
    return catalog;
  }

  /** `maintenance@1.3.1`. */
  label(): string {
    return `${this.id}@${this.version}`;
  }

  qualify(localId: string): string {
    return `${this.id}.${localId}`;
  }

  /** The local id `id` names: a local id, or one qualified with this plugin's prefix. */
  localId(id: string): string | undefined {
    const dot = id.indexOf(".");
    if (dot < 0) return id;
    return id.slice(0, dot) === this.id ? id.slice(dot + 1) : undefined;
  }

  summary(): CatalogSummary {
    return {
      id: this.id,
      version: this.version,
      // In id order, as the Rust host lists them.
      actions: [...this.actions.keys()].sort(),
      jobs: [...this.jobs.values()].map(({ localId, everySeconds }) => ({ localId, everySeconds })).sort((a, b) => (a.localId < b.localId ? -1 : 1)),
      queries: [...this.queries.keys()].sort(),
    };
  }
}

function compiled(text: string, what: string): Schema {
  try {
    return Schema.compile(text);
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}`);
  }
}

function declare<T>(map: Map<string, T>, what: string, id: string, value: T): void {
  if (map.has(id)) throw new Error(`${what} ${id} is declared twice`);
  map.set(id, value);
}

/** Local ids carry no prefix, so a plugin cannot declare anything under another plugin's id. */
function checkLocalId(what: string, id: string): void {
  if (!/^[a-z][a-z0-9_]*$/.test(id)) {
    throw new Error(`${what} id ${JSON.stringify(id)} must be a local id matching [a-z][a-z0-9_]*`);
  }
}
