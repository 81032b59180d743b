import { hash } from "node:crypto";
import { monotonicFactory } from "ulid";
import { systemClock } from "./clock.js";

const nextUlid = monotonicFactory();

/** A ULID: sortable by creation time, unique within and across processes. */
export function newId(now: number = systemClock.now()): string {
  return nextUlid(now);
}

/** A stable, short content hash (hex), for ids derived from content. */
export function contentHash(parts: readonly string[], length = 26): string {
  // NUL cannot occur in the parts (JSON text), so it keeps ("ab","c") and ("a","bc") apart.
  // One-shot `hash` is ~3x faster than createHash/update/digest: this runs once per inbox line.
  return hash("sha256", parts.join("\u0000"), "hex").slice(0, length);
}
