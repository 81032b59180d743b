/**
 * A fencing token: the proof a replica holds a role, checked by Redis itself inside every
 * write the role makes (the lease key must still hold exactly `value`), so a replica that
 * was paused past its lease and resumes cannot write anything stale.
 *
 * `token` grows by one each time anyone acquires the role: files the holder writes (the
 * status file, the task board) carry it, so a reader can tell the newer writer.
 */
export interface Fence {
  /** The lease's key in Redis. */
  key: string;
  /** What the key holds while this replica has the role: `<replica>|<token>`. */
  value: string;
  token: number;
  /** Held by the local clock: renewed within the lease time. Checked before effects Redis cannot fence (files). */
  held(): boolean;
}

/**
 * The Lua lines that start every fenced script: KEYS[1] is the lease key, ARGV[1] the value
 * it must hold. A script with no fence passes "" for both and skips the check.
 */
export const FENCE_CHECK_LUA = `
if ARGV[1] ~= "" and redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return redis.error_reply("FENCED the role's lease is held by another replica")
end
`;

/** The error a fenced script answers when the lease moved on. */
export function isFencedError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("FENCED");
}

/** KEYS[1] and ARGV[1] of a fenced script, or empty ones for writes that need no role. */
export function fenceArgs(fence: Fence | undefined): { key: string; value: string } {
  return fence ? { key: fence.key, value: fence.value } : { key: "", value: "" };
}
