import type { FeishuLimits } from "./types.js";

/**
 * Feishu's documented limits. What happens when one is hit:
 *
 * | limit               | key                     | answer                                               |
 * |---------------------|-------------------------|------------------------------------------------------|
 * | sendPerChatQps 5    | chat (shared by bots)   | HTTP 400, code 230020                                 |
 * | patchPerMessageQps 5| message                 | HTTP 400, code 230020                                 |
 * | appQps 50           | app, every Open API call except auth | HTTP 429 (option: 400), code 99991400,   |
 * |                     |                         | `x-ogw-ratelimit-limit`, `x-ogw-ratelimit-reset` (s, ≥ 1) |
 * | textMaxBytes 150 KiB| text/post content bytes | HTTP 400, code 230025                                 |
 * | cardMaxBytes 30 KiB | card content bytes      | HTTP 400, code 230025                                 |
 *
 * Windows are sliding, 1 s long, and count only admitted calls (a refused call does not
 * push the window further out). The per-chat window is shared by every bot in the chat
 * ("群内机器人共享 5 QPS" in the SDK's docs), so the bridge also feels nodes' bots.
 */
export const DEFAULT_LIMITS: FeishuLimits = {
  sendPerChatQps: 5,
  patchPerMessageQps: 5,
  appQps: 50,
  textMaxBytes: 150 * 1024,
  cardMaxBytes: 30 * 1024,
};

export const WINDOW_MS = 1000;

export type Admission = { ok: true } | { ok: false; resetMs: number };

/** Sliding-window counters by key; `Infinity` admits everything without bookkeeping. */
export class SlidingWindows {
  private readonly hits = new Map<string, number[]>();
  private sweepAt = 0;

  /** Admits (and counts) one call under `key` unless `limit` calls happened within the window. */
  take(key: string, limit: number, now = Date.now()): Admission {
    if (!Number.isFinite(limit)) return { ok: true };
    this.sweep(now);
    let list = this.hits.get(key);
    if (!list) {
      list = [];
      this.hits.set(key, list);
    }
    while (list.length > 0 && list[0]! <= now - WINDOW_MS) list.shift();
    if (list.length >= limit) return { ok: false, resetMs: list[0]! + WINDOW_MS - now };
    list.push(now);
    return { ok: true };
  }

  clear(): void {
    this.hits.clear();
  }

  // Keys of idle chats/messages would otherwise accumulate over a long benchmark.
  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 10 * WINDOW_MS;
    for (const [key, list] of this.hits) {
      if (list.length === 0 || list[list.length - 1]! <= now - WINDOW_MS) this.hits.delete(key);
    }
  }
}

/** `x-ogw-ratelimit-reset`: whole seconds until the window frees a slot, at least 1. */
export function resetSeconds(resetMs: number): number {
  return Math.max(1, Math.ceil(resetMs / 1000));
}
