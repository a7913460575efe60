// The contract's limits, the same numbers the Rust host enforces
// (`contract-rules` and `host-harness/src/limits.rs`): one place for each,
// so both hosts refuse the same inputs with the same words.

/** Longest storage key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Largest stored value, in bytes. */
export const MAX_VALUE_BYTES = 1 << 20;
/** Longest entity id, in UTF-8 bytes. */
export const MAX_ENTITY_ID_BYTES = 512;
/** Most entries one scan returns. */
export const MAX_SCAN_LIMIT = 1000;
/** Largest config, artifact, payload or state document, in bytes. */
export const MAX_DOCUMENT_BYTES = 1 << 20;
/** Most log text one run keeps, in bytes. */
export const MAX_LOG_BYTES = 1 << 20;
/** Most stderr bytes kept to explain a trap. */
export const STDERR_CAPACITY = 64 * 1024;

/** What one run may use before the host stops it. */
export interface Limits {
  /** Wall time for one run, from the moment the worker takes it. */
  deadlineMs: number;
  /** The plugin's linear memory, and the worker's JavaScript heap. */
  memoryBytes: number;
}

export const DEFAULT_LIMITS: Limits = { deadlineMs: 1000, memoryBytes: 64 << 20 };

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return "keys must not be empty";
  const bytes = utf8Length(key);
  return bytes > MAX_KEY_BYTES
    ? `keys are at most ${MAX_KEY_BYTES} bytes, this one has ${bytes}`
    : undefined;
}

export function entityIdProblem(id: string): string | undefined {
  const bytes = utf8Length(id);
  return bytes === 0 || bytes > MAX_ENTITY_ID_BYTES
    ? `entity ids are 1 to ${MAX_ENTITY_ID_BYTES} bytes, this one has ${bytes}`
    : undefined;
}

/** `64 MiB`, `64 KiB` or `1000 bytes`: sizes stated exactly. */
export function formatBytes(bytes: number): string {
  if (bytes === 0) return "0 bytes";
  if (bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes % (1 << 10) === 0) return `${bytes / (1 << 10)} KiB`;
  return `${bytes} bytes`;
}
