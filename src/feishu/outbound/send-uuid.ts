import { feishuMessages } from "../messages.js";
import { ClawbridgeError, contentHash, newId } from "../../core/index.js";

/** Feishu's limit on the `uuid` of a send or reply. */
export const MAX_UUID_LENGTH = 50;

const TEXT_SUFFIX = "-t";

/**
 * The uuid one send keeps across all its retries: the caller's (so a caller that retries
 * after a crash is deduplicated too), else a new ULID (26 chars).
 */
export function sendUuid(callerUuid: string | undefined, now: number): string {
  if (callerUuid === undefined) return newId(now);
  if (callerUuid.length === 0 || callerUuid.length > MAX_UUID_LENGTH) {
    throw new ClawbridgeError(
      "CB_USAGE",
      feishuMessages.text("badUuid", { max: MAX_UUID_LENGTH, length: callerUuid.length }),
      { fix: feishuMessages.text("badUuidFix") },
    );
  }
  return callerUuid;
}

/**
 * The uuid of the text that replaces a card. It must differ from the card's (Feishu would
 * answer the text with the card's message, or refuse it) and be the same on every retry,
 * so it is derived: `<uuid>-t`, or a hash of the uuid when that would be too long.
 */
export function textFallbackUuid(uuid: string): string {
  if (uuid.length + TEXT_SUFFIX.length <= MAX_UUID_LENGTH) return `${uuid}${TEXT_SUFFIX}`;
  return `${contentHash([uuid], MAX_UUID_LENGTH - TEXT_SUFFIX.length)}${TEXT_SUFFIX}`;
}
