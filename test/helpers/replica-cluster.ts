import type { ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { RedisStore } from "../../src/cluster/index.js";
import { roleGroups } from "../../src/replica/index.js";
import type { FakeGateway, ScriptSource } from "../../src/sim/fake-gateway.js";
import type { FeishuEmulator, Person } from "../../src/sim/feishu/index.js";
import { fakeGateway, GATEWAY_TOKEN } from "./gateway.js";
import { feishuEmulator } from "./feishu.js";
import { startRedis, type RedisServer } from "./redis-server.js";
import { finished, spawnTs, type Finished } from "./spawn.js";
import { waitFor } from "./wait.js";

// Several bridge replicas on one world, each in a process of its own so it can be killed,
// paused and started again (issue 15): the Feishu emulator handing each long-connection
// event to one random replica (as Feishu does), fake gateways as nodes, a mailbox-only
// node, a temp shared folder and a real redis-server with its append-only file on.

export interface ReplicaClusterOptions {
  /** Replica processes (slots 0 … n-1); none is started by `open`. */
  replicas: number;
  /** Gateway nodes `node-0` … `node-<k-1>`, each its own fake gateway. */
  gatewayNodes: number;
  /** Group chats for traffic (an audit chat comes on top). */
  chats?: number;
  /** `state.redis.leaseMs` and `claimIdleMs`: short, so failovers are quick. */
  leaseMs?: number;
  claimIdleMs?: number;
  /** What every fake gateway's agent answers (default "ok" at once). */
  script?: ScriptSource;
  /** Changes the shared config before the replicas' files are written (relay, tasks …). */
  configure?: (config: Record<string, unknown>) => void;
  /** Flags for bridge-process.ts (default `--relax-outbound`: the emulator's limits are off). */
  flags?: string[];
  /** Log level of the replicas (default info: role changes, failovers, warnings). */
  logLevel?: string;
}

export interface ClusterWorld {
  emu: FeishuEmulator;
  /** Gateway node name → its fake gateway. */
  gateways: Map<string, FakeGateway>;
  nodes: string[];
  /** The mailbox-only node. */
  mailboxNode: string;
  chats: string[];
  auditChat: string;
  /** In every chat, and in access.dispatchers. */
  dispatcher: Person;
  dir: string;
  /** The shared folder. */
  root: string;
  messagesDir: string;
  /** Secrets, only here (and the Redis URL). */
  env: NodeJS.ProcessEnv;
}

/** A replica process as the harness knows it. */
interface Slot {
  index: number;
  config: string;
  stateDir: string;
  logFile: string;
  child?: ChildProcess;
  exit?: Promise<Finished>;
  id?: string;
  pid?: number;
  url?: string;
  paused: boolean;
  /** The harness is ending it (kill or stop): its exit is expected. */
  ending?: boolean;
  /** How long each start took (spawn → `ready`), ms. */
  starts: number[];
}

export const MAILBOX_NODE = "nas-agent";
const READY_TIMEOUT_MS = 45_000;
const STOP_TIMEOUT_MS = 15_000;

const open = new Set<ReplicaCluster>();
// Processes first: the emulator, gateways and Redis go in their own hooks, which run later.
afterEach(async () => {
  for (const cluster of [...open]) await cluster.close();
});

/** A replica process that exited by itself. */
export interface UnexpectedExit {
  slot: number;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** One log record of a replica (pino JSON). */
export interface LogRecord {
  level: number;
  time: number;
  pid: number;
  msg: string;
  [key: string]: unknown;
}

export class ReplicaCluster {
  /** Every role the replicas share: the singletons and one per gateway node. */
  readonly roles: string[];
  /** Replica id → slot, for every id any slot ever had (a restart makes a new id). */
  private readonly idToSlot = new Map<string, number>();
  private readonly crashes: UnexpectedExit[] = [];

  private constructor(
    readonly world: ClusterWorld,
    readonly redis: RedisServer,
    private readonly store: RedisStore,
    private readonly slots: Slot[],
    private readonly flags: string[],
  ) {
    this.roles = roleGroups(world.nodes)
      .flatMap((group) => group.roles)
      .sort();
  }

  static async open(options: ReplicaClusterOptions): Promise<ReplicaCluster> {
    const redis = await startRedis({ appendOnly: true });
    const emu = await feishuEmulator({
      eventDelivery: "random",
      // Volume, not Feishu's pace: the replicas' outbound queues are relaxed too (--relax-outbound).
      limits: { sendPerChatQps: Infinity, appQps: Infinity },
      maxQueuedEvents: 100_000,
      reconnectIntervalSec: 1,
    });
    const dispatcher = emu.addPerson({ name: "调度员" });
    const chats = Array.from({ length: options.chats ?? 4 }, (_, i) =>
      emu.createChat({ name: `replicas ${i}`, members: ["bridge", dispatcher] }),
    );
    const auditChat = emu.createChat({ name: "audit", members: ["bridge", dispatcher] });
    const nodes = Array.from({ length: options.gatewayNodes }, (_, i) => `node-${i}`);
    const gateways = new Map<string, FakeGateway>();
    for (const node of nodes) {
      gateways.set(
        node,
        await fakeGateway({ script: options.script ?? { kind: "text", text: "ok", chunks: 1, delayMs: 0 } }),
      );
    }
    // Removed by close(), after the processes writing into it are gone.
    const dir = mkdtempSync(path.join(os.tmpdir(), "clawbridge-replicas-"));
    const root = path.join(dir, "shared");
    const messagesDir = path.join(root, "messages");
    mkdirSync(messagesDir, { recursive: true });
    const base: Record<string, unknown> = {
      feishu: {
        appId: emu.bridge.appId,
        appSecret: "${FEISHU_APP_SECRET}",
        domain: emu.url,
        chats: [...chats, auditChat],
        locale: "en",
      },
      http: { host: "127.0.0.1", port: 0 },
      ops: { host: "127.0.0.1", port: 0 },
      nodes: [
        ...nodes.map((name) => ({ name, url: gateways.get(name)!.url, token: "${NODE_TOKEN}" })),
        { name: MAILBOX_NODE },
      ],
      mailbox: { root, watch: "native" },
      relay: { auditChat },
      access: { dispatchers: [dispatcher.openIdFor(emu.bridge.appId)] },
      log: { level: options.logLevel ?? "info" },
    };
    options.configure?.(base);
    const slots: Slot[] = [];
    for (let index = 0; index < options.replicas; index++) {
      const stateDir = path.join(dir, `state-${index}`);
      const config = path.join(dir, `replica-${index}.json5`);
      const replica = {
        ...base,
        state: {
          dir: stateDir,
          store: "redis",
          redis: {
            url: "${CLAWBRIDGE_REDIS_URL}",
            leaseMs: options.leaseMs ?? 1_500,
            claimIdleMs: options.claimIdleMs ?? 300,
          },
        },
      };
      writeFileSync(config, JSON.stringify(replica, null, 2));
      slots.push({
        index,
        config,
        stateDir,
        logFile: path.join(dir, `replica-${index}.log`),
        paused: false,
        starts: [],
      });
    }
    const env = {
      FEISHU_APP_SECRET: emu.bridge.appSecret,
      NODE_TOKEN: GATEWAY_TOKEN,
      CLAWBRIDGE_REDIS_URL: redis.url,
    };
    const store = new RedisStore({ url: redis.url, keyPrefix: "clawbridge:", name: "replica-cluster-test" });
    const world: ClusterWorld = {
      emu,
      gateways,
      nodes,
      mailboxNode: MAILBOX_NODE,
      chats,
      auditChat,
      dispatcher,
      dir,
      root,
      messagesDir,
      env,
    };
    const cluster = new ReplicaCluster(world, redis, store, slots, options.flags ?? ["--relax-outbound"]);
    open.add(cluster);
    return cluster;
  }

  get size(): number {
    return this.slots.length;
  }

  /** A store on the same Redis (keys with the replicas' prefix), for reading what they share. */
  get redisStore(): RedisStore {
    return this.store;
  }

  /** Starts slot `i` and waits for its `ready` line. */
  async start(i: number): Promise<void> {
    const slot = this.slot(i);
    if (slot.child) throw new Error(`replica ${i} is running already`);
    const began = Date.now();
    const child = spawnTs("test/helpers/bridge-process.ts", [slot.config, slot.logFile, ...this.flags], {
      env: this.world.env,
    });
    const exit = finished(child);
    let buffered = "";
    let id: string | undefined;
    let ready: string | undefined;
    let exited = false;
    child.stdout!.on("data", (chunk: Buffer | string) => {
      buffered += String(chunk);
      id ??= /^replica (\S+)$/m.exec(buffered)?.[1];
      ready ??= /^ready (\S+)$/m.exec(buffered)?.[1];
    });
    void exit.then(() => (exited = true));
    await waitFor(() => ready ?? exited, {
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 10,
      what: `replica ${i} to be ready`,
    });
    if (!ready || !id) {
      const result = await exit;
      throw new Error(`replica ${i} exited at start (${result.code ?? result.signal}): ${result.stderr}`);
    }
    Object.assign(slot, { child, exit, id, pid: child.pid, url: ready, paused: false, ending: false });
    slot.starts.push(Date.now() - began);
    this.idToSlot.set(id, i);
    // A replica that exits by itself (a crash) is no longer running, and the test hears of it.
    void exit.then((result) => {
      if (slot.child !== child || slot.ending) return;
      this.crashes.push({
        slot: i,
        pid: child.pid!,
        code: result.code,
        signal: result.signal,
        stderr: result.stderr.slice(-2_000),
      });
      forget(slot);
    });
  }

  /** Replica processes that exited without being killed or stopped by the harness. */
  unexpectedExits(): readonly UnexpectedExit[] {
    return this.crashes;
  }

  /** Starts every slot that is not running, all at once. */
  async startAll(): Promise<void> {
    await Promise.all(this.slots.filter((s) => !s.child).map((s) => this.start(s.index)));
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(i: number): Promise<Finished> {
    return this.end(i, "SIGKILL");
  }

  /** SIGTERM (a clean stop: roles handed over); resolves once the process is gone. */
  async stop(i: number): Promise<Finished> {
    return this.end(i, "SIGTERM");
  }

  /** SIGKILL (if running), then a new process on the same config and state dir. */
  async restart(i: number): Promise<void> {
    if (this.slot(i).child) await this.kill(i);
    await this.start(i);
  }

  /** SIGSTOP: the process keeps its sockets but does nothing (a long GC, a laptop lid). */
  pause(i: number): void {
    const slot = this.running(i);
    slot.child!.kill("SIGSTOP");
    slot.paused = true;
  }

  resume(i: number): void {
    const slot = this.running(i);
    slot.child!.kill("SIGCONT");
    slot.paused = false;
  }

  isRunning(i: number): boolean {
    return this.slot(i).child !== undefined;
  }

  /** The current process's replica id and pid (undefined while down). */
  replica(i: number): { id?: string; pid?: number; url?: string; starts: readonly number[] } {
    const { id, pid, url, starts } = this.slot(i);
    return { id, pid, url, starts };
  }

  /** Which slot a replica id belongs to (any process it ever ran). */
  slotOf(id: string): number | undefined {
    return this.idToSlot.get(id);
  }

  /** Role → the replica id Redis says holds it now (its lease key `<replicaId>|<token>`). */
  async holders(): Promise<Map<string, { id: string; token: number } | undefined>> {
    const values = await Promise.all(
      this.roles.map((role) => this.store.client.get(this.store.key("lease", role))),
    );
    return new Map(
      this.roles.map((role, i) => {
        const value = values[i];
        const bar = value?.lastIndexOf("|") ?? -1;
        return [
          role,
          value && bar > 0 ? { id: value.slice(0, bar), token: Number(value.slice(bar + 1)) } : undefined,
        ];
      }),
    );
  }

  /** Role → the slot holding it (undefined when free); a dead process's lease counts until it expires. */
  async owners(): Promise<Map<string, number | undefined>> {
    const holders = await this.holders();
    return new Map(
      [...holders].map(([role, holder]) => [role, holder ? this.idToSlot.get(holder.id) : undefined]),
    );
  }

  /**
   * Until every role is held by a running, unpaused replica's current process (with `spread`,
   * also every such replica holds at least one). Returns role → slot.
   */
  async waitForRoles(options: { timeoutMs?: number; spread?: boolean } = {}): Promise<Map<string, number>> {
    let last = "";
    return waitFor(
      async () => {
        const holders = await this.holders();
        const live = new Map(
          this.slots.filter((s) => s.child && !s.paused && s.id).map((s) => [s.id!, s.index] as const),
        );
        const owners = new Map<string, number>();
        for (const [role, holder] of holders) {
          const slot = holder ? live.get(holder.id) : undefined;
          if (slot !== undefined) owners.set(role, slot);
        }
        last = JSON.stringify(Object.fromEntries([...holders].map(([r, h]) => [r, h?.id ?? null])));
        if (owners.size !== this.roles.length) return undefined;
        if (options.spread && new Set(owners.values()).size < live.size) return undefined;
        return owners;
      },
      {
        timeoutMs: options.timeoutMs ?? 20_000,
        intervalMs: 50,
        what: () => `every role held by a live replica (holders: ${last})`,
      },
    );
  }

  /**
   * The replica's log (every process that ran in slot `i`), parsed, each record with the pid
   * of the process that wrote it (from its "bridge process starting" line); lines cut by a
   * kill are skipped.
   */
  log(i: number): LogRecord[] {
    const file = this.slot(i).logFile;
    if (!existsSync(file)) return [];
    let pid = 0;
    return readFileSync(file, "utf8")
      .split("\n")
      .flatMap((line) => {
        if (line === "") return [];
        try {
          const record = JSON.parse(line) as LogRecord;
          if (record.msg === "bridge process starting") pid = record.pid;
          return [{ ...record, pid }];
        } catch {
          return [];
        }
      });
  }

  logFile(i: number): string {
    return this.slot(i).logFile;
  }

  stateDir(i: number): string {
    return this.slot(i).stateDir;
  }

  /** Kills every process (SIGKILL works on a paused one too), closes the Redis client, removes the folder. */
  async close(): Promise<void> {
    if (!open.delete(this)) return;
    await Promise.all(this.slots.filter((s) => s.child).map((s) => this.end(s.index, "SIGKILL")));
    await this.store.close().catch(() => undefined);
    // CLAWBRIDGE_KEEP_REPLICAS=<dir>: keep the logs, configs and shared folder to read after a failure.
    const keep = process.env.CLAWBRIDGE_KEEP_REPLICAS;
    if (keep) cpSync(this.world.dir, path.join(keep, path.basename(this.world.dir)), { recursive: true });
    rmSync(this.world.dir, { recursive: true, force: true });
  }

  private async end(i: number, signal: "SIGKILL" | "SIGTERM"): Promise<Finished> {
    const slot = this.running(i);
    const exit = slot.exit!;
    slot.ending = true;
    slot.child!.kill(signal);
    // A paused process acts on SIGTERM only once it runs again.
    if (slot.paused && signal === "SIGTERM") slot.child!.kill("SIGCONT");
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      exit,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (!result) {
      slot.child!.kill("SIGKILL");
      await exit;
      throw new Error(`replica ${i} did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}`);
    }
    forget(slot);
    return result;
  }

  private running(i: number): Slot {
    const slot = this.slot(i);
    if (!slot.child) throw new Error(`replica ${i} is not running`);
    return slot;
  }

  private slot(i: number): Slot {
    const slot = this.slots[i];
    if (!slot) throw new Error(`no replica ${i} (there are ${this.slots.length})`);
    return slot;
  }
}

/** The slot's process is gone: nothing of it is kept but its config, state and log. */
function forget(slot: Slot): void {
  Object.assign(slot, {
    child: undefined,
    exit: undefined,
    id: undefined,
    pid: undefined,
    url: undefined,
    paused: false,
  });
}
