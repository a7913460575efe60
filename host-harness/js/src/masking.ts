// Secret masking: the one rule for what a secret hides, the same as the
// Rust host's (`host-harness/src/masking.rs`). Every occurrence of a
// secret in what the host persists (change states and entity ids, event
// payloads and context keys, object keys included) becomes `****`;
// secrets shorter than four characters are ignored (they would mask
// ordinary text), and longer secrets are masked first.

import type { ChangeRecord, EventRecord } from "./records.js";

export const MIN_SECRET_LENGTH = 4;
export const MASK = "****";

export class Secrets {
  private readonly secrets: string[];

  constructor(secrets: Iterable<string>) {
    const kept = [...new Set(secrets)].filter((secret) => [...secret].length >= MIN_SECRET_LENGTH);
    kept.sort((a, b) => Buffer.byteLength(b) - Buffer.byteLength(a) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
    this.secrets = kept;
  }

  maskText(text: string): string {
    return this.secrets.reduce((masked, secret) => masked.replaceAll(secret, MASK), text);
  }

  mask(value: unknown): unknown {
    if (this.secrets.length === 0) return value;
    if (typeof value === "string") return this.maskText(value);
    if (Array.isArray(value)) return value.map((item) => this.mask(item));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [this.maskText(key), this.mask(item)]));
    }
    return value;
  }

  maskChange(change: ChangeRecord): ChangeRecord {
    return {
      ...change,
      prev: change.prev === null ? null : this.mask(change.prev),
      next: change.next === null ? null : this.mask(change.next),
      entityId: this.maskText(change.entityId),
    };
  }

  maskEvent(event: EventRecord): EventRecord {
    return {
      ...event,
      payload: this.mask(event.payload),
      contextKey: event.contextKey === null ? null : this.maskText(event.contextKey),
    };
  }
}
