import { createHash } from "node:crypto";
import { monotonicFactory } from "ulid";

const nextUlid = monotonicFactory();

/** A ULID: sortable by creation time, unique within and across processes. */
export function newId(now: number = Date.now()): string {
  return nextUlid(now);
}

/** A stable, short content hash (hex), for ids derived from content. */
export function contentHash(parts: readonly string[], length = 26): string {
  const hash = createHash("sha256");
  for (const part of parts) {
    hash.update(part);
    // A separator that cannot occur in UTF-8 text keeps ("ab","c") and ("a","bc") apart.
    hash.update("\u0000");
  }
  return hash.digest("hex").slice(0, length);
}
