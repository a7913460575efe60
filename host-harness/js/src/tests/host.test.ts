// The Node host running real components: the sandbox (deadline, memory,
// traps, broken protocol) and all-or-nothing runs, checked on the store's
// bytes; masking, seeding and instance reuse.
//
// The components come from the Rust test that runs this suite (their
// paths in the environment), or from the workspace's build.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { HostRunError, NodeHost } from "../host.js";
import type { RunOutcome } from "../records.js";

const components = join(import.meta.dirname, "..", "..", "..", "..", "target", "plugin-build", "components");
const HOSTILE = process.env.HOSTILE_PLUGIN_WASM ?? join(components, "hostile_plugin.wasm");
const MAINTENANCE = process.env.MAINTENANCE_PLUGIN_WASM ?? join(components, "maintenance_plugin.wasm");
const FILESYSTEM = process.env.FILESYSTEM_PLUGIN_WASM ?? join(components, "hostile_plugin+filesystem.wasm");
const SLEEPY = process.env.SLEEPY_DEFINITIONS_PLUGIN_WASM ?? join(components, "hostile_plugin+sleep-in-definitions.wasm");
// A limit that never fires would hang the suite: each test fails instead.
const timeout = 60_000;
// One memory limit for the whole process: V8 caps wasm memory per process.
const limits = { deadlineMs: 400, memoryBytes: 32 << 20 };
const NOW = Date.parse("2026-03-01T10:00:00Z");

let hostile: NodeHost;

before(async () => {
  hostile = await NodeHost.start([HOSTILE], { limits, seed: 7n, nowMs: NOW });
  const first = await hostile.run({ action: "well_behaved", config: {} });
  assert.equal(first.ok, true, JSON.stringify(first.error));
});

after(async () => {
  await hostile.close();
});

const snapshot = (host: NodeHost) => JSON.stringify(host.store.snapshot().map(([space, entries]) => [space, entries.map(([key, value]) => [key, Buffer.from(value).toString("base64")])]));

/** Runs `action`, which must be stopped by the host with `reason`, and checks the store kept nothing of it. */
async function stopped(action: string, reason: RegExp, config: unknown = {}): Promise<void> {
  const before = snapshot(hostile);
  await assert.rejects(hostile.run({ action, config }), (error: unknown) => {
    assert.ok(error instanceof HostRunError, String(error));
    assert.match(error.message, new RegExp(`^plugin hostile@[^,]+, action ${action}`));
    assert.match(error.message, reason);
    return true;
  });
  assert.equal(snapshot(hostile), before, `${action} changed the store`);
  await unchangedForTheNextRun();
}

/**
 * The host serves the next run (in a new worker when the old one was
 * killed), and that run sees the store as committed: the thing still
 * holds what `well_behaved` committed, so writing it again is no change.
 */
async function unchangedForTheNextRun(): Promise<void> {
  const next = await hostile.run({ action: "well_behaved", config: {} });
  assert.equal(next.ok, true, JSON.stringify(next.error));
  assert.deepEqual(next.changes, [], "the worker saw writes the store never committed");
}

test("a plugin that loops is stopped at the deadline, named, and loses nothing", { timeout }, async () => {
  const started = performance.now();
  await stopped("loop_forever", /trapped: deadline of 400 ms exceeded/);
  assert.ok(performance.now() - started < 5000);
});

test("a plugin that sleeps or blocks after committing is stopped and its commit is not kept", { timeout }, async () => {
  await stopped("sleep_forever", /deadline of 400 ms exceeded/);
  await stopped("block_forever", /deadline of 400 ms exceeded/);
  await stopped("poll_forever", /deadline of 400 ms exceeded/);
});

test("a plugin that eats memory meets the memory limit", { timeout }, async () => {
  await stopped("allocate_forever", /memory limit of 32 MiB reached/);
});

test("a panic is a trap that quotes what the plugin wrote to stderr", { timeout }, async () => {
  await stopped("panic", /trapped: .*the plugin wrote: .*hostile plugin panicked on purpose/);
  await stopped("overflow_stack", /trapped: /);
});

test("broken protocol: dropped mutations, bad artifacts and undeclared triggers fail the run", { timeout }, async () => {
  await stopped("drop_mutation", /dropped the mutation of thing\/t1 without committing or abandoning it/);
  await stopped("read_in_derive", /action read_in_derive: the deriver trapped: /);
  await stopped("bad_artifact", /returned an artifact that breaks the schema of hostile\.\w+: \/n "not a number" is not of type "integer"/);
  await stopped("invalid_json_artifact", /returned an artifact that is not JSON/);
  await stopped("huge_artifact", /returned an artifact of \d+ bytes; the limit is 1048576/);
  await stopped("fire_undeclared_trigger", /action fire_undeclared_trigger: the deriver: fired undeclared trigger "nonexistent"/);
});

test("a run that writes, commits and then fails leaves the store as it was", { timeout }, async () => {
  const before = snapshot(hostile);
  const outcome = await hostile.run({ action: "write_then_fail", config: {} });
  assert.equal(outcome.ok, false);
  assert.equal(outcome.error?.kind, "not_found");
  assert.deepEqual(outcome.changes, []);
  assert.equal(snapshot(hostile), before);
  await unchangedForTheNextRun();
});

test("storage rules: writes need a mutation, keys and values have limits, scans page at 1000", { timeout }, async () => {
  const before = snapshot(hostile);
  const loose = await hostile.run({ action: "write_without_mutation", config: {} });
  assert.equal(loose.ok, false);
  assert.match(loose.error!.message, /writes need an open entity mutation/);
  const longKey = await hostile.run({ action: "set_key", config: { bytes: 1025 } });
  assert.match(longKey.error!.message, /keys are at most 1024 bytes, this one has 1025/);
  assert.equal(snapshot(hostile), before);
  const scan = await hostile.run({ action: "scan_past_the_limit", config: { keys: 1500, limit: 5000 } });
  assert.deepEqual(scan.artifact, { n: 1000, pages: [1000, 500], complete: true });
  // It abandoned its mutation: the 1500 keys it wrote are gone with it.
  assert.equal(snapshot(hostile), before);
});

test("the log keeps 1 MiB of a run and says it cut the rest", { timeout }, async () => {
  const outcome = await hostile.run({ action: "flood_log", config: { lines: 2000, bytes: 1000 } });
  const last = outcome.logs[outcome.logs.length - 1];
  assert.deepEqual(last, { level: "warn", message: "log truncated: the run logged more than 1 MiB" });
  assert.ok(outcome.logs.length < 2000);
});

test("instances are fresh for every run unless reuse is asked for", { timeout }, async () => {
  const counts = async (host: NodeHost) => {
    const runs: RunOutcome[] = [];
    for (let i = 0; i < 3; i++) runs.push(await host.run({ action: "count_runs", config: {} }));
    return runs.map((run) => (run.artifact as { n: number }).n);
  };
  assert.deepEqual(await counts(hostile), [1, 1, 1]);
  const reusing = await NodeHost.start([HOSTILE], { limits, seed: 7n, nowMs: NOW, instanceMode: "reuse" });
  try {
    assert.deepEqual(await counts(reusing), [1, 2, 3]);
  } finally {
    await reusing.close();
  }
});

test("secrets are masked in the changes and events the host keeps", { timeout }, async () => {
  const host = await NodeHost.start([MAINTENANCE], { limits, seed: 1n, nowMs: NOW });
  try {
    const outcome = await host.run({
      action: "create",
      config: { title: "t", systemIds: ["db-hunter2"], startAt: "2026-03-01T10:00:00Z", endAt: "2026-03-01T11:00:00Z" },
      secrets: ["hunter2"],
    });
    assert.equal(outcome.ok, true, JSON.stringify(outcome.error));
    assert.deepEqual((outcome.changes[0].next as { systemIds: string[] }).systemIds, ["db-****"]);
    assert.deepEqual((outcome.events[0].payload as { systemIds: string[] }).systemIds, ["db-****"]);
    assert.equal(JSON.stringify(host.changes).includes("hunter2"), false);
    assert.equal(JSON.stringify(host.events).includes("hunter2"), false);
  } finally {
    await host.close();
  }
});

test("one seed gives the same ids and the same bytes, run after run", { timeout }, async () => {
  const ids = async () => {
    const host = await NodeHost.start([MAINTENANCE], { limits, seed: 42n, nowMs: NOW });
    try {
      const outcome = await host.run({
        action: "create",
        config: { title: "t", systemIds: ["a"], startAt: "2026-03-01T10:00:00Z", endAt: "2026-03-01T11:00:00Z" },
      });
      return [outcome.runId, outcome.externalId, outcome.changes[0].changeId];
    } finally {
      await host.close();
    }
  };
  const first = await ids();
  assert.deepEqual(await ids(), first);
  assert.equal(new Set(first).size, 3);
});

test("an unknown action is refused before any run, naming what exists", { timeout }, async () => {
  await assert.rejects(hostile.run({ action: "no_such_action", config: {} }), /has no action "no_such_action"; it has: hostile\./);
});

test("a query that tries to write is refused every write, and the store keeps its bytes", { timeout }, async () => {
  const before = snapshot(hostile);
  const answer = await hostile.query({ query: "write", input: {} });
  assert.equal(answer.ok, true, JSON.stringify(answer.error));
  for (const attempt of ["set", "delete", "open"]) {
    const told = (answer.result as Record<string, string>)[attempt];
    assert.match(told, /NotPermitted\("queries are read-only/, `${attempt}: ${told}`);
  }
  assert.equal(snapshot(hostile), before);
  const read = await hostile.query({ query: "read", input: {} });
  assert.deepEqual(read.result, { thing: "written by well_behaved" });
  assert.deepEqual(read.logs, [{ level: "info", message: "read the thing" }]);
});

test("a query's input is checked against its schema before the plugin runs", { timeout }, async () => {
  const refused = await hostile.query({ query: "read", input: { n: "x", m: 1 } });
  assert.equal(refused.ok, false);
  assert.equal(refused.error?.message, 'invalid input: /m: is not a known field; /n: "x" is not of type "integer"');
  assert.deepEqual(refused.logs, []);
});

test("a query is held to the deadline, and a result outside its schema is the host's error", { timeout }, async () => {
  const before = snapshot(hostile);
  await assert.rejects(hostile.query({ query: "loop", input: {} }), /^Error: plugin hostile@[^,]+, query loop trapped: deadline of 400 ms exceeded/);
  await assert.rejects(hostile.query({ query: "allocate", input: {} }), /query allocate trapped: memory limit of 32 MiB reached/);
  await assert.rejects(hostile.query({ query: "bad_result", input: {} }), /query bad_result: returned a result that breaks its schema: \/n/);
  assert.equal(snapshot(hostile), before);
  await assert.rejects(hostile.query({ query: "nope", input: {} }), /has no query "nope"; it has: hostile\.allocate, hostile\.bad_result, hostile\.loop, hostile\.read, hostile\.write/);
});

test("runs asked together are served one at a time, each seeing what the one before committed", { timeout }, async () => {
  const before = snapshot(hostile);
  const [looped, behaved] = await Promise.allSettled([
    hostile.run({ action: "loop_forever", config: {} }),
    hostile.run({ action: "well_behaved", config: {} }),
  ]);
  assert.equal(looped.status, "rejected");
  assert.match(String((looped as PromiseRejectedResult).reason), /deadline of 400 ms exceeded/);
  // The second run was not lost with the first one's worker: it ran, after.
  assert.equal(behaved.status, "fulfilled");
  assert.deepEqual((behaved as PromiseFulfilledResult<RunOutcome>).value.changes, []);
  assert.equal(snapshot(hostile), before);
  await unchangedForTheNextRun();
});

test("a worker that dies between runs is replaced by the next run", { timeout }, async () => {
  // Nothing in the API kills an idle worker; the operating system might.
  await (hostile as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await unchangedForTheNextRun();
});

test("plugins that cannot load are refused, and leave no worker behind", { timeout }, async () => {
  await assert.rejects(NodeHost.start([MAINTENANCE, MAINTENANCE], { limits }), /both declare plugin id maintenance/);
  await assert.rejects(
    NodeHost.start([FILESYSTEM], { limits }),
    /imports capabilities the host never grants: wasi:filesystem\//,
  );
});

test("a plugin that sleeps while declaring itself is not loaded, after a run's deadline", { timeout }, async () => {
  const started = performance.now();
  await assert.rejects(
    NodeHost.start([SLEEPY], { limits }),
    /cannot load plugin .*sleep-in-definitions\.wasm: the plugin's definitions\(\) trapped: deadline of 400 ms exceeded/,
  );
  // The deadline, not the 30 s load allowance.
  assert.ok(performance.now() - started < 10_000);
});
