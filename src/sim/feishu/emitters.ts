import type { Core, Fanout } from "./core.js";
import { mentionKey, messageEvent, notDeliverable, type Envelope } from "./event-builder.js";
import { newIds } from "./ids.js";
import type {
  DeliveryResult,
  EmulatedMessage,
  Emitted,
  MentionTarget,
  PostElement,
  Principal,
  SayOptions,
} from "./types.js";

/**
 * Messages that people and bots post in the emulated groups, turned into
 * `im.message.receive_v1` pushes for every app that would receive them.
 */
export class Emitters {
  constructor(private readonly core: Core) {}

  /** Pushes `message` to each app that receives it; the bridge always gets an entry. */
  fanout(message: EmulatedMessage, eventContent: unknown, parts?: number): Fanout {
    const { dir, dispatcher } = this.core;
    const eventIds: Record<string, string> = {};
    const deliveries: Record<string, Promise<DeliveryResult>> = {};
    for (const app of dir.apps.values()) {
      const reason = notDeliverable(dir, app, message);
      if (reason) {
        if (app === dir.bridge) deliveries[app.appId] = Promise.resolve({ via: "none", reason });
        continue;
      }
      const envelope = messageEvent(dir, app, message, eventContent);
      eventIds[app.appId] = envelope.header.event_id;
      deliveries[app.appId] = dispatcher.deliver(app, envelope, { parts, messageId: message.messageId });
    }
    return { eventIds, deliveries };
  }

  /**
   * A text message. Each of `options.mentions` is put in front of the text, in order, as
   * `@_user_1 @_user_2 <text>` (how "@bot do this" reads), and listed in `mentions`.
   */
  say(chatId: string, from: MentionTarget, text: string, options: SayOptions = {}): Emitted {
    const mentioned = this.unique(options.mentions ?? []);
    const keys = mentioned.map((_, i) => mentionKey(i + 1));
    const content = { text: [...keys, text].filter((s) => s !== "").join(" ") };
    const readable = [...mentioned.map((p) => `@${p.name}`), text].filter((s) => s !== "").join(" ");
    return this.post(chatId, from, "text", content, content, mentioned, options, readable);
  }

  /** A rich-text post; `at` elements become `@_user_N` mentions in order of appearance. */
  sayPost(
    chatId: string,
    from: MentionTarget,
    post: { title?: string; paragraphs: PostElement[][] },
    options: Omit<SayOptions, "mentions"> = {},
  ): Emitted {
    const mentioned = this.unique(post.paragraphs.flat().flatMap((el) => (el.tag === "at" ? [el.who] : [])));
    const paragraphs = post.paragraphs.map((paragraph) =>
      paragraph.map((el) => {
        if (el.tag !== "at") return { ...el };
        const who = this.core.dir.resolve(el.who);
        const n = mentioned.findIndex((p) => p.unionId === who.unionId) + 1;
        return { tag: "at", user_id: mentionKey(n), user_name: who.name };
      }),
    );
    const content = { title: post.title ?? "", content: paragraphs };
    return this.post(chatId, from, "post", content, content, mentioned, options);
  }

  sendImage(chatId: string, from: MentionTarget, options: Omit<SayOptions, "mentions"> = {}): Emitted {
    const content = { image_key: newIds.imageKey() };
    return this.post(chatId, from, "image", content, content, [], options);
  }

  sendFile(
    chatId: string,
    from: MentionTarget,
    name: string,
    options: Omit<SayOptions, "mentions"> = {},
  ): Emitted {
    const content = { file_key: newIds.fileKey(), file_name: name };
    return this.post(chatId, from, "file", content, content, [], options);
  }

  /** The same event again under the same event_id (Feishu's retry). */
  redeliver(eventId: string): Emitted {
    return this.again(eventId, (envelope) => envelope);
  }

  /** The same message (same message_id, content, sender) under a new event_id. */
  duplicateUnderNewId(eventId: string): Emitted {
    return this.again(eventId, (envelope) => ({
      ...envelope,
      header: { ...envelope.header, event_id: newIds.event(), create_time: String(Date.now()) },
    }));
  }

  private again(eventId: string, transform: (envelope: Envelope) => Envelope): Emitted {
    const record = this.core.dispatcher.get(eventId);
    if (!record) throw new Error(`unknown event ${eventId}`);
    const app = this.core.dir.app(record.appId);
    const envelope = transform(structuredClone(record.envelope as Envelope));
    const delivered = this.core.dispatcher.deliver(app, envelope, { messageId: record.messageId });
    return {
      eventId: envelope.header.event_id,
      messageId: record.messageId ?? "",
      delivered,
      deliveries: { [app.appId]: delivered },
    };
  }

  private post(
    chatId: string,
    from: MentionTarget,
    msgType: string,
    content: unknown,
    eventContent: unknown,
    mentioned: Principal[],
    options: Omit<SayOptions, "mentions">,
    text?: string,
  ): Emitted {
    const { dir, store } = this.core;
    if (!dir.hasChat(chatId)) throw new Error(`unknown chat ${chatId}`);
    const sender = dir.resolve(from);
    const parent = options.parentId ? store.get(options.parentId) : undefined;
    const message = store.create({
      chatId,
      msgType,
      content,
      ...(text !== undefined ? { text } : {}),
      ...(sender.kind === "bot" ? { senderAppId: sender.appId } : { senderPerson: sender.name }),
      senderUnionId: sender.unionId,
      origin: "emulated",
      parentId: options.parentId,
      rootId: options.rootId ?? parent?.rootId ?? parent?.messageId,
      threadId: options.threadId ?? parent?.threadId,
      mentions: mentioned.map((p) => p.unionId),
      updateMulti: false,
    });
    const fan = this.fanout(message, eventContent, options.parts);
    const bridgeId = dir.bridge.appId;
    return {
      eventId: fan.eventIds[bridgeId] ?? Object.values(fan.eventIds)[0] ?? "",
      messageId: message.messageId,
      delivered: fan.deliveries[bridgeId]!,
      deliveries: fan.deliveries,
    };
  }

  private unique(targets: MentionTarget[]): Principal[] {
    const out: Principal[] = [];
    for (const target of targets) {
      const who = this.core.dir.resolve(target);
      if (!out.some((p) => p.unionId === who.unionId)) out.push(who);
    }
    return out;
  }
}
