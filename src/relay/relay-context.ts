import { contentHash, type Envelope, type Translate } from "../core/index.js";
import type { AddressBook } from "./addressing.js";
import type { Admission, LoopGuard } from "./loop-guard.js";
import type { RelayMessageKey } from "./messages.js";

/** A node as the routes see it. */
export interface RelayNode {
  name: string;
  displayName?: string;
  /** The agent that answers on its gateway (`nodes[].agentId`, default "main"). */
  agentId: string;
  /** Has a gateway url; without one it reads its own inbox (mailbox-only). */
  hasGateway: boolean;
  /** Its OpenClaw already hears other bots' @mentions in the group: not relayed in the group. */
  hearsBots: boolean;
  botName?: string;
}

/** What every route needs to decide; pure data and pure helpers, no I/O. */
export interface RelayContext {
  /** `mailbox.self`: the bridge's own name. */
  self: string;
  nodes: ReadonlyMap<string, RelayNode>;
  book: AddressBook;
  guard: LoopGuard;
  auditChat?: string;
  /** The Feishu chats served (`feishu.chats`); empty or absent = every chat. */
  chats?: ReadonlySet<string>;
  mirrorToChat: boolean;
  t: Translate<RelayMessageKey>;
  /** The localised sentence announcing a loop stop. */
  describeStop: (admission: Exclude<Admission, { ok: true }>) => string;
  newId: () => string;
  /** ISO timestamp with offset, now. */
  timestamp: () => string;
}

/** An envelope clawbridge writes: a fresh ULID, now, `source: "clawbridge"`. */
export function newEnvelope(
  ctx: RelayContext,
  fields: Omit<Envelope, "id" | "timestamp" | "source"> & { id?: string },
): Envelope {
  return {
    ...fields,
    id: fields.id ?? ctx.newId(),
    timestamp: ctx.timestamp(),
    source: "clawbridge",
  } as Envelope;
}

/**
 * A Feishu uuid (≤ 50 chars) for a post about envelope `id`. Long ids are hashed, not cut:
 * two ids that differ only at the end must not share a uuid (Feishu would drop the second).
 */
export function postUuid(id: string, purpose: string): string {
  const plain = `${purpose}-${id}`;
  return plain.length <= 50 ? plain : `${purpose}-${contentHash([id], 40)}`;
}
