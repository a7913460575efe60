// The WASI a plugin sees: nothing of the machine. No environment, no
// arguments, no files, stdin closed, stdout discarded, stderr kept (a
// little of it) to explain a trap, the host's clock (fixed in tests) and
// the host's seeded randomness. The same world the Rust host gives a
// plugin with an empty `WasiCtx` and its own clocks.
//
// The Node shim (`@bytecodealliance/preview2-shim`) serves the real
// clock, crypto randomness and the process's stdio through an I/O worker;
// a sandbox must serve all three itself, so this module is the host's.

import { STDERR_CAPACITY } from "./limits.js";
import type { SeededRandom } from "./random.js";

/** The clock a plugin is shown. */
export interface HostClock {
  /** Milliseconds since 1970. */
  nowMs(): number;
  /** A fixed clock never moves: a plugin that sleeps on it sleeps until the deadline. */
  readonly fixed: boolean;
}

type StreamError = { tag: "last-operation-failed"; val: IoError } | { tag: "closed" };

class IoError {
  constructor(private readonly message: string) {}
  toDebugString(): string {
    return this.message;
  }
}

class Pollable {
  /** `undefined`: never ready. */
  constructor(private readonly readyAtMs: number | undefined, private readonly clock: HostClock) {}

  ready(): boolean {
    return this.readyAtMs !== undefined && this.clock.nowMs() >= this.readyAtMs;
  }

  block(): void {
    if (this.ready()) return;
    // Waiting holds the worker, not the host: the deadline terminates it.
    const cell = new Int32Array(new SharedArrayBuffer(4));
    if (this.readyAtMs === undefined || this.clock.fixed) Atomics.wait(cell, 0, 0);
    else Atomics.wait(cell, 0, 0, Math.max(0, this.readyAtMs - this.clock.nowMs()));
  }
}

class InputStream {
  constructor(private readonly clock: HostClock) {}
  read(_length: bigint): Uint8Array {
    throw { tag: "closed" } satisfies StreamError;
  }
  blockingRead(length: bigint): Uint8Array {
    return this.read(length);
  }
  skip(_length: bigint): bigint {
    throw { tag: "closed" } satisfies StreamError;
  }
  blockingSkip(length: bigint): bigint {
    return this.skip(length);
  }
  subscribe(): Pollable {
    return new Pollable(0, this.clock);
  }
}

/** A sink that keeps up to `capacity` bytes. */
export class OutputStream {
  private readonly chunks: Uint8Array[] = [];
  private kept = 0;

  constructor(private readonly capacity: number, private readonly clock: HostClock) {}

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  /** Forgets what was written: each run of a kept instance explains its own trap. */
  clear(): void {
    this.chunks.length = 0;
    this.kept = 0;
  }

  checkWrite(): bigint {
    return 4096n;
  }
  write(contents: Uint8Array): void {
    const room = this.capacity - this.kept;
    if (room > 0) {
      const part = contents.slice(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
  }
  blockingWriteAndFlush(contents: Uint8Array): void {
    this.write(contents);
  }
  flush(): void {}
  blockingFlush(): void {}
  writeZeroes(length: bigint): void {
    this.write(new Uint8Array(Number(length)));
  }
  blockingWriteZeroesAndFlush(length: bigint): void {
    this.writeZeroes(length);
  }
  splice(_from: InputStream, _length: bigint): bigint {
    throw { tag: "closed" } satisfies StreamError;
  }
  blockingSplice(from: InputStream, length: bigint): bigint {
    return this.splice(from, length);
  }
  subscribe(): Pollable {
    return new Pollable(0, this.clock);
  }
}

class TerminalInput {}
class TerminalOutput {}

/** A plugin's WASI: the import object entries, and its captured stderr. */
export interface Wasi {
  imports: Record<string, Record<string, unknown>>;
  stderr: OutputStream;
}

export class PluginExit extends Error {}

export function wasi(clock: HostClock, random: SeededRandom): Wasi {
  const stderr = new OutputStream(STDERR_CAPACITY, clock);
  const stdout = new OutputStream(0, clock);
  const stdin = new InputStream(clock);
  const nowNanos = () => BigInt(Math.trunc(clock.nowMs())) * 1_000_000n;
  const exit = (code: number) => {
    throw new PluginExit(`the plugin exited with status ${code}`);
  };
  return {
    stderr,
    imports: {
      "wasi:cli/environment": { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
      "wasi:cli/exit": {
        exit: (status: { tag: "ok" | "err" }) => exit(status.tag === "ok" ? 0 : 1),
        exitWithCode: (code: number) => exit(code),
      },
      "wasi:cli/stdin": { getStdin: () => stdin },
      "wasi:cli/stdout": { getStdout: () => stdout },
      "wasi:cli/stderr": { getStderr: () => stderr },
      "wasi:cli/terminal-input": { TerminalInput },
      "wasi:cli/terminal-output": { TerminalOutput },
      "wasi:cli/terminal-stdin": { getTerminalStdin: () => undefined },
      "wasi:cli/terminal-stdout": { getTerminalStdout: () => undefined },
      "wasi:cli/terminal-stderr": { getTerminalStderr: () => undefined },
      "wasi:clocks/monotonic-clock": {
        now: nowNanos,
        resolution: () => 1_000_000n,
        subscribeInstant: (at: bigint) => new Pollable(Number(at / 1_000_000n), clock),
        subscribeDuration: (after: bigint) => new Pollable(clock.nowMs() + Number(after / 1_000_000n), clock),
      },
      "wasi:clocks/wall-clock": {
        now: () => {
          const ms = Math.trunc(clock.nowMs());
          return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (((ms % 1000) + 1000) % 1000) * 1_000_000 };
        },
        resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
      },
      "wasi:io/error": { Error: IoError },
      "wasi:io/poll": {
        Pollable,
        poll: (pollables: Pollable[]) => {
          for (;;) {
            const ready = pollables.flatMap((pollable, index) => (pollable.ready() ? [index] : []));
            if (ready.length > 0 || pollables.length === 0) return new Uint32Array(ready);
            pollables[0].block();
          }
        },
      },
      "wasi:io/streams": { InputStream, OutputStream },
      "wasi:random/random": {
        getRandomBytes: (length: bigint) => random.bytes(Number(length)),
        getRandomU64: () => random.nextU64(),
      },
      "wasi:random/insecure": {
        getInsecureRandomBytes: (length: bigint) => random.bytes(Number(length)),
        getInsecureRandomU64: () => random.nextU64(),
      },
      "wasi:random/insecure-seed": { insecureSeed: () => [random.nextU64(), random.nextU64()] },
    },
  };
}
