import type { z } from "zod";
import { configSchema } from "./schema.js";

/**
 * Reading the schema as data: which keys exist where (for "did you mean"), a field's
 * bounds (for "use a number from 50 to 600000"), and every documented key (for tests and
 * `doctor`). Only the wrappers this config uses are unwrapped.
 */

type AnySchema = z.core.$ZodType;

interface LooseDef {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  element?: AnySchema;
  shape?: Record<string, AnySchema>;
}

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"]);

function defOf(schema: AnySchema): LooseDef {
  return schema._zod.def as unknown as LooseDef;
}

/** The schema under optional/default/prefault/… wrappers (and the input side of a pipe). */
export function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (WRAPPERS.has(def.type) && def.innerType) current = def.innerType;
    else if (def.type === "pipe" && def.in) current = def.in;
    else return current;
  }
}

/** The `.describe()` text of a key, looking through its wrappers. */
export function descriptionOf(schema: AnySchema): string | undefined {
  let current: AnySchema | undefined = schema;
  while (current) {
    const text = (current as { description?: string }).description;
    if (text) return text;
    const def = defOf(current);
    current = WRAPPERS.has(def.type) ? def.innerType : def.type === "pipe" ? def.in : undefined;
  }
  return undefined;
}

function childOf(schema: AnySchema, segment: PropertyKey): AnySchema | undefined {
  const def = defOf(unwrap(schema));
  if (def.type === "object" && typeof segment === "string") return def.shape?.[segment];
  if (def.type === "array" && typeof segment === "number") return def.element;
  return undefined;
}

/** The schema of the key at `path` (e.g. `["nodes", 0, "name"]`), if the schema has one. */
export function schemaAt(
  path: readonly PropertyKey[],
  root: AnySchema = configSchema,
): AnySchema | undefined {
  let current: AnySchema | undefined = root;
  for (const segment of path) {
    if (!current) return undefined;
    current = childOf(current, segment);
  }
  return current;
}

/** The keys an object at `path` allows (empty when `path` is not an object). */
export function knownKeysAt(path: readonly PropertyKey[], root: AnySchema = configSchema): string[] {
  const schema = schemaAt(path, root);
  if (!schema) return [];
  const def = defOf(unwrap(schema));
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

/** Inclusive numeric bounds of the key at `path`, as declared in the schema. */
export function numberBoundsAt(
  path: readonly PropertyKey[],
  root: AnySchema = configSchema,
): { min?: number; max?: number } {
  const schema = schemaAt(path, root);
  if (!schema) return {};
  const inner = unwrap(schema) as { minValue?: number | null; maxValue?: number | null };
  const finite = (n: number | null | undefined) =>
    typeof n === "number" && Number.isFinite(n) && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined;
  return { min: finite(inner.minValue), max: finite(inner.maxValue) };
}

/** One documented key: dotted with `[]` for list items (`nodes[].bot.unionId`). */
export interface SchemaKey {
  key: string;
  description: string | undefined;
}

/** Every key of the schema, sections before their keys, in declaration order. */
export function listSchemaKeys(root: AnySchema = configSchema): SchemaKey[] {
  const out: SchemaKey[] = [];
  const visit = (schema: AnySchema, prefix: string) => {
    let def = defOf(unwrap(schema));
    let itemPrefix = prefix;
    // A list of objects documents its items' keys (`nodes[].name`).
    while (def.type === "array" && def.element) {
      itemPrefix += "[]";
      def = defOf(unwrap(def.element));
    }
    if (def.type !== "object" || !def.shape) return;
    for (const [name, child] of Object.entries(def.shape)) {
      const key = itemPrefix ? `${itemPrefix}.${name}` : name;
      out.push({ key, description: descriptionOf(child) });
      visit(child, key);
    }
  };
  visit(root, "");
  return out;
}
