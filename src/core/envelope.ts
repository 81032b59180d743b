import { z } from "zod";
import { NODE_NAME_PATTERN } from "./names.js";

export const ENVELOPE_TYPES = ["message", "task", "result", "event"] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

/**
 * The one message model (ARCHITECTURE.md "One message model"). The five seed fields are
 * required; the rest are optional; unknown fields are kept, because agents we do not own
 * write these lines and may add their own.
 */
const timestampSchema = z.iso.datetime({
  offset: true,
  message: "timestamp must be ISO 8601 with an offset, e.g. 2026-02-14T18:40:00+08:00",
});
const ID_PATTERN = /^[A-Za-z0-9_:.-]{1,128}$/;

/**
 * `target` of a `task` envelope addressed to the bridge: a node name (NODE_NAME_PATTERN), or
 * "#" and a tag of 1–63 letters (any script: a config tag may be "显卡"), digits, "_" or "-".
 */
// A tag as the config allows it (config/schema.ts TAG_PATTERN): no space, "#" or ",".
const TARGET_PATTERN = /^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,62}|#[^\s#,]{1,63})$/u;
const TARGET_MAX = 64;

/** Whether `value` may be an envelope's `target`: `"<node>"` or `"#<tag>"`. */
export function isValidTarget(value: string): boolean {
  return value.length <= TARGET_MAX && TARGET_PATTERN.test(value);
}

export const envelopeSchema = z.looseObject({
  from: z.string().trim().min(1, "from must not be empty").max(256),
  to: z.string().regex(NODE_NAME_PATTERN, 'to must be a node name (letters, digits, "-" or "_")'),
  timestamp: timestampSchema,
  type: z.enum(ENVELOPE_TYPES, { message: `type must be one of ${ENVELOPE_TYPES.join(", ")}` }),
  content: z.string({ message: "content must be a string" }),
  id: z.string().regex(ID_PATTERN, "id must be 1–128 letters, digits or _:.-").optional(),
  replyTo: z.string().max(128).optional(),
  conversation: z.string().max(256).optional(),
  hop: z.number().int().min(0).optional(),
  taskId: z.string().max(128).optional(),
  source: z.string().max(64).optional(),
  delivered: z.string().max(64).optional(),
  name: z.string().max(256).optional(),
  target: z
    .string()
    .max(TARGET_MAX)
    .regex(TARGET_PATTERN, 'target must be a node name or "#" and a tag (no spaces, "#" or ",")')
    .optional(),
});

/** An envelope as found on the wire: `id` may be missing (seed lines). */
export type EnvelopeInput = z.infer<typeof envelopeSchema>;

/** An envelope inside clawbridge: always has an id. */
export type Envelope = EnvelopeInput & { id: string };

/** `source` on every line clawbridge writes; the tailer never routes those again. */
export const CLAWBRIDGE_SOURCE = "clawbridge";

/** The timestamp pattern zod checks with, when it exposes it (else the schema is asked). */
const TIMESTAMP_PATTERN = (timestampSchema._zod as { pattern?: RegExp }).pattern;
const OPTIONAL_STRINGS: readonly (readonly [string, number])[] = [
  ["replyTo", 128],
  ["conversation", 256],
  ["taskId", 128],
  ["source", 64],
  ["delivered", 64],
  ["name", 256],
];

/**
 * `envelopeSchema.safeParse`, with a fast path for what nearly every line is: a valid
 * envelope. The fast path checks exactly the schema's rules; anything it does not accept
 * goes to zod, which decides and words the problems. A cold read of a large inbox spends
 * most of its time here. With `{ own: true }` the value is the caller's own fresh object
 * (just parsed from JSON) and is returned itself, `from` trimmed, instead of a copy.
 */
export function parseEnvelope(
  value: unknown,
  options: { own?: boolean } = {},
): ReturnType<typeof envelopeSchema.safeParse> {
  const fast = fastEnvelope(value, options.own ?? false);
  return fast ? { success: true, data: fast } : envelopeSchema.safeParse(value);
}

function fastEnvelope(value: unknown, own: boolean): EnvelopeInput | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const { from, to, timestamp, type, content, id, hop, target } = v;
  if (typeof from !== "string" || typeof to !== "string" || typeof timestamp !== "string") return undefined;
  if (typeof type !== "string" || typeof content !== "string") return undefined;
  const trimmed = from.trim();
  if (trimmed.length < 1 || trimmed.length > 256) return undefined;
  if (!NODE_NAME_PATTERN.test(to) || !(ENVELOPE_TYPES as readonly string[]).includes(type)) return undefined;
  if (!TIMESTAMP_PATTERN || !TIMESTAMP_PATTERN.test(timestamp)) return undefined;
  if (id !== undefined && (typeof id !== "string" || !ID_PATTERN.test(id))) return undefined;
  if (hop !== undefined && !(typeof hop === "number" && Number.isInteger(hop) && hop >= 0)) return undefined;
  if (target !== undefined && (typeof target !== "string" || !isValidTarget(target))) return undefined;
  for (const [key, max] of OPTIONAL_STRINGS) {
    const field = v[key];
    if (field !== undefined && (typeof field !== "string" || field.length > max)) return undefined;
  }
  // zod hands back a new object (with `from` trimmed); so does this, unless the value is ours.
  if (!own) return { ...v, from: trimmed } as EnvelopeInput;
  if (trimmed !== from) v.from = trimmed;
  return v as EnvelopeInput;
}
