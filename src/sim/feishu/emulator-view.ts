import type { Core } from "./core.js";
import type {
  Bot,
  BridgeInfo,
  CallRecord,
  ChatInfo,
  EmulatedMessage,
  EventRecord,
  FrameRecord,
  MessageChange,
  Principal,
} from "./types.js";

/** The read side of the emulator: identities, messages, calls, pushes, connections. */
export abstract class EmulatorView {
  protected constructor(protected readonly core: Core) {}

  /** The bridge app: credentials and its bot's identity. */
  get bridge(): BridgeInfo {
    return this.appInfo();
  }

  /** The bridge's bot as a principal (to mention it or to compare ids). */
  get bridgeBot(): Bot {
    return this.core.dir.bridge.bot;
  }

  /** Credentials and bot identity of any app (default: the bridge). */
  appInfo(appId?: string): BridgeInfo {
    const app = this.core.dir.app(appId);
    return {
      appId: app.appId,
      appSecret: app.appSecret,
      botOpenId: app.bot.openIdFor(app.appId),
      botName: app.bot.name,
      unionId: app.bot.unionId,
      verificationToken: app.verificationToken,
    };
  }

  /** A person or bot by name. */
  principal(name: string): Principal | undefined {
    return this.core.dir.principalByName(name);
  }

  chat(chatId: string): ChatInfo | undefined {
    return this.core.dir.chat(chatId);
  }

  chats(): ChatInfo[] {
    return this.core.dir.chatList();
  }

  /** Every message (of one chat), oldest first; copies. */
  messages(chatId?: string): EmulatedMessage[] {
    return this.core.store.list(chatId);
  }

  message(messageId: string): EmulatedMessage | undefined {
    return this.core.store.copy(messageId);
  }

  /** Calls `listener` after each message created and each card replaced, in any chat; returns the unsubscribe. */
  onMessageChange(listener: (change: MessageChange) => void): () => void {
    return this.core.store.onChange(listener);
  }

  /** Every Open API / endpoint call, oldest first (newest 50 000), secrets redacted. */
  get calls(): readonly CallRecord[] {
    return this.core.calls.calls;
  }

  /** Calls whose path starts with the string or matches the regex. */
  callsTo(path: string | RegExp): CallRecord[] {
    return this.core.calls.to(path);
  }

  /** Every pushed event (of one app), with its result once settled. */
  events(appId?: string): EventRecord[] {
    return this.core.dispatcher.list(appId);
  }

  /** Long-connection frames in both directions (newest 10 000). */
  get wsFrames(): readonly FrameRecord[] {
    return this.core.ws.frames;
  }

  /** Connected long-connection clients that receive events (of one app). */
  wsClients(appId?: string): number {
    return this.core.ws.count(appId);
  }

  /** Events waiting for a receiver (default: the bridge). */
  queuedEvents(appId?: string): number {
    return this.core.dispatcher.queued(this.core.dir.app(appId).appId);
  }
}
