// `npm run bench -- [--samples N] [--plugin WASM] [--json]`: the median
// latency of each maintenance action on the Node host, in fresh and
// reused instance modes, timed the way the Rust benchmark times its own
// (`tests/benches/performance.rs`, section `node`, which runs this and
// prints both hosts side by side): the whole run as the caller sees it,
// in-memory store, one window, modes taking turns run by run.

import { join } from "node:path";
import { parseArgs } from "node:util";

import { NodeHost } from "./host.js";
import type { RunOutcome } from "./records.js";

const ACTIONS = ["create", "update", "add_update", "set_system", "clear_system"] as const;
const MODES = ["fresh", "reuse"] as const;

const createConfig = (systems: string[]) => ({
  title: "Database upgrade",
  description: "Upgrading the primary database",
  systemIds: systems,
  startAt: "2026-03-01T10:00:00.000Z",
  endAt: "2026-03-01T12:00:00.000Z",
});

function actionConfig(action: (typeof ACTIONS)[number], window: string, n: number): unknown {
  switch (action) {
    case "create":
      return createConfig(["db-1", "db-2"]);
    case "update":
      return { maintenanceId: window, title: `title ${n}`, systemIds: [`db-${n}`] };
    case "add_update":
      return { maintenanceId: window, message: `note ${n}`, statusChange: n % 2 === 0 ? "in_progress" : "scheduled" };
    case "set_system":
      return { systemId: `sys-${n}`, durationMinutes: 30 };
    case "clear_system":
      return { systemId: `sys-${n}` };
  }
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function succeeded(outcome: RunOutcome): RunOutcome {
  if (!outcome.ok || outcome.events.length !== 1) {
    throw new Error(`${outcome.action} did not succeed with one event: ${JSON.stringify(outcome.error)}`);
  }
  return outcome;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { samples: { type: "string" }, plugin: { type: "string" }, json: { type: "boolean" } },
  });
  const samples = Number(values.samples ?? "400");
  const plugin = values.plugin ?? join(import.meta.dirname, "..", "..", "..", "target", "plugin-build", "components", "maintenance_plugin.wasm");
  const nowMs = Date.parse("2026-03-01T10:00:00.000Z");
  const medians: Record<string, Record<string, number>> = {};
  for (const action of ACTIONS) {
    const hosts = await Promise.all(MODES.map((instanceMode) => NodeHost.start([plugin], { seed: 11n, nowMs, instanceMode })));
    try {
      const windows: string[] = [];
      for (const host of hosts) windows.push(succeeded(await host.run({ action: "create", config: createConfig(["db-1"]) })).externalId!);
      const timings: number[][] = MODES.map(() => []);
      // The first round is untimed: it warms the reused instance and the JIT.
      for (let n = 0; n <= samples; n++) {
        for (const [index, host] of hosts.entries()) {
          if (action === "clear_system") await host.run({ action: "set_system", config: { systemId: `sys-${n}`, durationMinutes: 30 } });
          const started = performance.now();
          const outcome = await host.run({ action, config: actionConfig(action, windows[index], n) });
          const elapsed = performance.now() - started;
          succeeded(outcome);
          if (n > 0) timings[index].push(elapsed * 1000);
        }
      }
      medians[action] = Object.fromEntries(MODES.map((mode, index) => [mode, median(timings[index])]));
    } finally {
      await Promise.all(hosts.map((host) => host.close()));
    }
  }
  if (values.json) {
    console.log(JSON.stringify(medians));
    return;
  }
  console.log(`Per-action latency on the Node host (median of ${samples}, µs, whole run as the caller sees it; modes interleaved)`);
  console.log(`  ${"action".padEnd(13)} ${"fresh".padStart(9)} ${"reused".padStart(9)}`);
  for (const action of ACTIONS) {
    console.log(`  ${action.padEnd(13)} ${medians[action].fresh.toFixed(1).padStart(9)} ${medians[action].reuse.toFixed(1).padStart(9)}`);
  }
}

await main();
