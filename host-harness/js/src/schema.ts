// JSON Schema checks of configs, artifacts, payloads and states, with ajv.
//
// A problem is reported at the path of the value it concerns and worded
// the way the Rust host words it, so a scenario (and the cross-host
// conformance test) sees one vocabulary whichever host ran it: a missing
// or unknown property at the property's own path, every other message
// quoting the offending value (cut short past 80 characters).

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS: under ESM its function arrives as `default`.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv2020) => void }).default;

/** One thing wrong with a document: a JSON pointer and what is wrong there. */
export interface Problem {
  path: string;
  message: string;
}

const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true, validateFormats: true });
addFormats(ajv);

/** A compiled schema. */
export class Schema {
  private constructor(private readonly validate: ValidateFunction) {}

  /** Compiles `text`; throws with the reason when it is not a schema. */
  static compile(text: string): Schema {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new Error(`not valid JSON: ${(error as Error).message}`);
    }
    if (typeof document === "object" && document !== null && !Array.isArray(document)) {
      // One dialect for every plugin: the host checks 2020-12, as the Rust
      // host does unless a schema names another.
      const { $schema: _dialect, ...rest } = document as Record<string, unknown>;
      document = rest;
    }
    try {
      return new Schema(ajv.compile(document as object));
    } catch (error) {
      throw new Error(`not a valid JSON Schema: ${(error as Error).message}`);
    }
  }

  /** Every problem `instance` has, sorted by path then message. */
  problems(instance: unknown): Problem[] {
    if (this.validate(instance)) return [];
    const problems = (this.validate.errors ?? []).map(problemOf);
    return sortProblems(problems);
  }
}

export function sortProblems(problems: Problem[]): Problem[] {
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  return problems.sort((a, b) => byteOrder(a.path, b.path) || byteOrder(a.message, b.message));
}

/** The longest value a message quotes whole. */
const MAX_QUOTED_CHARS = 80;

/** The value as JSON, cut short when long: a huge config is not echoed back. */
function quoted(value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  const characters = [...text];
  if (characters.length <= MAX_QUOTED_CHARS) return text;
  return `${characters.slice(0, MAX_QUOTED_CHARS).join("")}… (${characters.length} characters)`;
}

function child(parent: string, property: string): string {
  return `${parent}/${property.replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

function plural(limit: number, one: string, many: string): string {
  return `${limit} ${limit === 1 ? one : many}`;
}

/** An enum's options as `a, b or c`, or the first two and a count. */
function options(values: unknown[]): string {
  const shown = values.map((value) => JSON.stringify(value));
  if (shown.length <= 3) {
    return shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(", ")} or ${shown[shown.length - 1]}`;
  }
  return `${shown.slice(0, 2).join(", ")} or ${shown.length - 2} other candidates`;
}

function problemOf(error: ErrorObject): Problem {
  const path = error.instancePath;
  const params = error.params as Record<string, any>;
  const value = quoted(error.data);
  switch (error.keyword) {
    case "required":
      return { path: child(path, params.missingProperty), message: "is required" };
    case "additionalProperties":
      return { path: child(path, params.additionalProperty), message: "is not a known field" };
    case "type": {
      const types = String(params.type).split(",");
      return types.length === 1
        ? { path, message: `${value} is not of type "${types[0]}"` }
        : { path, message: `${value} is not of types ${types.map((type) => `"${type}"`).join(", ")}` };
    }
    case "format":
      return { path, message: `${value} is not a "${params.format}"` };
    case "enum":
      return { path, message: `${value} is not one of ${options(params.allowedValues)}` };
    case "const":
      return { path, message: `${JSON.stringify(params.allowedValue)} was expected` };
    case "maxLength":
      return { path, message: `${value} is longer than ${plural(params.limit, "character", "characters")}` };
    case "minLength":
      return { path, message: `${value} is shorter than ${plural(params.limit, "character", "characters")}` };
    case "maxItems":
      return { path, message: `${value} has more than ${plural(params.limit, "item", "items")}` };
    case "minItems":
      return { path, message: `${value} has less than ${plural(params.limit, "item", "items")}` };
    case "maxProperties":
      return { path, message: `${value} has more than ${plural(params.limit, "property", "properties")}` };
    case "minProperties":
      return { path, message: `${value} has less than ${plural(params.limit, "property", "properties")}` };
    case "maximum":
      return { path, message: `${value} is greater than the maximum of ${params.limit}` };
    case "minimum":
      return { path, message: `${value} is less than the minimum of ${params.limit}` };
    case "exclusiveMaximum":
      return { path, message: `${value} is greater than or equal to the maximum of ${params.limit}` };
    case "exclusiveMinimum":
      return { path, message: `${value} is less than or equal to the minimum of ${params.limit}` };
    case "multipleOf":
      return { path, message: `${value} is not a multiple of ${params.multipleOf}` };
    case "uniqueItems":
      return { path, message: `${value} has non-unique elements` };
    case "pattern":
      return { path, message: `${value} does not match "${params.pattern}"` };
    default:
      return { path, message: error.message ?? `breaks the schema's ${error.keyword}` };
  }
}
