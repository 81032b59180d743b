// The shapes of Redis' stream replies, read defensively: ioredis hands them over untyped.

export interface RawEntry {
  entryId: string;
  /** Null for an entry deleted while it was pending. */
  fields: string[] | null;
}

/** XREAD / XREADGROUP: `[[stream, [[id, fields | null], …]], …]`, or null when nothing came. */
export function parseStreamsReply(reply: unknown): Map<string, RawEntry[]> {
  const streams = new Map<string, RawEntry[]>();
  if (!Array.isArray(reply)) return streams;
  for (const stream of reply) {
    if (Array.isArray(stream) && stream.length >= 2) streams.set(String(stream[0]), parseEntries(stream[1]));
  }
  return streams;
}

/** XAUTOCLAIM: `[next cursor, entries, deleted ids]`. */
export function parseClaimReply(reply: unknown): [string, RawEntry[]] {
  if (!Array.isArray(reply) || reply.length < 2) return ["0-0", []];
  return [String(reply[0]), parseEntries(reply[1])];
}

export function parseEntries(list: unknown): RawEntry[] {
  if (!Array.isArray(list)) return [];
  const entries: RawEntry[] = [];
  for (const row of list) {
    if (!Array.isArray(row) || row.length < 2) continue;
    const fields: unknown = row[1];
    entries.push({ entryId: String(row[0]), fields: Array.isArray(fields) ? fields.map(String) : null });
  }
  return entries;
}

/** The Redis time (ms) in a stream entry id `<ms>-<seq>`. */
export function entryTime(entryId: string): number {
  const ms = Number(entryId.split("-")[0]);
  return Number.isFinite(ms) ? ms : 0;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `CLIENT SETNAME` takes no spaces: a node or target named oddly still gives a usable name. */
export function connectionName(name: string): string {
  return name.replace(/[^\w:.@-]/g, "_");
}
