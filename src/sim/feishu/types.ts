import type { Logger } from "../../core/index.js";

/** Feishu's limits as the emulator enforces them; `Infinity` disables one. */
export interface FeishuLimits {
  /** Sends + replies per chat in a sliding 1 s window, shared by every bot in the chat (code 230020). */
  sendPerChatQps: number;
  /** Patches per message in a sliding 1 s window (code 230020). */
  patchPerMessageQps: number;
  /** Open API calls per app in a sliding 1 s window, token calls excluded (code 99991400). */
  appQps: number;
  /** Bytes of a `text` or `post` message's `content` string (code 230025). */
  textMaxBytes: number;
  /** Bytes of an `interactive` message's `content` string (code 230025). */
  cardMaxBytes: number;
}

/** What an app is allowed to receive (the two scopes that matter to a group bot). */
export interface AppScopes {
  /** `im:message.group_msg`: every group message, not only those that @mention the bot. Default true. */
  groupMsg: boolean;
  /** `im:message.group_at_msg.include_bot:readonly`: other bots' messages that @mention it. Default true. */
  includeBotAtMsg: boolean;
}

/** One app of the emulated tenant; every field has a random default. */
export interface AppSpec {
  /** `cli_` + 16 hex (the SDK's WSClient refuses anything else). */
  appId?: string;
  appSecret?: string;
  /** The bot's name (`app_name` of bot info). */
  botName?: string;
  /** `header.token` of every event; default random. */
  verificationToken?: string;
  scopes?: Partial<AppScopes>;
}

export interface FeishuEmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  logger?: Logger;
  /** The first app is the bridge. Default: one app with bot name "clawbridge". */
  apps?: AppSpec[];
  limits?: Partial<FeishuLimits>;
  /**
   * HTTP status of the app-wide rate limit answer (code 99991400). Default 429 as in
   * FEISHU-PLATFORM.md; the SDK's own API docs say 400 for many APIs, so a client must key
   * on the code, and tests can switch this to 400 to prove it does.
   */
  appLimitHttpStatus?: 400 | 429;
  /** `ClientConfig.PingInterval` (s) given to long-connection clients. Default 120. */
  pingIntervalSec?: number;
  /** `ClientConfig.ReconnectInterval` (s). Default 5 (real Feishu: 120) so tests recover fast. */
  reconnectIntervalSec?: number;
  /** `ClientConfig.ReconnectNonce` (s): random delay before the first reconnect. Default 0. */
  reconnectNonceSec?: number;
  /** `ClientConfig.ReconnectCount`; -1 = forever (default). */
  reconnectCount?: number;
  /**
   * Which long-connection client of an app gets each event: `"random"` as Feishu does (cluster
   * mode: one random client), or `"rotate"` (default) in turn, so a test knows which one.
   */
  eventDelivery?: "rotate" | "random";
  /** Split event payloads larger than this many bytes into multi-part frames; 0 (default) = never. */
  fragmentBytes?: number;
  /** How long a pushed event waits for its ack / webhook answer. Default 3000 (Feishu's 3 s). */
  ackTimeoutMs?: number;
  /** Events kept per app while it has no receiver (oldest dropped first). Default 1000. */
  maxQueuedEvents?: number;
  /** `expire` of issued tenant tokens (s). Default 7200. */
  tokenExpireSec?: number;
}

/** Someone or something that can speak in a chat. */
interface PrincipalBase {
  readonly name: string;
  /** `on_…`: the same in every app of the tenant. */
  readonly unionId: string;
  /** `ou_…`: differs per app. */
  openIdFor(appId: string): string;
}

/** A human member of the tenant. */
export interface Person extends PrincipalBase {
  readonly kind: "person";
  readonly userId: string;
}

/** An app's bot (the bridge's or a node's). */
export interface Bot extends PrincipalBase {
  readonly kind: "bot";
  readonly appId: string;
  readonly appSecret: string;
}

export type Principal = Person | Bot;
/** A mention target; "bridge" is the bridge app's bot. */
export type MentionTarget = Principal | "bridge";

/** The bridge app as tests need it. */
export interface BridgeInfo {
  appId: string;
  appSecret: string;
  /** The bot's open_id as the bridge app itself sees it (bot info). */
  botOpenId: string;
  botName: string;
  unionId: string;
  verificationToken: string;
}

/** One change of a card after it was sent. */
export interface PatchRecord {
  at: number;
  /** PATCH by the API, or the `card` of a card-action answer. */
  via: "api" | "callback";
  content: unknown;
}

/** A message created or a card replaced (see `onMessageChange`); read the message itself with `message(id)`. */
export interface MessageChange {
  kind: "created" | "patched";
  messageId: string;
  chatId: string;
}

/** One message in the emulated tenant (a copy; `content` is parsed JSON). */
export interface EmulatedMessage {
  messageId: string;
  chatId: string;
  msgType: string;
  /** Current content; for a patched card the newest card. */
  content: unknown;
  /** For text messages: the text with `@_user_N` keys replaced by `@Name`. */
  text?: string;
  /** Sent through the Open API by this app, or emitted as this bot. */
  senderAppId?: string;
  /** Emitted as this person (name). */
  senderPerson?: string;
  senderUnionId: string;
  /** Whether the message came through the Open API or was emitted by the emulator. */
  origin: "api" | "emulated";
  uuid?: string;
  parentId?: string;
  rootId?: string;
  threadId?: string;
  /** Mentioned principals (union ids), in key order. */
  mentions: string[];
  /** `config.update_multi === true` on an interactive card. */
  updateMulti: boolean;
  patches: PatchRecord[];
  createdAt: number;
  updatedAt: number;
}

export interface ChatInfo {
  chatId: string;
  name: string;
  /** Union ids of the members (people and bots). */
  members: string[];
  ownerUnionId: string;
}

/** What happened to one pushed event. */
export type DeliveryResult =
  | {
      via: "websocket";
      /** `code` of the ack payload (200, or 500 when the handler threw); 0 without ack. */
      code: number;
      /** Decoded JSON of the ack's base64 `data` (the handler's return value). */
      data?: unknown;
      ms: number;
      timedOut?: boolean;
      /** The frame `message_id` header. */
      frameMessageId?: string;
    }
  | {
      via: "webhook";
      /** HTTP status; 0 when the request failed or timed out. */
      status: number;
      /** The answer: parsed JSON, else text. */
      body: unknown;
      ms: number;
      timedOut?: boolean;
      error?: string;
    }
  | { via: "none"; reason: string };

/** What an emit call returns; `delivered` concerns the bridge app. */
export interface Emitted {
  eventId: string;
  messageId: string;
  delivered: Promise<DeliveryResult>;
  /** Every app the event went to (bridge included), by app id. */
  deliveries: Record<string, Promise<DeliveryResult>>;
}

/** One pushed event, for inspection. */
export interface EventRecord {
  eventId: string;
  appId: string;
  eventType: string;
  messageId?: string;
  at: number;
  result?: DeliveryResult;
  /** The schema 2.0 envelope as pushed. */
  envelope: unknown;
}

/** One Open API / endpoint request (secrets replaced by "[REDACTED]"). */
export interface CallRecord {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  appId?: string;
  body: unknown;
  status: number;
  /** `code` of the JSON answer. */
  code?: number;
  /** Set when an injected fault answered (or rewrote) this call. */
  faulted?: boolean;
}

/** A one-shot fault, matched against calls in queue order. */
export interface FaultSpec {
  method?: string;
  /** A string matches as a path prefix. */
  path?: string | RegExp;
  /** Answer with this status (429, 500, 502, 503…). Without it the fault only adds latency. */
  status?: number;
  /** Default 99991400 for 429, 1 otherwise. */
  code?: number;
  msg?: string;
  /** `x-ogw-ratelimit-reset` of a 429 (s). Default 1. */
  resetSec?: number;
  /** How many matching calls it hits (default 1; unlimited within `forMs`). */
  times?: number;
  /**
   * A storm: the fault hits every matching call for this long after it was queued (at most
   * `times` of them when that is given too), then it is gone.
   */
  forMs?: number;
  latencyMs?: number;
  /** Run the call (e.g. create the message) and answer `status` (default 500) anyway. */
  commitThenFail?: boolean;
}

/** Where one app's pushes go when it uses webhooks. */
export interface WebhookConfig {
  eventsUrl: string;
  /** `card.action.trigger` goes here (falls back to eventsUrl). */
  cardsUrl?: string;
  encryptKey?: string;
  verificationToken?: string;
}

/** A long-connection frame as seen on the wire (for tests). */
export interface FrameRecord {
  at: number;
  dir: "in" | "out";
  appId: string;
  connId: string;
  method: number;
  headers: Record<string, string>;
  /** UTF-8 payload (truncated to 4 KiB). */
  payload?: string;
}

/** A card-action answer's toast. */
export interface Toast {
  type?: string;
  content?: string;
  [key: string]: unknown;
}

/** Post paragraph element for `sayPost`. */
export type PostElement =
  | { tag: "text"; text: string }
  | { tag: "at"; who: MentionTarget }
  | { tag: "a"; text: string; href: string }
  | { tag: "img"; image_key: string };

export interface SayOptions {
  /** Mentioned, in order, as `@_user_1 @_user_2 ` before the text. */
  mentions?: MentionTarget[];
  parentId?: string;
  rootId?: string;
  threadId?: string;
  /** Split the long-connection payload into this many frames. */
  parts?: number;
}
