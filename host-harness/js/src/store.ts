// The in-memory store: key spaces of ordered keys, and transactions that
// write nothing until they commit. Keys order by their UTF-8 bytes, like
// every Rust backend, so scans and cursors agree across hosts.

/** Orders two keys by their UTF-8 bytes, which is code point order. */
export function compareKeys(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i === 0 ? (b.length - j === 0 ? 0 : -1) : 1;
}

/** One key of one space, and its new value (`null`: deleted). */
export interface Write {
  space: string;
  key: string;
  value: Uint8Array | null;
}

/** The entries of one space, as a serialisable snapshot. */
export type Snapshot = Array<[space: string, entries: Array<[key: string, value: Uint8Array]>]>;

/** A key space: a map plus its keys kept sorted for scans. */
class Space {
  readonly values = new Map<string, Uint8Array>();
  private sorted: string[] = [];

  get(key: string): Uint8Array | undefined {
    return this.values.get(key);
  }

  set(key: string, value: Uint8Array): void {
    if (!this.values.has(key)) this.sorted.splice(this.lowerBound(key), 0, key);
    this.values.set(key, value);
  }

  delete(key: string): void {
    if (this.values.delete(key)) this.sorted.splice(this.lowerBound(key), 1);
  }

  /** Keys with `prefix`, strictly after `after` when given, in order. */
  *keys(prefix: string, after: string | undefined): Generator<string> {
    let index = this.lowerBound(after !== undefined && compareKeys(after, prefix) > 0 ? after : prefix);
    for (; index < this.sorted.length; index++) {
      const key = this.sorted[index];
      if (!key.startsWith(prefix)) return;
      if (after !== undefined && compareKeys(key, after) <= 0) continue;
      yield key;
    }
  }

  private lowerBound(key: string): number {
    let low = 0;
    let high = this.sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareKeys(this.sorted[middle], key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Committed state: every key space by name. */
export class Store {
  private readonly spaces = new Map<string, Space>();

  static fromSnapshot(snapshot: Snapshot): Store {
    const store = new Store();
    for (const [space, entries] of snapshot) {
      for (const [key, value] of entries) store.space(space).set(key, value);
    }
    return store;
  }

  snapshot(): Snapshot {
    return [...this.spaces].map(([name, space]) => [name, [...space.values]]);
  }

  get(space: string, key: string): Uint8Array | undefined {
    return this.spaces.get(space)?.get(key);
  }

  keys(space: string, prefix: string, after: string | undefined): Generator<string> {
    return (this.spaces.get(space) ?? new Space()).keys(prefix, after);
  }

  apply(writes: readonly Write[]): void {
    for (const { space, key, value } of writes) {
      if (value === null) this.spaces.get(space)?.delete(key);
      else this.space(space).set(key, value);
    }
  }

  begin(): Transaction {
    return new Transaction(this);
  }

  private space(name: string): Space {
    let space = this.spaces.get(name);
    if (!space) {
      space = new Space();
      this.spaces.set(name, space);
    }
    return space;
  }
}

/**
 * What a run writes, kept apart from the store until the run succeeds:
 * a failed run is discarded whole. Savepoints let a mutation be abandoned
 * without undoing what the run wrote before it.
 */
export class Transaction {
  private overlay = new Map<string, Map<string, Uint8Array | null>>();
  private readonly savepoints: Array<Map<string, Map<string, Uint8Array | null>>> = [];

  constructor(private readonly store: Store) {}

  get(space: string, key: string): Uint8Array | undefined {
    const written = this.overlay.get(space)?.get(key);
    if (written !== undefined) return written ?? undefined;
    return this.store.get(space, key);
  }

  set(space: string, key: string, value: Uint8Array): void {
    this.written(space).set(key, value);
  }

  delete(space: string, key: string): boolean {
    const existed = this.get(space, key) !== undefined;
    this.written(space).set(key, null);
    return existed;
  }

  /** Up to `limit` entries with `prefix` after `cursor`, in key order. */
  scan(space: string, prefix: string, cursor: string | undefined, limit: number): Array<[string, Uint8Array]> {
    const overlay = this.overlay.get(space);
    const keys = new Set<string>();
    for (const key of this.store.keys(space, prefix, cursor)) {
      keys.add(key);
      // Enough committed keys to fill the page even if the run deleted
      // every key it wrote over.
      if (keys.size >= limit + (overlay?.size ?? 0)) break;
    }
    for (const key of overlay?.keys() ?? []) {
      if (key.startsWith(prefix) && (cursor === undefined || compareKeys(key, cursor) > 0)) keys.add(key);
    }
    const entries: Array<[string, Uint8Array]> = [];
    for (const key of [...keys].sort(compareKeys)) {
      const value = this.get(space, key);
      if (value !== undefined) entries.push([key, value]);
      if (entries.length === limit) break;
    }
    return entries;
  }

  savepoint(): number {
    this.savepoints.push(this.copy());
    return this.savepoints.length - 1;
  }

  rollbackTo(savepoint: number): void {
    const saved = this.savepoints[savepoint];
    if (saved === undefined) throw new Error(`no savepoint ${savepoint}`);
    this.savepoints.length = savepoint + 1;
    this.overlay = new Map([...saved].map(([space, writes]) => [space, new Map(writes)]));
  }

  /** Everything written, in a form the store (or a replica) applies. */
  writes(): Write[] {
    const writes: Write[] = [];
    for (const [space, keys] of this.overlay) {
      for (const [key, value] of keys) writes.push({ space, key, value });
    }
    return writes;
  }

  private written(space: string): Map<string, Uint8Array | null> {
    let writes = this.overlay.get(space);
    if (!writes) {
      writes = new Map();
      this.overlay.set(space, writes);
    }
    return writes;
  }

  private copy(): Map<string, Map<string, Uint8Array | null>> {
    return new Map([...this.overlay].map(([space, writes]) => [space, new Map(writes)]));
  }
}
