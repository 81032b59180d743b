import { createServer, type Server } from "node:http";
import { silentLogger, type Logger } from "../../core/index.js";
import { buildCore, type CoreHooks } from "./build-core.js";
import { CardActions } from "./card-actions.js";
import { controlApi } from "./control-api.js";
import { Emitters } from "./emitters.js";
import { EmulatorView } from "./emulator-view.js";
import { createHttpApp } from "./http-app.js";
import type {
  AppScopes,
  AppSpec,
  Bot,
  DeliveryResult,
  Emitted,
  FaultSpec,
  FeishuEmulatorOptions,
  MentionTarget,
  Person,
  PostElement,
  SayOptions,
  Toast,
  WebhookConfig,
} from "./types.js";
import { challengePayload, postPush } from "./webhook-push.js";

/**
 * A loopback Feishu Open Platform that the real `@larksuiteoapi/node-sdk` talks to (set its
 * `domain` to `url`): tokens, bot info, messages with uuid dedup, threads, card patches,
 * limits, faults; events by long connection (pbbp2 frames) or signed/encrypted webhook.
 * Tests and the demo drive people, bots and chats through the methods below.
 */
export class FeishuEmulator extends EmulatorView {
  /** A group containing the bridge bot, created at start. */
  readonly defaultChat: string;
  private readonly log: Logger;
  private readonly emitters: Emitters;
  private readonly cards: CardActions;
  private readonly http: Server;
  private listenPort = 0;
  private closing?: Promise<void>;

  constructor(private readonly options: FeishuEmulatorOptions = {}) {
    const log = (options.logger ?? silentLogger()).child({ component: "feishu-emulator" });
    const hooks: CoreHooks = { baseUrl: () => "", fanout: () => ({ eventIds: {}, deliveries: {} }) };
    super(buildCore(options, log, hooks));
    this.log = log;
    this.emitters = new Emitters(this.core);
    this.cards = new CardActions(this.core);
    hooks.baseUrl = () => this.url;
    hooks.fanout = (message, content, parts) => this.emitters.fanout(message, content, parts);
    this.defaultChat = this.core.dir.createChat("clawbridge group", ["bridge"]);
    this.http = createServer(createHttpApp(this.core, [controlApi(this)]).callback());
    this.http.on("upgrade", (req, socket, head) => this.core.ws.handleUpgrade(req, socket, head));
  }

  /** Listens on 127.0.0.1; resolves once the port is known. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.options.port ?? 0, "127.0.0.1", () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    const address = this.http.address();
    this.listenPort = typeof address === "object" && address ? address.port : 0;
    this.log.info({ url: this.url, bridgeAppId: this.core.dir.bridge.appId }, "feishu emulator up");
    return this;
  }

  /** The SDK's `domain`: `http://127.0.0.1:<port>` (no trailing slash). */
  get url(): string {
    return `http://127.0.0.1:${this.listenPort}`;
  }

  get port(): number {
    return this.listenPort;
  }

  addPerson(person: { name: string }): Person {
    return this.core.dir.addPerson(person.name);
  }

  /** A node's bot: a new app of the tenant whose bot the bridge sees under a foreign open_id. */
  addBot(bot: { name: string } & Omit<AppSpec, "botName">): Bot {
    const app = this.core.dir.addApp({ ...bot, botName: bot.name }, bot.name);
    this.core.calls.addSecret(app.appSecret);
    return app.bot;
  }

  createChat(chat: { name?: string; members: MentionTarget[] }): string {
    return this.core.dir.createChat(chat.name ?? "group", chat.members);
  }

  addMembers(chatId: string, members: MentionTarget[]): void {
    this.core.dir.addMembers(chatId, members);
  }

  removeMembers(chatId: string, members: MentionTarget[]): void {
    this.core.dir.removeMembers(chatId, members);
  }

  /** Changes what an app may receive (default: the bridge). */
  setScopes(scopes: Partial<AppScopes>, appId?: string): void {
    Object.assign(this.core.dir.app(appId).scopes, scopes);
  }

  say(chatId: string, from: MentionTarget, text: string, options?: SayOptions): Emitted {
    return this.emitters.say(chatId, from, text, options);
  }

  sayPost(
    chatId: string,
    from: MentionTarget,
    post: { title?: string; paragraphs: PostElement[][] },
    options?: Omit<SayOptions, "mentions">,
  ): Emitted {
    return this.emitters.sayPost(chatId, from, post, options);
  }

  sendImage(chatId: string, from: MentionTarget, options?: Omit<SayOptions, "mentions">): Emitted {
    return this.emitters.sendImage(chatId, from, options);
  }

  sendFile(
    chatId: string,
    from: MentionTarget,
    name: string,
    options?: Omit<SayOptions, "mentions">,
  ): Emitted {
    return this.emitters.sendFile(chatId, from, name, options);
  }

  clickCard(
    messageId: string,
    operator: Person,
    value: unknown,
    options?: { tag?: string; name?: string },
  ): Emitted {
    return this.cards.click(messageId, operator, value, options);
  }

  submitForm(
    messageId: string,
    operator: Person,
    formValue: Record<string, unknown>,
    options?: { name?: string },
  ): Emitted {
    return this.cards.submit(messageId, operator, formValue, options);
  }

  /** The toast of the newest card-action answer that had one. */
  get lastToast(): Toast | undefined {
    return this.cards.lastToast;
  }

  redeliver(eventId: string): Emitted {
    return this.emitters.redeliver(eventId);
  }

  duplicateUnderNewId(eventId: string): Emitted {
    return this.emitters.duplicateUnderNewId(eventId);
  }

  /** Pushes that app's events (default: the bridge) by HTTP POST from now on; queued ones follow. */
  useWebhook(config: WebhookConfig): void;
  useWebhook(appId: string, config: WebhookConfig): void;
  useWebhook(a: string | WebhookConfig, b?: WebhookConfig): void {
    const app = typeof a === "string" ? this.core.dir.app(a) : this.core.dir.bridge;
    const config = typeof a === "string" ? b! : a;
    app.webhook = { ...config };
    if (config.verificationToken) app.verificationToken = config.verificationToken;
    this.core.dispatcher.flush(app);
  }

  /** Back to the long connection (the default). */
  useLongConnection(appId?: string): void {
    const app = this.core.dir.app(appId);
    delete app.webhook;
    this.core.dispatcher.flush(app);
  }

  /**
   * Sends the `url_verification` request to the app's eventsUrl (encrypted when it has a
   * key; unsigned unless `signed`, see `challengePayload`).
   */
  async challengeWebhook(
    appId?: string,
    options: { signed?: boolean } = {},
  ): Promise<DeliveryResult & { via: "webhook"; challenge: string }> {
    const app = this.core.dir.app(appId);
    if (!app.webhook) throw new Error(`app ${app.appId} has no webhook (call useWebhook first)`);
    const payload = challengePayload(app.webhook, app.verificationToken);
    const timeoutMs = this.options.ackTimeoutMs ?? 3000;
    const result = await postPush(
      app.webhook.eventsUrl,
      app.webhook,
      payload,
      timeoutMs,
      options.signed ?? false,
    );
    return { ...result, challenge: payload.challenge };
  }

  /** Queues a one-shot fault (see `FaultSpec`). */
  fault(spec: FaultSpec): void {
    this.core.faults.add(spec);
  }

  /** Adds latency to every Open API / endpoint call (0 = none). */
  setLatency(ms: number): void {
    this.core.faults.latencyMs = Math.max(0, ms);
  }

  /** Removes queued faults and the global latency. */
  clearFaults(): void {
    this.core.faults.clear();
  }

  /** Terminates long connections (of one app); the SDK reconnects by itself. */
  dropLongConnections(appId?: string): void {
    this.core.ws.drop(appId);
  }

  /**
   * The long connections open now (of one app) go silent, as a half-open link does: open,
   * but no pong, event or ack gets through either way. Connections made later work.
   * Returns how many went silent.
   */
  silenceLongConnections(appId?: string): number {
    return this.core.ws.silence(appId);
  }

  /**
   * Changes the `ClientConfig` later endpoint answers and pongs hand out (seconds, as
   * Feishu's): the SDK picks it up on its next connection or pong.
   */
  setLongConnectionConfig(config: {
    pingIntervalSec?: number;
    reconnectIntervalSec?: number;
    reconnectNonceSec?: number;
    reconnectCount?: number;
  }): void {
    this.core.setClientConfig({
      ...(config.pingIntervalSec !== undefined ? { PingInterval: config.pingIntervalSec } : {}),
      ...(config.reconnectIntervalSec !== undefined
        ? { ReconnectInterval: config.reconnectIntervalSec }
        : {}),
      ...(config.reconnectNonceSec !== undefined ? { ReconnectNonce: config.reconnectNonceSec } : {}),
      ...(config.reconnectCount !== undefined ? { ReconnectCount: config.reconnectCount } : {}),
    });
  }

  /** Invalidates issued tenant tokens (of one app): later calls answer 99991663. */
  revokeTokens(appId?: string): void {
    this.core.tokens.revoke(appId);
  }

  /** Empties the rate-limit windows (between test phases). */
  resetLimits(): void {
    for (const window of Object.values(this.core.windows)) window.clear();
  }

  /** Terminates sockets and closes the server; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.core.ws.close();
      this.core.dispatcher.close();
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
      this.log.info("feishu emulator closed");
    })();
    return this.closing;
  }
}

/** Starts an emulator on 127.0.0.1 (port 0 by default → see `url`). */
export function startFeishuEmulator(options?: FeishuEmulatorOptions): Promise<FeishuEmulator> {
  return new FeishuEmulator(options).listen();
}
