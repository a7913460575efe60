// What the host records and reports about runs, shaped like the Rust
// host's JSON (`run --json`, `scenario --json`) field for field.

export type ActorType = "system" | "user" | "application" | "service";

export interface Actor {
  type: ActorType;
  id: string;
  name?: string;
}

export const SYSTEM_ACTOR: Actor = { type: "system", id: "system", name: "System" };

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface LogLine {
  level: LogLevel;
  message: string;
}

export interface ChangeRecord {
  changeId: string;
  pluginId: string;
  kind: string;
  entityId: string;
  prev: unknown;
  next: unknown;
  changedFields: string[];
  actor: Actor;
  runId: string | null;
  occurredAt: string;
}

export interface EventRecord {
  eventId: string;
  trigger: string;
  payload: unknown;
  contextKey: string | null;
  actor: Actor;
  runId: string | null;
  changeId: string;
  occurredAt: string;
}

export interface Problem {
  path: string;
  message: string;
}

export type FailureKind = "invalid_config" | "not_found" | "internal";

/** A domain failure: the plugin's, or the host's refusal of the config. */
export interface ActionFailure {
  kind: FailureKind;
  message: string;
  problems: Problem[];
}

export function invalidConfig(problems: Problem[]): ActionFailure {
  const listed = problems.map((problem) => `${problem.path === "" ? "(config)" : problem.path}: ${problem.message}`);
  return { kind: "invalid_config", message: `invalid config: ${listed.join("; ")}`, problems };
}

export type QueryFailureKind = "invalid_input" | "not_found" | "internal";

/** Why a query has no answer: the plugin's, or the host's refusal of the input. */
export interface QueryFailure {
  kind: QueryFailureKind;
  message: string;
  problems: Problem[];
}

export function invalidInput(problems: Problem[]): QueryFailure {
  const listed = problems.map((problem) => `${problem.path === "" ? "(input)" : problem.path}: ${problem.message}`);
  return { kind: "invalid_input", message: `invalid input: ${listed.join("; ")}`, problems };
}

/** A query's answer, as a scenario's query step sees it. */
export interface QueryAnswer {
  ok: boolean;
  result: unknown;
  error: QueryFailure | null;
}

/** Everything one run did, as `run --json` prints it. */
export interface RunOutcome {
  ok: boolean;
  runId: string;
  action: string;
  externalId: string | null;
  artifact: unknown;
  error: ActionFailure | null;
  changes: ChangeRecord[];
  events: Array<Omit<EventRecord, "eventId" | "occurredAt">>;
  logs: LogLine[];
  fuel: null;
  wallTimeMs: number;
}

/** An instant as the contract spells it: RFC 3339, milliseconds, `Z`. */
export function formatInstant(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
