import { z } from "zod";
import { NODE_NAME_PATTERN } from "./names.js";

export const ENVELOPE_TYPES = ["message", "task", "result", "event"] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

/**
 * The one message model (ARCHITECTURE.md "One message model"). The five seed fields are
 * required; the rest are optional; unknown fields are kept, because agents we do not own
 * write these lines and may add their own.
 */
export const envelopeSchema = z.looseObject({
  from: z.string().trim().min(1, "from must not be empty").max(256),
  to: z.string().regex(NODE_NAME_PATTERN, 'to must be a node name (letters, digits, "-" or "_")'),
  timestamp: z.iso.datetime({
    offset: true,
    message: "timestamp must be ISO 8601 with an offset, e.g. 2026-02-14T18:40:00+08:00",
  }),
  type: z.enum(ENVELOPE_TYPES, { message: `type must be one of ${ENVELOPE_TYPES.join(", ")}` }),
  content: z.string({ message: "content must be a string" }),
  id: z
    .string()
    .regex(/^[A-Za-z0-9_:.-]{1,128}$/, "id must be 1–128 letters, digits or _:.-")
    .optional(),
  replyTo: z.string().max(128).optional(),
  conversation: z.string().max(256).optional(),
  hop: z.number().int().min(0).optional(),
  taskId: z.string().max(128).optional(),
  source: z.string().max(64).optional(),
  delivered: z.string().max(64).optional(),
  name: z.string().max(256).optional(),
});

/** An envelope as found on the wire: `id` may be missing (seed lines). */
export type EnvelopeInput = z.infer<typeof envelopeSchema>;

/** An envelope inside clawbridge: always has an id. */
export type Envelope = EnvelopeInput & { id: string };

/** `source` on every line clawbridge writes; the tailer never routes those again. */
export const CLAWBRIDGE_SOURCE = "clawbridge";
