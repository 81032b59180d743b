import { newIds } from "./ids.js";

interface Issued {
  appId: string;
  expiresAt: number;
}

/** Feishu hands out a new token once the current one has less than 30 minutes left. */
const REISSUE_BELOW_MS = 30 * 60_000;

/** Tenant (and app) access tokens: issue, resolve, revoke. */
export class TokenBook {
  private readonly tokens = new Map<string, Issued>();
  private readonly current = new Map<string, string>();

  constructor(private readonly expireSec: number) {}

  /** The app's current token while it has 30 min left, else a new one; `expire` in seconds. */
  issue(
    appId: string,
    kind: "tenant" | "app" = "tenant",
    now = Date.now(),
  ): { token: string; expire: number } {
    const key = `${kind} ${appId}`;
    const existing = this.current.get(key);
    const issued = existing ? this.tokens.get(existing) : undefined;
    if (existing && issued && issued.expiresAt - now > Math.min(REISSUE_BELOW_MS, this.expireSec * 500)) {
      return { token: existing, expire: Math.floor((issued.expiresAt - now) / 1000) };
    }
    const token = kind === "tenant" ? newIds.tenantToken() : newIds.appToken();
    this.tokens.set(token, { appId, expiresAt: now + this.expireSec * 1000 });
    this.current.set(key, token);
    return { token, expire: this.expireSec };
  }

  /** The app a valid token belongs to. */
  appOf(token: string, now = Date.now()): string | undefined {
    const issued = this.tokens.get(token);
    if (!issued) return undefined;
    if (issued.expiresAt <= now) {
      this.tokens.delete(token);
      return undefined;
    }
    return issued.appId;
  }

  /** The app a token was issued to, valid or not (for the call log). */
  ownerOf(token: string): string | undefined {
    return this.tokens.get(token)?.appId;
  }

  /** Invalidates every token of the app (or all): later calls get 99991663. */
  revoke(appId?: string): void {
    for (const issued of this.tokens.values()) {
      if (!appId || issued.appId === appId) issued.expiresAt = 0;
    }
    for (const key of [...this.current.keys()])
      if (!appId || key.endsWith(` ${appId}`)) this.current.delete(key);
  }
}
