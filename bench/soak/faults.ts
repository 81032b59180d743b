import path from "node:path";
import { withFileLock } from "../../src/mailbox/index.js";
import { epochMs, round } from "../lib/report.js";
import { sleep } from "../relay/ipc.js";
import type { Random } from "./random.js";
import { GATEWAY_NODES, type GatewayNode, type SoakWorld } from "./world.js";

export type FaultKind = "feishu-5xx" | "feishu-429" | "gateway-drop" | "long-connection-drop" | "inbox-lock";
const FAULT_KINDS: readonly FaultKind[] = [
  "feishu-5xx",
  "feishu-429",
  "gateway-drop",
  "long-connection-drop",
  "inbox-lock",
];

/** Sends, replies and card patches all start with this path. */
const MESSAGES_PATH = "/open-apis/im/v1/messages";
/** Inboxes the bridge appends to (answers, mirrors, results) whose lock another writer may hold. */
const LOCKED_INBOXES = ["nas-agent", "laptop", "clawbridge", "ai-pc"] as const;
/** An outage that has not ended by then is counted as lasting to the end of the soak. */
const OBSERVE_MS = 60_000;

export interface PlannedFault {
  /** When, in ms after the traffic started. */
  atMs: number;
  kind: FaultKind;
  /** feishu-5xx / feishu-429: the HTTP status and how many calls in a row get it. */
  status?: number;
  times?: number;
  /** feishu-5xx: the call takes effect before it fails (the retry must not post twice). */
  commitThenFail?: boolean;
  /** gateway-drop: whose connections; inbox-lock: whose inbox. */
  node?: string;
  /** inbox-lock: how long the lock is held. */
  holdMs?: number;
}

/**
 * One fault as it happened: what an outage of this kind keeps waiting (`touches`, matched
 * against an envelope's `exposedTo`), and from when to when (epoch ms). Ends are observed:
 * a gateway drop lasts until the bridge's next handshake at that gateway, a long-connection
 * drop until the bridge is connected again and Feishu's queue for it is empty, an inbox
 * lock while it is held, and a Feishu error burst until the first call that succeeds after
 * the last one it failed (for a 429, at least its `x-ogw-ratelimit-reset` after it).
 */
export interface Outage {
  planned: PlannedFault;
  touches: string;
  detail: string;
  start: number;
  end?: number;
}

/**
 * `count` faults at random (seeded) between `fromMs` and `toMs`: one in each of `count`
 * equal slots, so they are spread out and bounded, and the kinds in shuffled rounds, so a
 * short soak still meets each kind once.
 */
export function planFaults(random: Random, count: number, fromMs: number, toMs: number): PlannedFault[] {
  const kinds: FaultKind[] = [];
  while (kinds.length < count) kinds.push(...random.shuffle(FAULT_KINDS));
  const slot = (toMs - fromMs) / count;
  return kinds.slice(0, count).map((kind, i) => {
    const atMs = Math.round(fromMs + slot * i + random.next() * slot * 0.8);
    switch (kind) {
      case "feishu-5xx":
        return {
          atMs,
          kind,
          status: random.pick([500, 502, 503]),
          times: random.int(3, 8),
          commitThenFail: random.next() < 0.5,
        };
      case "feishu-429":
        return { atMs, kind, status: 429, times: random.int(3, 8) };
      case "gateway-drop":
        return { atMs, kind, node: random.pick(GATEWAY_NODES) };
      case "long-connection-drop":
        return { atMs, kind };
      case "inbox-lock":
        return { atMs, kind, node: random.pick(LOCKED_INBOXES), holdMs: random.int(1_000, 2_000) };
    }
  });
}

/** Injects planned faults into the world and observes when each outage ended. */
export class FaultInjector {
  readonly outages: Outage[] = [];
  private readonly observing: Promise<void>[] = [];

  /** When the traffic started (epoch ms): fault times are logged from there. */
  startedAt = epochMs();

  constructor(
    private readonly world: SoakWorld,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Takes and releases a lock once before the traffic: the first lock in a process starts
   * its lock worker (a second or so of compiling on a busy machine), which would otherwise
   * take CPU from the bridge in the middle of the soak.
   */
  async prepare(): Promise<void> {
    await withFileLock(
      path.join(this.world.folder.base, "warm-up.jsonl"),
      { staleMs: 10_000 },
      async () => {},
    );
  }

  inject(fault: PlannedFault): void {
    const { emu, fakes } = this.world;
    const start = epochMs();
    switch (fault.kind) {
      case "feishu-5xx":
      case "feishu-429": {
        const outage = this.begin(fault, "feishu-api", `${fault.status} ×${fault.times}`, start);
        if (fault.commitThenFail) outage.detail += " (committed, then failed)";
        emu.fault({
          path: MESSAGES_PATH,
          status: fault.status,
          times: fault.times,
          ...(fault.status === 429 ? { resetSec: 1 } : {}),
          ...(fault.commitThenFail ? { commitThenFail: true } : {}),
        });
        return;
      }
      case "gateway-drop": {
        const node = fault.node as GatewayNode;
        const outage = this.begin(fault, `gateway:${node}`, node, start);
        const fake = fakes[node];
        this.observe(
          outage,
          new Promise<number>((resolve) => {
            const off = fake.on("request", (frame) => {
              if (frame.method !== "connect") return;
              off();
              resolve(epochMs());
            });
            fake.dropConnections();
          }),
        );
        return;
      }
      case "long-connection-drop": {
        const outage = this.begin(fault, "intake", "", start);
        emu.dropLongConnections();
        this.observe(
          outage,
          (async () => {
            const deadline = start + OBSERVE_MS;
            while (emu.wsClients() === 0 || emu.queuedEvents() > 0) {
              if (epochMs() > deadline) return undefined;
              await sleep(10);
            }
            return epochMs();
          })(),
        );
        return;
      }
      case "inbox-lock": {
        const file = path.join(this.world.folder.root, "messages", `to-${fault.node}.jsonl`);
        const outage = this.begin(fault, "inbox", `to-${fault.node}.jsonl for ${fault.holdMs} ms`, start);
        // Another writer (an agent's `clawbridge send`) holding the inbox's lock, by the folder's protocol.
        this.observe(
          outage,
          withFileLock(file, { staleMs: 10_000 }, async () => {
            outage.start = epochMs();
            await sleep(fault.holdMs!);
            return epochMs();
          }),
        );
        return;
      }
    }
  }

  /** Until every observed outage has ended (or been given up on). */
  async settled(): Promise<void> {
    await Promise.all(this.observing);
  }

  /** Every outage with its end; Feishu bursts' ends are read from the emulator's call log now. */
  resolved(): Outage[] {
    const calls = this.world.emu.calls;
    for (const outage of this.outages) {
      if (outage.touches !== "feishu-api") continue;
      const { times = 1, status } = outage.planned;
      const failed = calls.filter(
        (c) => c.faulted && c.at >= outage.start - 1 && c.path.startsWith(MESSAGES_PATH),
      );
      if (failed.length < times) continue;
      const last = failed[times - 1]!.at;
      const ok = calls.find(
        (c) => c.at >= last && c.path.startsWith(MESSAGES_PATH) && !c.faulted && c.status < 400,
      );
      outage.end = Math.max(ok?.at ?? last, status === 429 ? last + 1_000 : last);
    }
    return this.outages;
  }

  /** The outages as logged: seconds after the start, kind, detail, how long. */
  summary(): { atS: number; kind: FaultKind; detail: string; outageMs: number | null }[] {
    return this.resolved().map((o) => ({
      atS: round((o.start - this.startedAt) / 1000, 1),
      kind: o.planned.kind,
      detail: o.detail,
      outageMs: o.end === undefined ? null : Math.round(o.end - o.start),
    }));
  }

  private begin(planned: PlannedFault, touches: string, detail: string, start: number): Outage {
    const outage: Outage = { planned, touches, detail, start };
    this.outages.push(outage);
    this.log(`soak fault at ${((start - this.startedAt) / 1000).toFixed(1)} s: ${planned.kind} ${detail}`);
    return outage;
  }

  private observe(outage: Outage, ended: Promise<number | undefined>): void {
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), OBSERVE_MS);
    });
    this.observing.push(
      Promise.race([ended, giveUp])
        .then((end) => {
          outage.end = end;
          const lasted = end === undefined ? "not over" : `${Math.round(end - outage.start)} ms`;
          this.log(`soak fault ${outage.planned.kind} ${outage.detail}: outage ${lasted}`);
        })
        .catch((error: unknown) => {
          this.log(`soak fault ${outage.planned.kind} could not be injected: ${String(error)}`);
        })
        .finally(() => clearTimeout(timer)),
    );
  }
}
