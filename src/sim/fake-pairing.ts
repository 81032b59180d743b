import { randomUUID } from "node:crypto";
import type { PendingPairing } from "./fake-types.js";

/**
 * The fake gateway's device pairing book, as a remote openclaw keeps it: a device that is
 * not approved gets a pairing request whose id stays the same while the device keeps
 * asking; a request nobody retried for `ttlMs` expires, and the next attempt gets a new id.
 */
export class PairingBook {
  private readonly approved = new Set<string>();
  private readonly pending = new Map<string, PendingPairing>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  isApproved(deviceId: string): boolean {
    return this.approved.has(deviceId);
  }

  /** Records one more attempt by an unapproved device; returns its current request. */
  request(deviceId: string, role: string, scopes: readonly string[]): PendingPairing {
    this.expire();
    const now = this.now();
    const existing = this.pending.get(deviceId);
    if (existing) {
      existing.lastSeenAt = now;
      existing.requestedRole = role;
      existing.requestedScopes = [...scopes];
      return { ...existing, requestedScopes: [...existing.requestedScopes] };
    }
    const created: PendingPairing = {
      requestId: randomUUID(),
      deviceId,
      requestedRole: role,
      requestedScopes: [...scopes],
      createdAt: now,
      lastSeenAt: now,
    };
    this.pending.set(deviceId, created);
    return { ...created, requestedScopes: [...created.requestedScopes] };
  }

  /** Pending (unexpired) requests, oldest first. */
  list(): PendingPairing[] {
    this.expire();
    return [...this.pending.values()].map((p) => ({ ...p, requestedScopes: [...p.requestedScopes] }));
  }

  /** Approves a pending request by id; false when it is unknown or expired. */
  approve(requestId: string): boolean {
    this.expire();
    for (const [deviceId, pending] of this.pending) {
      if (pending.requestId === requestId) {
        this.approveDevice(deviceId);
        return true;
      }
    }
    return false;
  }

  approveDevice(deviceId: string): void {
    this.pending.delete(deviceId);
    this.approved.add(deviceId);
  }

  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [deviceId, pending] of this.pending) {
      if (pending.lastSeenAt <= cutoff) this.pending.delete(deviceId);
    }
  }
}
