import { randomUUID } from "node:crypto";
import { contentHash } from "../core/index.js";
import { runScript, type LuaScript } from "./lua-script.js";
import type { RedisStore } from "./redis-client.js";

/** The verdicts of feishu's `EventDedup` (matched structurally: cluster/ does not import feishu/). */
export type SharedDedupVerdict = "claimed" | "duplicate" | "inflight";

/** The shape of feishu's `DedupKey`. */
export interface SharedDedupKey {
  eventId: string;
  messageId?: string;
  content?: { senderId: string; chatId: string; text: string };
}

export interface SharedEventDedupOptions {
  /**
   * How long a claim holds without a commit or release. A replica that died mid-handler
   * leaves its claim behind; once it expires, Feishu's next retry of the event is handled.
   * Default 60 s.
   */
  inflightMs?: number;
  /** The same text from the same sender in the same chat under another id; default 10 s (feishu's `CONTENT_WINDOW_MS`). */
  windowMs?: number;
  /** How long a handled event's ids are remembered; default 7 days (Feishu retries for hours, not days). */
  doneMs?: number;
}

const DEFAULT_INFLIGHT_MS = 60_000;
const DEFAULT_WINDOW_MS = 10_000;
const DEFAULT_DONE_MS = 7 * 24 * 3_600_000;

// KEYS: a done key and an inflight key per id (done1, inflight1, done2, inflight2), then the
// content key when there is one. ARGV: number of ids, owner, inflightMs, windowMs, the
// message's own id. The content key holds the id of the message that set it: the same message
// coming back (a retry after its claimer died) is not a duplicate of itself.
const CLAIM: LuaScript = {
  name: "clawbridgeDedupClaim",
  keys: "any",
  lua: `
local n = tonumber(ARGV[1])
for i = 1, n do
  if redis.call("EXISTS", KEYS[2 * i - 1]) == 1 then return "duplicate" end
end
for i = 1, n do
  if redis.call("EXISTS", KEYS[2 * i]) == 1 then return "inflight" end
end
local content = KEYS[2 * n + 1]
if content then
  local seen = redis.call("GET", content)
  if seen and seen ~= ARGV[5] then return "duplicate" end
  -- The window runs from the first sighting, as in feishu's EventDedup.
  if not seen then redis.call("SET", content, ARGV[5], "PX", ARGV[4]) end
end
for i = 1, n do
  redis.call("SET", KEYS[2 * i], ARGV[2], "PX", ARGV[3])
end
return "claimed"
`,
};

// Claims are deleted only by their owner: one whose claim expired and was taken by another
// replica must not free that replica's claim when it finally finishes.
// KEYS as for the claim; ARGV: number of ids, owner, doneMs.
const COMMIT: LuaScript = {
  name: "clawbridgeDedupCommit",
  keys: "any",
  lua: `
local n = tonumber(ARGV[1])
for i = 1, n do
  redis.call("SET", KEYS[2 * i - 1], "1", "PX", ARGV[3])
  if redis.call("GET", KEYS[2 * i]) == ARGV[2] then redis.call("DEL", KEYS[2 * i]) end
end
return 0
`,
};

// KEYS as for the claim; ARGV: number of ids, owner, the message's own id.
const RELEASE: LuaScript = {
  name: "clawbridgeDedupRelease",
  keys: "any",
  lua: `
local n = tonumber(ARGV[1])
local owned = redis.call("GET", KEYS[2]) == ARGV[2]
for i = 1, n do
  if redis.call("GET", KEYS[2 * i]) == ARGV[2] then redis.call("DEL", KEYS[2 * i]) end
end
local content = KEYS[2 * n + 1]
if owned and content and redis.call("GET", content) == ARGV[3] then redis.call("DEL", content) end
return 0
`,
};

/**
 * Feishu's duplicate protection shared by every replica: with the long connection Feishu
 * hands each event to one random client of the app, and webhook requests reach any replica,
 * so a retry may land anywhere. The same contract as feishu's `EventDedup` — claim before
 * handling, commit after, release on failure — with each step one atomic script in Redis.
 *
 * Keys, all with expiry: `feishu:dedup:done:<id>`, `feishu:dedup:inflight:<id>` (ids are
 * `e:<event_id>` and `m:<message_id>`) and `feishu:dedup:content:<hash>` (sender + chat +
 * text).
 */
export class SharedEventDedup {
  /** Marks this instance's claims, so only it deletes them. */
  private readonly owner = randomUUID();
  private readonly inflightMs: number;
  private readonly windowMs: number;
  private readonly doneMs: number;

  constructor(
    private readonly store: RedisStore,
    options: SharedEventDedupOptions = {},
  ) {
    this.inflightMs = options.inflightMs ?? DEFAULT_INFLIGHT_MS;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.doneMs = options.doneMs ?? DEFAULT_DONE_MS;
  }

  /** Nothing to load: the state is in Redis. */
  async load(): Promise<void> {}

  async claim(key: SharedDedupKey): Promise<SharedDedupVerdict> {
    const ids = idsOf(key);
    const keys = [...this.idKeys(ids), ...(key.content ? [this.contentKey(key.content)] : [])];
    const verdict = await runScript(this.store.client, CLAIM, keys, [
      ids.length,
      this.owner,
      this.inflightMs,
      this.windowMs,
      ownId(key),
    ]);
    if (verdict === "claimed" || verdict === "duplicate" || verdict === "inflight") return verdict;
    throw new Error(`unexpected answer from the dedup claim script: ${String(verdict)}`);
  }

  async commit(key: SharedDedupKey): Promise<void> {
    const ids = idsOf(key);
    const keys = this.idKeys(ids);
    await runScript(this.store.client, COMMIT, keys, [ids.length, this.owner, this.doneMs]);
  }

  async release(key: SharedDedupKey): Promise<void> {
    const ids = idsOf(key);
    const keys = [...this.idKeys(ids), ...(key.content ? [this.contentKey(key.content)] : [])];
    await runScript(this.store.client, RELEASE, keys, [ids.length, this.owner, ownId(key)]);
  }

  /** Nothing to close: the store belongs to whoever opened it. */
  async close(): Promise<void> {}

  private idKeys(ids: readonly string[]): string[] {
    return ids.flatMap((id) => [
      this.store.key("feishu", "dedup", "done", id),
      this.store.key("feishu", "dedup", "inflight", id),
    ]);
  }

  private contentKey(content: NonNullable<SharedDedupKey["content"]>): string {
    return this.store.key(
      "feishu",
      "dedup",
      "content",
      contentHash([content.senderId, content.chatId, content.text]),
    );
  }
}

/** The ids feishu's `EventDedup` records: an event id, and the message id of a message. */
function idsOf(key: SharedDedupKey): string[] {
  return key.messageId ? [`e:${key.eventId}`, `m:${key.messageId}`] : [`e:${key.eventId}`];
}

/** The message's id (or the event's): what a content key records as its first sighting. */
function ownId(key: SharedDedupKey): string {
  return key.messageId ? `m:${key.messageId}` : `e:${key.eventId}`;
}
