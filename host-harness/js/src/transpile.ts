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
  const folder = join(cacheFolder, digest);
  const module = join(folder, "component.js");
  const present = await stat(module).then(
    () => true,
    () => false,
  );
  if (!present) {
    let files: Record<string, Uint8Array>;
    try {
      ({ files } = await transpile(bytes, {
        name: "component",
        instantiation: "sync",
        noTypescript: true,
        quiet: true,
      }));
    } catch (error) {
      throw new UsageError(`${component} is not a component jco can transpile: ${(error as Error).message ?? error}`);
    }
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
  return { component, module, folder };
}
