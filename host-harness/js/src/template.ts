// `{{step.path}}` templates, resolved as the Rust host resolves them
// (`host-harness/src/template.rs`): a string that is one whole template
// becomes the value it names, of any type; templates inside a longer
// string are spliced in as text.

export class TemplateError extends Error {}

type Scope = ReadonlyMap<string, unknown>;

export function resolve(value: unknown, scope: Scope): unknown {
  if (typeof value === "string") return resolveText(value, scope);
  if (Array.isArray(value)) return value.map((item) => resolve(item, scope));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item, scope)]));
  }
  return value;
}

function resolveText(text: string, scope: Scope): unknown {
  if (text.startsWith("{{") && text.endsWith("}}") && text.length >= 4 && !text.slice(2, -2).includes("{{")) {
    return lookup(text.slice(2, -2).trim(), scope);
  }
  let resolved = "";
  let rest = text;
  for (;;) {
    const start = rest.indexOf("{{");
    if (start < 0) break;
    const length = rest.slice(start).indexOf("}}");
    if (length < 0) break;
    resolved += rest.slice(0, start);
    const value = lookup(rest.slice(start + 2, start + length).trim(), scope);
    resolved += typeof value === "string" ? value : JSON.stringify(value);
    rest = rest.slice(start + length + 2);
  }
  return resolved + rest;
}

function lookup(reference: string, scope: Scope): unknown {
  const [root, ...segments] = reference.split(".");
  if (!scope.has(root)) throw new TemplateError(`template {{${reference}}}: nothing is named ${JSON.stringify(root)} here`);
  let value = scope.get(root);
  for (const segment of segments) {
    let next: unknown;
    if (Array.isArray(value)) next = /^\d+$/.test(segment) ? value[Number(segment)] : undefined;
    else if (value !== null && typeof value === "object" && Object.hasOwn(value, segment)) {
      next = (value as Record<string, unknown>)[segment];
    }
    if (next === undefined) {
      throw new TemplateError(`template {{${reference}}}: ${JSON.stringify(root)} has nothing at ${JSON.stringify(segment)}`);
    }
    value = next;
  }
  return value;
}
