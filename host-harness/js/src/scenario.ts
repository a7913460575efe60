// Scenario files, the same format and the same report as the Rust host's
// `automation-harness scenario` (`host-harness/src/scenario.rs`): a fixed
// clock, steps on a fresh in-memory store, each step's outcome checked
// against what it expects, later steps templated from earlier outcomes.
//
// Automations are the Rust host's alone: a scenario with `automations` is
// refused as bad input, naming the file.

import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";

import { UsageError } from "./errors.js";
import { type HostOptions, NodeHost } from "./host.js";
import type { RunOutcome } from "./records.js";
import { Schema } from "./schema.js";
import { resolve as resolveTemplates } from "./template.js";

export interface Scenario {
  name: string;
  description?: string;
  now?: string;
  plugins?: string[];
  steps: Array<Record<string, unknown>>;
  /** The file's folder, which `plugins` paths are relative to. */
  folder: string;
}

export interface Mismatch {
  what: string;
  expected: unknown;
  actual: unknown;
}

export interface StepReport {
  index: number;
  id: string | null;
  action: string;
  passed: boolean;
  error: string | null;
  mismatches: Mismatch[];
  outcome: unknown;
}

export interface ScenarioReport {
  name: string;
  passed: boolean;
  steps: StepReport[];
}

/** An optional field: absent or `null` mean the same, as serde's `Option` reads them in the Rust host. */
const optional = (schema: object) => ({ anyOf: [schema, { type: "null" }] });

const expectation = {
  type: "object",
  additionalProperties: false,
  properties: {
    ok: optional({ type: "boolean" }),
    externalId: {},
    artifact: {},
    result: {},
    error: optional({
      type: "object",
      additionalProperties: false,
      properties: { kind: optional({ type: "string" }), message: optional({ type: "string" }), problems: {} },
    }),
    events: optional({ type: "array" }),
    logs: optional({ type: "array", items: { type: "string" } }),
    automationRuns: optional({ type: "array" }),
  },
};

const actor = {
  type: "object",
  additionalProperties: false,
  required: ["type", "id"],
  properties: {
    type: { enum: ["system", "user", "application", "service"] },
    id: { type: "string" },
    name: optional({ type: "string" }),
  },
};

const runStepShape = {
  type: "object",
  additionalProperties: false,
  required: ["run"],
  properties: {
    id: optional({ type: "string" }),
    run: { type: "string" },
    config: {},
    actor: optional(actor),
    runId: optional({ type: "string" }),
    secrets: { type: "array", items: { type: "string" } },
    expect: optional(expectation),
  },
};

/** What a query step may expect: only what an answer has. */
const queryExpectation = {
  type: "object",
  additionalProperties: false,
  properties: { ok: expectation.properties.ok, result: {}, error: expectation.properties.error },
};

const queryStepShape = {
  type: "object",
  additionalProperties: false,
  required: ["query"],
  properties: { id: optional({ type: "string" }), query: { type: "string" }, input: {}, expect: optional(queryExpectation) },
};

const advanceStepShape = {
  type: "object",
  additionalProperties: false,
  required: ["advance"],
  properties: { id: optional({ type: "string" }), advance: { type: "string" }, expect: optional(expectation) },
};

const scenarioSchema = Schema.compile(
  JSON.stringify({
    type: "object",
    additionalProperties: false,
    required: ["name", "steps"],
    properties: {
      name: { type: "string" },
      description: optional({ type: "string" }),
      now: optional({ type: "string", format: "date-time" }),
      plugins: optional({ type: "array", items: { type: "string" } }),
      automations: optional({ type: "array" }),
      steps: { type: "array", items: { type: "object" } },
    },
  }),
);
const runStepSchema = Schema.compile(JSON.stringify(runStepShape));
const advanceStepSchema = Schema.compile(JSON.stringify(advanceStepShape));
const queryStepSchema = Schema.compile(JSON.stringify(queryStepShape));
const expectationSchema = Schema.compile(JSON.stringify(expectation));

/** The last instant a plugin can be shown: WASI counts nanoseconds from 1970 in 64 bits. */
const MAX_INSTANT_MS = 9_223_372_036_854;

function isAdvance(step: unknown): boolean {
  return step !== null && typeof step === "object" && Object.hasOwn(step, "advance");
}

function isQuery(step: unknown): boolean {
  return step !== null && typeof step === "object" && Object.hasOwn(step, "query");
}

function listProblems(problems: Array<{ path: string; message: string }>): string {
  return problems.map((problem) => `${problem.path === "" ? "(root)" : problem.path}: ${problem.message}`).join("; ");
}

/** Reads and checks a scenario file; bad input is a `UsageError` naming the file and the field. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read scenario ${path}: ${(error as Error).message}`);
  }
  let document: any;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path} is not a valid scenario: ${(error as Error).message}`);
  }
  const problems = scenarioSchema.problems(document);
  if (problems.length > 0) throw new UsageError(`${path} is not a valid scenario: ${listProblems(problems)}`);
  if (document.automations != null) {
    throw new UsageError(
      `${path}: has automations; the Node host runs automation-free scenarios only (run this one with \`automation-harness scenario\`)`,
    );
  }
  if (document.now != null) {
    const now = Date.parse(document.now);
    if (!(now >= 0 && now <= MAX_INSTANT_MS)) throw new UsageError(`${path}: "now" is out of range: ${document.now}`);
  }
  document.steps.forEach((step: unknown, index: number) => {
    const stepProblems = (isAdvance(step) ? advanceStepSchema : isQuery(step) ? queryStepSchema : runStepSchema).problems(step);
    if (stepProblems.length > 0) throw new UsageError(`${path}: step ${index + 1} is malformed: ${listProblems(stepProblems)}`);
    if (isAdvance(step)) {
      try {
        parseDuration((step as { advance: string }).advance);
      } catch (error) {
        throw new UsageError(`${path}: step ${index + 1} is malformed: ${(error as Error).message}`);
      }
    }
  });
  return { ...document, folder: dirname(path) };
}

/** The plugins shipped by this workspace: name and component path. */
export function shippedPlugins(targetFolder: string): Array<[string, string]> {
  // Where the workspace's build puts each finished component.
  const components = join(targetFolder, "plugin-build", "components");
  return [
    ["maintenance", join(components, "maintenance_plugin.wasm")],
    ["notifications", join(components, "notifications_plugin.wasm")],
  ];
}

/** The components a scenario names: shipped names resolved, paths taken relative to its file. */
export function scenarioPlugins(scenario: Scenario, shipped: Array<[string, string]>): string[] | undefined {
  return scenario.plugins?.map((given) => {
    const named = shipped.find(([name]) => name === given);
    if (named !== undefined) return named[1];
    return isAbsolute(given) ? given : join(scenario.folder, given);
  });
}

/**
 * Parses an ISO 8601 duration such as `PT2M`, `PT1H30M`, `P1DT12H` or
 * `PT0.5S`, into milliseconds; years and months are refused, their length
 * depends on the calendar.
 */
export function parseDuration(text: string): number {
  const invalid = () => new Error(`${JSON.stringify(text)} is not an ISO 8601 duration such as PT2M or P1DT12H`);
  if (!text.startsWith("P")) throw invalid();
  const body = text.slice(1);
  const split = body.indexOf("T");
  const date = split < 0 ? body : body.slice(0, split);
  const time = split < 0 ? undefined : body.slice(split + 1);
  if (time === "" || (date === "" && time === undefined)) throw invalid();
  let total = 0;
  const read = (part: string, units: Array<[string, number]>) => {
    let number = "";
    let nextUnit = 0;
    for (const c of part) {
      if (/[0-9.]/.test(c)) {
        number += c;
        continue;
      }
      const position = units.slice(nextUnit).findIndex(([unit]) => unit === c);
      if (position < 0 || number === "" || !/^\d*\.?\d*$/.test(number)) throw invalid();
      const value = Number(number);
      if (!Number.isFinite(value) || value >= 1e12) throw invalid();
      total += Math.round(value * units[nextUnit + position][1]);
      nextUnit += position + 1;
      number = "";
    }
    if (number !== "") throw invalid();
  };
  read(date, [
    ["W", 604_800_000],
    ["D", 86_400_000],
  ]);
  if (time !== undefined) {
    read(time, [
      ["H", 3_600_000],
      ["M", 60_000],
      ["S", 1_000],
    ]);
  }
  return total;
}

/** Runs `scenario` on a fresh host over `components`. */
export async function runScenario(scenario: Scenario, components: string[], options: HostOptions = {}): Promise<ScenarioReport> {
  const movesTime = scenario.steps.some(isAdvance);
  const nowMs = scenario.now != null ? Date.parse(scenario.now) : movesTime ? Date.now() : undefined;
  let host: NodeHost;
  try {
    host = await NodeHost.start(components, { ...options, nowMs });
  } catch (error) {
    return {
      name: scenario.name,
      passed: false,
      steps: [{ index: 0, id: null, action: "load", passed: false, error: (error as Error).message, mismatches: [], outcome: null }],
    };
  }
  try {
    const outcomes = new Map<string, unknown>();
    const steps: StepReport[] = [];
    for (const [index, raw] of scenario.steps.entries()) {
      const report = await runStep(host, index + 1, raw, outcomes);
      if (report.id !== null && report.outcome !== null) outcomes.set(report.id, report.outcome);
      steps.push(report);
    }
    return { name: scenario.name, passed: steps.every((step) => step.passed), steps };
  } finally {
    await host.close();
  }
}

async function runStep(host: NodeHost, index: number, raw: Record<string, unknown>, outcomes: Map<string, unknown>): Promise<StepReport> {
  const report: StepReport = {
    index,
    id: typeof raw.id === "string" ? raw.id : null,
    action:
      typeof raw.advance === "string"
        ? `advance ${raw.advance}`
        : typeof raw.query === "string"
          ? `query ${raw.query}`
          : String(raw.run ?? ""),
    passed: false,
    error: null,
    mismatches: [],
    outcome: null,
  };
  // The run part resolves against earlier steps; `expect` may also name
  // this step's own outcome.
  const { expect: expectRaw, ...runPart } = raw;
  let outcome: unknown;
  try {
    outcome = await runOnly(host, resolveTemplates(runPart, outcomes) as Record<string, unknown>);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    report.error = error.message;
    return report;
  }
  report.outcome = outcome;
  if (expectRaw != null) {
    const visible = new Map(outcomes);
    if (report.id !== null) visible.set(report.id, outcome);
    try {
      const expect = resolveTemplates(expectRaw, visible);
      const problems = expectationSchema.problems(expect);
      if (problems.length > 0) throw new Error(listProblems(problems));
      report.mismatches = check(expect as Expectation, outcome as Record<string, unknown>);
    } catch (error) {
      report.error = `expect: ${(error as Error).message}`;
      return report;
    }
  }
  report.passed = report.mismatches.length === 0;
  return report;
}

async function runOnly(host: NodeHost, step: Record<string, any>): Promise<unknown> {
  if (isAdvance(step)) {
    const by = parseDuration(step.advance);
    const end = host.now() + by;
    if (end > MAX_INSTANT_MS) throw new Error(`advancing by ${step.advance} moves the clock out of range`);
    const runs = await host.advance(by);
    const gather = (field: "changes" | "events" | "logs") => runs.flatMap((run) => run[field] as unknown[]);
    return {
      ok: runs.every((run) => run.ok),
      runs,
      changes: gather("changes"),
      events: gather("events"),
      logs: gather("logs"),
    };
  }
  if (isQuery(step)) {
    const { ok, result, error } = await host.query({ query: step.query, input: step.input ?? {} });
    return { ok, result, error };
  }
  const outcome: RunOutcome = await host.run({
    action: step.run,
    config: step.config ?? {},
    actor: step.actor ?? undefined,
    runId: step.runId ?? undefined,
    secrets: step.secrets ?? [],
  });
  return outcome;
}

interface Expectation {
  ok?: boolean;
  externalId?: unknown;
  artifact?: unknown;
  result?: unknown;
  error?: { kind?: string; message?: string; problems?: unknown };
  events?: unknown[];
  logs?: string[];
  automationRuns?: unknown[];
}

/** Compares an outcome with what was expected of it. */
export function check(expect: Expectation, outcome: Record<string, unknown>): Mismatch[] {
  const mismatches: Mismatch[] = [];
  const compare = (what: string, expected: unknown, actual: unknown, matches: boolean) => {
    if (!matches) mismatches.push({ what, expected, actual });
  };
  const field = (name: string) => outcome[name] ?? null;
  if (expect.ok != null) compare("ok", expect.ok, field("ok"), field("ok") === expect.ok);
  if (expect.externalId != null) {
    compare("externalId", expect.externalId, field("externalId"), isSubset(expect.externalId, field("externalId"), true));
  }
  if (expect.artifact != null) compare("artifact", expect.artifact, field("artifact"), isSubset(expect.artifact, field("artifact")));
  if (expect.result != null) compare("result", expect.result, field("result"), isSubset(expect.result, field("result")));
  if (expect.error != null) {
    const actual = (field("error") ?? {}) as Record<string, unknown>;
    if (expect.error.kind != null) {
      compare("error.kind", expect.error.kind, actual.kind ?? null, actual.kind === expect.error.kind);
    }
    if (expect.error.message != null) {
      const message = actual.message ?? null;
      compare("error.message", expect.error.message, message, typeof message === "string" && message.includes(expect.error.message));
    }
    if (expect.error.problems != null) {
      compare("error.problems", expect.error.problems, actual.problems ?? null, isSubset(expect.error.problems, actual.problems ?? null));
    }
  }
  if (expect.events != null) compare("events", expect.events, field("events"), isSubset(expect.events, field("events")));
  if (expect.automationRuns != null) {
    compare("automationRuns", expect.automationRuns, field("automationRuns"), isSubset(expect.automationRuns, field("automationRuns")));
  }
  if (expect.logs != null) {
    const lines = ((field("logs") ?? []) as Array<{ message?: unknown }>).flatMap((line) =>
      typeof line.message === "string" ? [line.message] : [],
    );
    for (const wanted of expect.logs) {
      compare("logs", wanted, lines, lines.some((line) => line.includes(wanted)));
    }
  }
  return mismatches;
}

/**
 * Whether `actual` holds everything `expected` says: every key of an
 * expected object present and matching, arrays of the same length
 * matching item by item, scalars equal. `exact` compares whole values.
 */
export function isSubset(expected: unknown, actual: unknown, exact = false): boolean {
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      expected.length === actual.length &&
      expected.every((item, index) => isSubset(item, actual[index], exact))
    );
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    const expectedKeys = Object.keys(expected);
    if (exact && expectedKeys.length !== Object.keys(actual).length) return false;
    return expectedKeys.every(
      (key) => Object.hasOwn(actual, key) && isSubset((expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], exact),
    );
  }
  return expected === actual;
}

