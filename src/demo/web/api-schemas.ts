import { z } from "zod";
import { DEFAULT_TAIL_LINES, MAX_TAIL_LINES, SHARED_FILE } from "./shared-files.js";

/** Feishu's own cap on a text message is 150 KiB; a chat line typed in a page needs far less. */
export const MAX_TEXT_CHARS = 4_000;
const MESSAGE_ID = z.string().min(1).max(100);
/** What a card button carries back: the flat string values the task cards use, numbers and flags too. */
const BUTTON_VALUE = z.record(z.string().max(100), z.union([z.string().max(1_000), z.number(), z.boolean()]));

/** `POST /demo/api/messages`: the typed text; `mentions` adds bots by id (`bridge` or a node name). */
export const postMessageSchema = z.strictObject({
  text: z.string().max(MAX_TEXT_CHARS),
  mentions: z.array(z.string().min(1).max(100)).max(10).optional(),
});

/** `POST /demo/api/actions`: a card button (its callback value) or a form submit (its fields). */
export const cardActionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("button"), messageId: MESSAGE_ID, value: BUTTON_VALUE }),
  z.strictObject({
    kind: z.literal("form"),
    messageId: MESSAGE_ID,
    /** The submit button's name, when the card has several. */
    name: z.string().min(1).max(100).optional(),
    formValue: z.record(
      z.string().min(1).max(100),
      z.union([z.string().max(2_000), z.array(z.string().max(200)).max(50)]),
    ),
  }),
]);
export type CardAction = z.infer<typeof cardActionSchema>;

/** `GET /demo/api/messages?limit=`. */
export const messagesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(200),
});

/** `GET /demo/api/files/tail?path=messages/to-ai-pc.jsonl&lines=60`. */
export const tailQuerySchema = z.object({
  path: z
    .string()
    .max(300)
    .regex(SHARED_FILE, "not a shared file (messages/*.jsonl, tasks/shared-tasks.md, status/*.json)"),
  lines: z.coerce.number().int().min(1).max(MAX_TAIL_LINES).default(DEFAULT_TAIL_LINES),
});
