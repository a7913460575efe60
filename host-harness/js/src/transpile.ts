// Components become JavaScript through jco, once per component: the
// output is cached by the component's SHA-256, like the Rust host's
// compiled-component cache, so a second run of the same `.wasm` starts at
// once and a rebuilt one is transpiled again.

import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { transpile } from "@bytecodealliance/jco";

import { UsageError } from "./errors.js";

/** Where the transpiled output of a component lives. */
export interface Transpiled {
  /** The component file, as given. */
  component: string;
  /** The generated module exporting `instantiate`. */
  module: string;
  /** The folder of its core modules. */
  folder: string;
}

/**
 * The interfaces a plugin may import: the contract, and the parts of WASI
 * a Rust `std` component needs and the host serves itself; the Rust
 * host's list (`ALLOWED_IMPORTS` in `host-harness/src/wasm/loader.rs`).
 * Filesystem, sockets and HTTP are never granted.
 */
const ALLOWED_IMPORTS = [
  "checkstack:automation/",
  "wasi:clocks/wall-clock",
  "wasi:clocks/monotonic-clock",
  "wasi:random/random",
  "wasi:random/insecure",
  "wasi:random/insecure-seed",
  "wasi:cli/environment",
  "wasi:cli/exit",
  "wasi:cli/stdin",
  "wasi:cli/stdout",
  "wasi:cli/stderr",
  "wasi:cli/terminal-input",
  "wasi:cli/terminal-output",
  "wasi:cli/terminal-stdin",
  "wasi:cli/terminal-stdout",
  "wasi:cli/terminal-stderr",
  "wasi:io/error",
  "wasi:io/poll",
  "wasi:io/streams",
];

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const defaultCacheFolder = join(packageRoot, ".cache", "transpiled");

export async function transpiled(component: string, cacheFolder = defaultCacheFolder): Promise<Transpiled> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(component);
  } catch (error) {
    throw new UsageError(`cannot read component ${component}: ${(error as Error).message}`);
  }
  const digest = createHash("sha256").update(bytes).digest("hex");
  // The layout version: a cache written by an older host is not read.
  const folder = join(cacheFolder, `${digest}-2`);
  const module = join(folder, "component.js");
  const present = await stat(module).then(
    () => true,
    () => false,
  );
  if (!present) {
    let files: Record<string, Uint8Array>;
    let imports: string[];
    try {
      ({ files, imports } = await transpile(bytes, {
        name: "component",
        instantiation: "sync",
        noTypescript: true,
        quiet: true,
      }));
    } catch (error) {
      throw new UsageError(`${component} is not a component jco can transpile: ${(error as Error).message ?? error}`);
    }
    files["imports.json"] = Buffer.from(JSON.stringify(imports));
    // Written aside, then renamed: a half-written folder is never taken
    // for a finished one, even by a host started alongside.
    const partial = `${folder}.${process.pid}.partial`;
    await rm(partial, { recursive: true, force: true });
    for (const [name, contents] of Object.entries(files)) {
      await mkdir(dirname(join(partial, name)), { recursive: true });
      await writeFile(join(partial, name), contents);
    }
    await rename(partial, folder).catch(async (error) => {
      await rm(partial, { recursive: true, force: true });
      if (!(await stat(module).catch(() => undefined))) throw error;
    });
  }
  const imports = JSON.parse(await readFile(join(folder, "imports.json"), "utf8")) as string[];
  // jco names imports without their version; the Rust host's list names interfaces.
  const denied = imports.filter((name) => {
    const base = name.split("@")[0];
    return !ALLOWED_IMPORTS.some((allowed) => (allowed.endsWith("/") ? base.startsWith(allowed) : base === allowed));
  });
  if (denied.length > 0) {
    throw new UsageError(`cannot load plugin ${component}: the component imports capabilities the host never grants: ${denied.join(", ")}`);
  }
  return { component, module, folder };
}
