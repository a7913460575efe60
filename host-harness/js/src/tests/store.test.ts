// The store and the host-side rules, without a plugin.

import assert from "node:assert/strict";
import { test } from "node:test";

import { changedFields } from "../engine.js";
import { Secrets } from "../masking.js";
import { Schema } from "../schema.js";
import { Store, compareKeys } from "../store.js";
import { resolve } from "../template.js";

const bytes = (text: string) => Buffer.from(text);

test("keys order by UTF-8 bytes, not UTF-16 code units", () => {
  // U+FFFF sorts after U+10000 in UTF-16 (0xFFFF > 0xD800) but before it in UTF-8.
  assert.ok(compareKeys("\uffff", "\u{10000}") < 0);
  assert.ok(compareKeys("a", "ab") < 0);
  assert.equal(compareKeys("é", "é"), 0);
  const keys = ["\u{10000}", "\uffff", "z", "a"].sort(compareKeys);
  assert.deepEqual(keys, ["a", "z", "\uffff", "\u{10000}"]);
});

test("a transaction's scan merges its own writes and deletes, in order, after the cursor", () => {
  const store = new Store();
  store.apply(["a/1", "a/2", "a/3", "b/1"].map((key) => ({ space: "s", key, value: bytes(key) })));
  const txn = store.begin();
  txn.delete("s", "a/2");
  txn.set("s", "a/25", bytes("new"));
  assert.deepEqual(txn.scan("s", "a/", undefined, 10).map(([key]) => key), ["a/1", "a/25", "a/3"]);
  assert.deepEqual(txn.scan("s", "a/", "a/1", 1).map(([key]) => key), ["a/25"]);
  // Nothing reaches the store before the commit.
  assert.equal(Buffer.from(store.get("s", "a/2")!).toString(), "a/2");
  store.apply(txn.writes());
  assert.equal(store.get("s", "a/2"), undefined);
});

test("rolling back to a savepoint undoes only what came after it", () => {
  const store = new Store();
  const txn = store.begin();
  txn.set("s", "kept", bytes("1"));
  const savepoint = txn.savepoint();
  txn.set("s", "undone", bytes("2"));
  txn.delete("s", "kept");
  txn.rollbackTo(savepoint);
  assert.deepEqual(txn.writes().map((write) => write.key), ["kept"]);
});

test("changed fields compare values, not key order, and list appearing fields", () => {
  assert.deepEqual(changedFields({ a: { x: 1, y: 2 }, b: 1 }, { b: 1, a: { y: 2, x: 1 } }), []);
  assert.deepEqual(changedFields({ a: 1 }, { a: 1, b: null }), ["b"]);
  assert.deepEqual(changedFields(null, { b: 1, a: 2 }), ["a", "b"]);
});

test("secrets mask text and keys everywhere, longest first, short ones never", () => {
  const secrets = new Secrets(["abc", "abcd", "abcdef"]);
  assert.equal(secrets.maskText("abc abcd abcdef"), "abc **** ****");
  assert.deepEqual(new Secrets(["hunter2"]).mask({ "hunter2": ["x hunter2 y", 42] }), { "****": ["x **** y", 42] });
});

test("problems are worded like the Rust host's, at the property's own path", () => {
  const schema = Schema.compile(
    JSON.stringify({
      type: "object",
      additionalProperties: false,
      required: ["at"],
      properties: {
        at: { type: "string", format: "date-time" },
        n: { type: "integer", maximum: 3 },
        s: { type: "string", maxLength: 3 },
        e: { enum: ["a", "b", "c", "d"] },
      },
    }),
  );
  assert.deepEqual(schema.problems({ n: 4, "x/y": 1, s: "x".repeat(100), e: "z" }), [
    { path: "/at", message: "is required" },
    { path: "/e", message: '"z" is not one of "a", "b" or 2 other candidates' },
    { path: "/n", message: "4 is greater than the maximum of 3" },
    { path: "/s", message: `"${"x".repeat(79)}… (102 characters) is longer than 3 characters` },
    { path: "/x~1y", message: "is not a known field" },
  ]);
  assert.deepEqual(schema.problems({ at: "tomorrow" }), [{ path: "/at", message: '"tomorrow" is not a "date-time"' }]);
});

test("templates: a whole template keeps its type, a spliced one becomes text", () => {
  const scope = new Map<string, unknown>([["w", { id: "x1", n: 2, list: ["a"] }]]);
  assert.deepEqual(resolve({ id: "{{w.id}}", n: "{{ w.n }}", text: "n={{w.n}} {{w.list.0}}" }, scope), {
    id: "x1",
    n: 2,
    text: "n=2 a",
  });
  assert.throws(() => resolve("{{w.missing}}", scope), /"w" has nothing at "missing"/);
  assert.throws(() => resolve("{{nobody.id}}", scope), /nothing is named "nobody"/);
});
