import { z } from "zod";

/**
 * The event payloads the bridge handles, as the SDK's dispatcher hands them over
 * (schema 2.0 with `header` and `event` merged into one object). Loose objects: Feishu
 * adds fields over time and they must not break intake.
 */
const idsSchema = z.looseObject({
  open_id: z.string().optional(),
  union_id: z.string().optional(),
  user_id: z.string().nullish(),
});

export const mentionSchema = z.looseObject({
  key: z.string(),
  id: idsSchema.optional(),
  name: z.string().default(""),
});

export const messageEventSchema = z.looseObject({
  event_id: z.string().min(1),
  event_type: z.literal("im.message.receive_v1"),
  sender: z.looseObject({
    sender_id: idsSchema.optional(),
    sender_type: z.string().default("user"),
  }),
  message: z.looseObject({
    message_id: z.string().min(1),
    root_id: z.string().optional(),
    parent_id: z.string().optional(),
    thread_id: z.string().optional(),
    create_time: z.string().optional(),
    chat_id: z.string().min(1),
    chat_type: z.string().default("group"),
    message_type: z.string(),
    content: z.string().default("{}"),
    mentions: z.array(mentionSchema).nullish(),
  }),
});
export type MessageEvent = z.infer<typeof messageEventSchema>;

export const cardActionEventSchema = z.looseObject({
  event_id: z.string().min(1),
  event_type: z.literal("card.action.trigger"),
  operator: idsSchema,
  token: z.string().optional(),
  action: z.looseObject({
    tag: z.string().default(""),
    value: z.unknown().optional(),
    name: z.string().optional(),
    form_value: z.record(z.string(), z.unknown()).optional(),
    option: z.string().optional(),
    input_value: z.string().optional(),
  }),
  context: z
    .looseObject({
      open_message_id: z.string().optional(),
      open_chat_id: z.string().optional(),
    })
    .optional(),
});
export type CardActionPayload = z.infer<typeof cardActionEventSchema>;

/** One element of a `post` paragraph. */
export const postElementSchema = z.looseObject({
  tag: z.string(),
  text: z.string().optional(),
  href: z.string().optional(),
  user_id: z.string().optional(),
  user_name: z.string().optional(),
  image_key: z.string().optional(),
  file_key: z.string().optional(),
  emoji_type: z.string().optional(),
  language: z.string().optional(),
});
export type PostElement = z.infer<typeof postElementSchema>;
