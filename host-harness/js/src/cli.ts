#!/usr/bin/env node
// `npm run scenario -- [--plugin WASM]... FILE... [--json]`: scenario
// files on the Node host, with the Rust CLI's exit codes (0 every
// scenario passed, 1 a step failed, 2 bad input) and, with `--json`, its
// report: `[{"file", "report"}]`.

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { UsageError } from "./errors.js";
import { NodeHost } from "./host.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { type ScenarioReport, loadScenario, runScenario, scenarioPlugins, shippedPlugins } from "./scenario.js";

const usage = `Usage: npm run scenario -- [OPTIONS] FILE...

Runs scenario files on the Node host: the components the Rust harness
loads, transpiled with jco. Scenarios with automations are refused: the
Node host runs automation-free scenarios only.

Options:
  --plugin <WASM | NAME>  A plugin to load: a component file, or a plugin this
                          workspace ships (maintenance, notifications).
                          Repeatable. Default: every shipped plugin.
  --json                  Print one JSON array of {file, report}
  --seed <N>              Seed the ids the host draws and the bytes plugins draw
  --deadline-ms <N>       Wall time per run (default ${DEFAULT_LIMITS.deadlineMs})
  --memory-mib <N>        Linear memory per plugin instance, MiB (default ${DEFAULT_LIMITS.memoryBytes / (1 << 20)})
  --reuse-instances       Keep one instance per plugin across runs
  -h, --help              Print this help`;

const MIB = 1 << 20;

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const targetFolder = process.env.CARGO_TARGET_DIR ?? join(packageRoot, "..", "..", "target");

function positiveInteger(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^[1-9][0-9]*$/.test(text)) throw new UsageError(`${flag}: expected a positive integer, found ${JSON.stringify(text)}`);
  return Number(text);
}

function printText(report: ScenarioReport, file: string): void {
  console.log(`Scenario ${JSON.stringify(report.name)} (${file})`);
  for (const step of report.steps) {
    const label = step.id === null ? step.action : `${step.action} [${step.id}]`;
    console.log(`  step ${step.index}: ${label} ... ${step.passed ? "passed" : "FAILED"}`);
    if (step.error !== null) console.log(`    error: ${step.error}`);
    for (const mismatch of step.mismatches) {
      console.log(`    ${mismatch.what} expected: ${JSON.stringify(mismatch.expected)}`);
      console.log(`    ${mismatch.what} actual:   ${JSON.stringify(mismatch.actual)}`);
    }
  }
  const passed = report.steps.filter((step) => step.passed).length;
  console.log(`  ${report.steps.length} step(s): ${passed} passed, ${report.steps.length - passed} failed`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help") {
    console.log(usage);
    return command === undefined ? 2 : 0;
  }
  if (command !== "scenario") throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${usage}`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        plugin: { type: "string", multiple: true },
        json: { type: "boolean" },
        seed: { type: "string" },
        "deadline-ms": { type: "string" },
        "memory-mib": { type: "string" },
        "reuse-instances": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
  const { values, positionals: files } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (files.length === 0) throw new UsageError(`no scenario file given\n\n${usage}`);
  if (values.seed !== undefined && !/^[0-9]+$/.test(values.seed)) {
    throw new UsageError(`--seed: expected a non-negative integer, found ${JSON.stringify(values.seed)}`);
  }
  const limits = {
    deadlineMs: positiveInteger(values["deadline-ms"], "--deadline-ms", DEFAULT_LIMITS.deadlineMs),
    memoryBytes: positiveInteger(values["memory-mib"], "--memory-mib", DEFAULT_LIMITS.memoryBytes / MIB) * MIB,
  };
  const shipped = shippedPlugins(targetFolder);
  const named = (given: string) => shipped.find(([name]) => name === given)?.[1] ?? given;
  const defaults = values.plugin?.map(named) ?? shipped.filter(([, path]) => existsSync(path)).map(([, path]) => path);
  const loaded = [];
  for (const file of files) {
    const scenario = await loadScenario(file);
    const components = scenarioPlugins(scenario, shipped) ?? defaults;
    if (components.length === 0) {
      throw new UsageError(`no plugin to load: the workspace has not built one (run \`cargo run -- demo\` at the repository root), and no --plugin was given`);
    }
    for (const component of components) {
      if (!existsSync(component)) {
        throw new UsageError(`${file}: no component at ${component} (build the workspace with \`cargo run -- demo\`, or name one with --plugin)`);
      }
    }
    loaded.push({ file, scenario, components });
  }
  // Every plugin loads before any scenario runs, as in the Rust CLI: one
  // that cannot load (a bad component, two plugins with one id) is bad
  // input, not a failed step.
  const checked = new Set<string>();
  for (const { components } of loaded) {
    const key = components.join("\0");
    if (checked.has(key)) continue;
    checked.add(key);
    const host = await NodeHost.start(components, { limits });
    await host.close();
  }
  const reports: Array<{ file: string; report: ScenarioReport }> = [];
  for (const { file, scenario, components } of loaded) {
    const report = await runScenario(scenario, components, {
      limits,
      seed: values.seed === undefined ? undefined : BigInt(values.seed),
      instanceMode: values["reuse-instances"] ? "reuse" : "fresh",
    });
    reports.push({ file, report });
  }
  if (values.json) {
    console.log(JSON.stringify(reports, null, 2));
  } else {
    for (const { file, report } of reports) printText(report, file);
    const passed = reports.filter(({ report }) => report.passed).length;
    console.log(`${reports.length} scenario(s): ${passed} passed, ${reports.length - passed} failed`);
  }
  return reports.every(({ report }) => report.passed) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
