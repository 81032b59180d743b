import { alnum, hex, newIds, openIdFor } from "./ids.js";
import type {
  AppScopes,
  AppSpec,
  Bot,
  ChatInfo,
  MentionTarget,
  Person,
  Principal,
  WebhookConfig,
} from "./types.js";

const APP_ID = /^cli_[0-9a-fA-F]{16}$/;

/** One app of the tenant with its bot and how its events travel. */
export interface AppState {
  appId: string;
  appSecret: string;
  bot: Bot;
  scopes: AppScopes;
  verificationToken: string;
  /** Set while the app receives pushes by webhook; otherwise the long connection. */
  webhook?: WebhookConfig;
}

interface Chat {
  chatId: string;
  name: string;
  members: Set<string>;
  ownerUnionId: string;
  createdAt: number;
}

/**
 * Who exists in the emulated tenant: apps (each with its bot), people, chats. Identity
 * follows Feishu: a union_id is tenant-wide, an open_id is per app.
 */
export class Directory {
  readonly tenantKey = newIds.tenantKey();
  readonly apps = new Map<string, AppState>();
  private readonly salt = hex(16);
  private readonly principals = new Map<string, Principal>();
  private readonly byName = new Map<string, Principal>();
  private readonly byOpenId = new Map<string, Principal>();
  private readonly chats = new Map<string, Chat>();
  private bridgeAppId = "";

  /** Adds an app and its bot; the first app added is the bridge. */
  addApp(spec: AppSpec = {}, defaultName = "clawbridge"): AppState {
    const appId = spec.appId ?? newIds.appId();
    if (!APP_ID.test(appId)) throw new Error(`app id must be cli_ + 16 hex characters: ${appId}`);
    if (this.apps.has(appId)) throw new Error(`app ${appId} exists`);
    const appSecret = spec.appSecret ?? newIds.appSecret();
    const bot: Bot = {
      kind: "bot",
      name: spec.botName ?? defaultName,
      unionId: newIds.union(),
      appId,
      appSecret,
      openIdFor: (forApp) => this.openId(forApp, bot.unionId),
    };
    const app: AppState = {
      appId,
      appSecret,
      bot,
      scopes: { groupMsg: true, includeBotAtMsg: true, ...spec.scopes },
      verificationToken: spec.verificationToken ?? alnum(32),
    };
    this.apps.set(appId, app);
    this.register(bot);
    if (!this.bridgeAppId) this.bridgeAppId = appId;
    return app;
  }

  get bridge(): AppState {
    return this.app(this.bridgeAppId);
  }

  app(appId?: string): AppState {
    const app = this.apps.get(appId ?? this.bridgeAppId);
    if (!app) throw new Error(`unknown app ${appId}`);
    return app;
  }

  addPerson(name: string): Person {
    const person: Person = {
      kind: "person",
      name,
      unionId: newIds.union(),
      userId: newIds.userId(),
      openIdFor: (appId) => this.openId(appId, person.unionId),
    };
    this.register(person);
    return person;
  }

  /** The open_id `appId` sees for the principal with `unionId` (indexed for reverse lookup). */
  openId(appId: string, unionId: string): string {
    const id = openIdFor(this.salt, appId, unionId);
    const principal = this.principals.get(unionId);
    if (principal && !this.byOpenId.has(`${appId} ${id}`)) this.byOpenId.set(`${appId} ${id}`, principal);
    return id;
  }

  /** Resolves an open_id as seen by `appId`. */
  principalByOpenId(appId: string, openId: string): Principal | undefined {
    const hit = this.byOpenId.get(`${appId} ${openId}`);
    if (hit) return hit;
    for (const principal of this.principals.values()) {
      if (this.openId(appId, principal.unionId) === openId) return principal;
    }
    return undefined;
  }

  principal(unionId: string): Principal | undefined {
    return this.principals.get(unionId);
  }

  principalByName(name: string): Principal | undefined {
    return this.byName.get(name);
  }

  resolve(target: MentionTarget): Principal {
    return target === "bridge" ? this.bridge.bot : target;
  }

  createChat(name: string, members: MentionTarget[], chatId = newIds.chat()): string {
    const unionIds = members.map((m) => this.resolve(m).unionId);
    this.chats.set(chatId, {
      chatId,
      name,
      members: new Set(unionIds),
      ownerUnionId: unionIds.find((u) => this.principals.get(u)?.kind === "person") ?? unionIds[0] ?? "",
      createdAt: Date.now(),
    });
    return chatId;
  }

  addMembers(chatId: string, members: MentionTarget[]): void {
    const chat = this.mustChat(chatId);
    for (const m of members) chat.members.add(this.resolve(m).unionId);
  }

  removeMembers(chatId: string, members: MentionTarget[]): void {
    const chat = this.mustChat(chatId);
    for (const m of members) chat.members.delete(this.resolve(m).unionId);
  }

  hasChat(chatId: string): boolean {
    return this.chats.has(chatId);
  }

  isMember(chatId: string, unionId: string): boolean {
    return this.chats.get(chatId)?.members.has(unionId) ?? false;
  }

  chat(chatId: string): ChatInfo | undefined {
    const chat = this.chats.get(chatId);
    if (!chat) return undefined;
    return { chatId, name: chat.name, members: [...chat.members], ownerUnionId: chat.ownerUnionId };
  }

  chatList(): ChatInfo[] {
    return [...this.chats.keys()].map((id) => this.chat(id)!);
  }

  /** Apps whose bot is a member of the chat. */
  memberApps(chatId: string): AppState[] {
    return [...this.apps.values()].filter((app) => this.isMember(chatId, app.bot.unionId));
  }

  private mustChat(chatId: string): Chat {
    const chat = this.chats.get(chatId);
    if (!chat) throw new Error(`unknown chat ${chatId}`);
    return chat;
  }

  private register(principal: Principal): void {
    if (this.byName.has(principal.name)) throw new Error(`a person or bot named "${principal.name}" exists`);
    this.principals.set(principal.unionId, principal);
    this.byName.set(principal.name, principal);
  }
}
