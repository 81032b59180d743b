import { promises as fs } from "node:fs";
import path from "node:path";
import {
  createLogger,
  DEFAULT_LOCALE,
  internalError,
  isProcessAlive,
  lockStateDir,
  packageVersion,
  removeAbandonedTempFiles,
  SecretRegistry,
  systemClock,
  type Clock,
  type Logger,
} from "./core/index.js";
import type { LoadedConfig } from "./config/index.js";
import { FeishuAdapter, intakeUp } from "./feishu/index.js";
import {
  DeviceTokenStore,
  loadOrCreateIdentity,
  WsGatewayClient,
  type GatewayClient,
} from "./gateway/index.js";
import { startHttpServer, type MountedMiddleware } from "./http/index.js";
import { acquireLease, FileQuarantine, FsMailboxStore, type Tailer } from "./mailbox/index.js";
import { NodePool } from "./nodes/index.js";
import {
  countingQuarantine,
  feishuIntakeCheck,
  gatewayCheck,
  redisCheck,
  HealthMonitor,
  Metrics,
  relayMetrics,
  sharedFolderCheck,
  startOpsServer,
  stateDirCheck,
  watchFeishu,
  watchGateways,
  watchPool,
  watchRelay,
  watchTasks,
  type HealthCheck,
} from "./ops/index.js";
import { createRelay, inboxLinesHandler, type Relay } from "./relay/index.js";
import {
  FencedMailbox,
  openSharedState,
  RemoteGatewayClient,
  ReplicaRoles,
  rolePart,
  CHAT_ROLE,
  INBOXES_ROLE,
  type SharedState,
} from "./replica/index.js";
import { concernsTasks, createTasks, type Tasks, type TasksPorts } from "./tasks/index.js";
import type { Fence } from "./cluster/index.js";

/** A replica that runs no task layer reports none. */
const EMPTY_TASK_STATS = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0, timeout: 0 };

/** A role as a metric label: node names only as configured, so the series stay bounded. */
function roleLabel(role: string, nodes: readonly { name: string }[]): string {
  if (!role.startsWith("node:")) return role;
  return nodes.some((n) => `node:${n.name}` === role) ? role : "node:other";
}

/** How often `status/<self>.json` is rewritten. */
const STATUS_INTERVAL_MS = 30_000;

export interface StartOptions {
  /** Deliver what the inboxes already hold (the first start otherwise begins at their end). */
  replay?: boolean;
  logger?: Logger;
  /** Called after the bridge stopped by itself (the lease was lost): the CLI exits non-zero. */
  onFatal?: (reason: unknown) => void;
  /** Time for everything the bridge does; tests pass a controllable one. */
  clock?: Clock;
  /**
   * More routes on the main listener, after the Feishu webhook routes (the demo's page under
   * `/demo/`): the sandbox serves its page from the bridge's own app, on the port it prints.
   */
  routes?: MountedMiddleware[];
  /**
   * The health monitor's pace: how often it looks at the folders, Feishu and the gateways
   * (default 5 s), and how long a problem must last before it is announced (default per
   * check: 5 s for the folders, 30 s for Feishu, 60 s for a gateway). Tests shorten both.
   */
  health?: { intervalMs?: number; graceMs?: number };
}

export interface RunningBridge {
  url: string;
  /** The ops listener (`/metrics`, `/healthz`, `/readyz`), e.g. `http://127.0.0.1:9464`. */
  opsUrl: string;
  metrics: Metrics;
  health: HealthMonitor;
  logger: Logger;
  relay: Relay;
  /**
   * The task layer. Among replicas (the Redis store) only the one holding the "tasks" role
   * runs it: elsewhere reading this throws.
   */
  readonly tasks: Tasks;
  feishu?: FeishuAdapter;
  /** The Redis store: this replica's id and the roles it holds now. */
  replica?: { id: string; roles(): string[] };
  /** Applies a re-read config's `access` and `nodes[].tags` (SIGHUP). */
  reload(next: LoadedConfig): void;
  /**
   * Stops everything, waiting at most `timeoutMs` (SIGTERM/SIGINT). False when that was not
   * enough (a delivery still running): what is left must not keep the process alive, and
   * the unfinished work is still in its outbox for the next start.
   */
  stop(timeoutMs?: number): Promise<boolean>;
}

/**
 * The composition root: config → logging → state → mailbox → gateways → nodes → Feishu →
 * relay → HTTP. Each step that can fail says which part and how to fix it; everything
 * started before a failure is stopped again.
 */
export async function startBridge(loaded: LoadedConfig, options: StartOptions = {}): Promise<RunningBridge> {
  const { config } = loaded;
  const secrets = new SecretRegistry();
  for (const secret of loaded.secrets) secrets.add(secret);
  const logger = options.logger ?? createLogger({ level: config.log.level, secrets, name: "clawbridge" });
  const stops: (() => Promise<unknown> | unknown)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.warn({ err: error }, "error while stopping");
      }
    }
  };
  const clock = options.clock ?? systemClock;
  // One default language for everything the bridge says (feishu.locale's default).
  const locale = config.feishu?.locale ?? DEFAULT_LOCALE;
  try {
    const stateLock = await lockStateDir(config.state.dir, { logger, clock });
    stops.push(() => stateLock.release());
    // The Redis store: replicas share the work (README "Running more than one bridge").
    const shared: SharedState | undefined =
      config.state.store === "redis" ? await openSharedState(config, { logger, clock }) : undefined;
    if (shared) stops.push(() => shared.close());
    const metrics = new Metrics({
      nodes: config.nodes.map((n) => n.name),
      chats: [...(config.feishu?.chats ?? []), ...(config.relay.auditChat ? [config.relay.auditChat] : [])],
      ...(shared ? { replica: shared.replicaId } : {}),
    });
    // Atomic writes cut short by a crash leave their temp files: the writer's pid is gone.
    const leftovers = await removeAbandonedTempFiles(
      config.state.dir,
      ({ pid }) => pid !== process.pid && !isProcessAlive(pid),
    );
    if (leftovers.length > 0) logger.info({ files: leftovers }, "removed temp files of interrupted writes");

    const mailbox = new FsMailboxStore({
      root: config.mailbox.root,
      self: config.mailbox.self,
      stateDir: config.state.dir,
      watch: config.mailbox.watch,
      pollMs: config.mailbox.pollMs,
      maxLineBytes: config.mailbox.maxLineBytes,
      lockStaleMs: config.mailbox.lockStaleMs,
      logger,
      clock,
      locale,
    });
    await mailbox.ensureLayout();
    // One bridge per shared folder: the file store holds `status/<self>.lock`. Replicas of the
    // Redis store coordinate through Redis instead (one of them holds the "folder" role).
    if (!shared) {
      const lease = await acquireLease({
        layout: mailbox.layout,
        self: config.mailbox.self,
        lockStaleMs: config.mailbox.lockStaleMs,
        version: packageVersion(),
        logger,
        clock,
      });
      stops.push(() => lease.release());
      // On the share, only the lease holder writes our temp files: one a minute old is abandoned.
      for (const dir of [mailbox.layout.statusDir, mailbox.layout.tasksDir]) {
        const stale = await removeAbandonedTempFiles(dir, ({ mtimeMs }) => clock.now() - mtimeMs > 60_000);
        if (stale.length > 0) logger.info({ files: stale }, "removed temp files of interrupted writes");
      }
      // Another bridge took the shared folder over: serving on would deliver everything twice.
      lease.onLost((loss) => {
        logger.error({ loss }, "the shared-folder lease was lost; stopping");
        void stopAll().then(() => options.onFatal?.(loss));
      });
    }

    // What the task layer, the pool and the health checks see of each gateway. Among replicas
    // each node's link is held by the replica with its role; the others see it through Redis.
    const gateways = new Map<string, GatewayClient>();
    const gatewayNodes = config.nodes.filter((n) => n.url);
    if (shared) {
      for (const node of gatewayNodes) {
        const remote = new RemoteGatewayClient({ store: shared.store, node: node.name, logger, clock });
        remote.start();
        gateways.set(node.name, remote);
        stops.push(() => remote.stop());
      }
    } else if (gatewayNodes.length > 0) {
      const identity = await loadOrCreateIdentity(config.state.dir, { clock });
      const deviceTokens = new DeviceTokenStore(config.state.dir, clock);
      for (const node of gatewayNodes) {
        const index = config.nodes.indexOf(node);
        const client = new WsGatewayClient({
          node: node.name,
          url: node.url!,
          token: node.token,
          tokenSource: loaded.sources[`nodes[${index}].token`]?.[0],
          identity,
          deviceTokens,
          logger,
          secrets,
          clock,
        });
        gateways.set(node.name, client);
        client.start();
        stops.push(() => client.stop());
      }
    }
    const pool = new NodePool({ nodes: config.nodes, gateways, mailbox, logger, clock });
    await pool.start();
    stops.push(() => pool.stop());

    let feishu: FeishuAdapter | undefined;
    if (config.feishu) {
      feishu = new FeishuAdapter({
        config: config.feishu,
        stateDir: config.state.dir,
        ...(shared ? { dedup: shared.dedup, sharedLimits: shared.limits } : {}),
        logger,
        nodeBots: config.nodes
          .filter((n) => n.bot)
          .map((n) => ({ node: n.name, unionId: n.bot?.unionId, name: n.bot?.name })),
      });
      await feishu.identify();
    }
    // Among replicas the relay appends to the inboxes only while it holds "inboxes" (see FencedMailbox).
    let roles: ReplicaRoles | undefined;
    const relay = createRelay(config, {
      mailbox: shared ? new FencedMailbox(mailbox, () => roles?.holds(INBOXES_ROLE), INBOXES_ROLE) : mailbox,
      // Among replicas the relay holds no gateway until it takes a node's role.
      gateways: shared ? new Map() : gateways,
      chat: feishu?.outbound,
      logger,
      clock,
      metrics: relayMetrics(metrics),
      ...(shared
        ? { outboxes: shared.outboxes, claimed: true, journals: shared.journal("dead-letters") }
        : {}),
    });
    await relay.start();
    stops.push(() => relay.stop());

    const makeTasks = (journal?: TasksPorts["journal"]) =>
      createTasks(config, {
        relay,
        pool,
        gateways,
        mailbox,
        ...(feishu ? { chat: feishu.outbound } : {}),
        logger,
        clock,
        ...(journal ? { journal } : {}),
      });
    let tasks: Tasks | undefined;
    if (!shared) {
      const local = makeTasks();
      await local.start();
      tasks = local;
      stops.push(() => local.stop());
    }
    const currentTasks = (): Tasks => {
      if (!tasks) throw internalError("this replica does not hold the tasks role now");
      return tasks;
    };
    const taskStats = () => tasks?.service.stats() ?? EMPTY_TASK_STATS;

    if (feishu) {
      const adapter = feishu;
      const intake = shared?.intake;
      await adapter.start(
        intake
          ? {
              // Feishu hands each event to one random replica: the task layer runs on one.
              onMessage: (message) => intake.forwardMessage(message),
              onCardAction: (action) => intake.forwardCard(action),
            }
          : {
              onMessage: (message) => currentTasks().handleMessage(message),
              onCardAction: (action) => currentTasks().handleCardAction(action),
            },
      );
      stops.push(() => adapter.stop());
    }

    // `startAt` applies to inboxes the tail ledger has no cursor for. At the very first start
    // those existed before the bridge and are skipped to their end (unless --replay); at any
    // later start they were created while the bridge was down, so every line in them is new.
    // The ledger's folder (state.dir/mailbox) exists once a tailer has run on this state.
    if (!shared) {
      const tailedBefore = await fs.stat(path.join(config.state.dir, "mailbox")).then(
        () => true,
        () => false,
      );
      const tailer: Tailer = await mailbox.tail({
        startAt: options.replay || tailedBefore ? "start" : "end",
        ledger: relay.tailLedger(),
        quarantine: countingQuarantine(metrics, new FileQuarantine(config.state.dir, undefined, logger)),
        // Tasks first (a task envelope or an answer to the bridge), then the relay, whose last
        // durable put records the line as read.
        handleBatch: inboxLinesHandler(relay, {
          concerns: (envelope) => concernsTasks(envelope, config.mailbox.self),
          handle: (envelope) => currentTasks().handleMailbox(envelope),
        }),
      });
      stops.push(() => tailer.stop());
    }

    watchRelay(metrics, relay);
    stops.push(watchGateways(metrics, gateways, clock));
    watchPool(metrics, pool);
    watchTasks(metrics, taskStats);
    if (feishu) watchFeishu(metrics, feishu);
    // Among replicas a node's gateway is seen alike by all: the "chat" holder says it.
    const saysSharedViews = () => !shared || roles?.holds(CHAT_ROLE) !== undefined;
    const checks: HealthCheck[] = [
      sharedFolderCheck(mailbox.layout.root, mailbox.layout.statusDir, config.mailbox.self),
      stateDirCheck(config.state.dir),
      ...(shared ? [redisCheck(() => shared.store.up())] : []),
      ...(feishu ? [feishuIntakeCheck(feishu)] : []),
      ...[...gateways].map(([node, gateway]) => ({
        ...gatewayCheck(node, gateway),
        announces: saysSharedViews,
      })),
    ].map((check) =>
      options.health?.graceMs === undefined ? check : { ...check, graceMs: options.health.graceMs },
    );
    const noticeChats = config.relay.auditChat ? [config.relay.auditChat] : (config.feishu?.chats ?? []);
    const outbound = feishu?.outbound;
    const monitor = new HealthMonitor({
      checks,
      metrics,
      logger,
      locale,
      clock,
      intervalMs: options.health?.intervalMs,
      ...(outbound
        ? {
            notices: {
              chats: noticeChats,
              send: (chatId: string, text: string, uuid: string) =>
                outbound.send({ chatId, content: { kind: "text", text }, uuid }),
            },
          }
        : {}),
    });
    await monitor.start();
    stops.push(() => monitor.stop());
    const health = () => ({ relay: relay.stats(), tasks: taskStats() });
    const ready = () =>
      readiness(pool, feishu, monitor, shared && { up: shared.store.up(), roles: roles?.held() ?? [] });

    const http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      logger,
      routes: [
        ...(feishu && config.feishu?.mode === "webhook" ? [feishu.webhook()] : []),
        ...(options.routes ?? []),
      ],
      health,
      ready,
    });
    stops.push(() => http.close(5_000));
    const ops = await startOpsServer({
      host: config.ops.host,
      port: config.ops.port,
      metrics,
      logger,
      health,
      ready,
    });
    stops.push(() => ops.close(5_000));
    // status/<self>.json: the bridge's own status, with what it sees of every node.
    const writeStatus = () =>
      mailbox
        .writeStatus({
          role: "clawbridge",
          version: packageVersion(),
          intervalMs: STATUS_INTERVAL_MS,
          nodes: pool
            .health()
            .map((n) => ({ name: n.name, status: n.status, running: n.running, lastSeen: n.lastSeen })),
          outboxes: relay.stats(),
          tasks: taskStats(),
          ...(shared ? { replica: shared.replicaId } : {}),
        })
        .catch((error: unknown) => logger.warn({ err: error }, "could not write status"));
    if (!shared) {
      await writeStatus();
      const statusTimer = clock.setInterval(() => void writeStatus(), STATUS_INTERVAL_MS);
      statusTimer.unref();
      stops.push(() => clock.clearInterval(statusTimer));
    } else {
      const sharedState = shared;
      const parts = {
        loaded,
        shared: sharedState,
        relay,
        mailbox,
        metrics,
        secrets,
        logger,
        clock,
        replay: options.replay ?? false,
        makeTasks: (fence: Fence) =>
          makeTasks(sharedState.journal("tasks", () => (fence.held() ? fence : undefined))),
        onTasks: (next: Tasks | undefined) => {
          tasks = next;
        },
        writeStatus,
        statusIntervalMs: STATUS_INTERVAL_MS,
      };
      const started = new ReplicaRoles({
        store: sharedState.store,
        registry: sharedState.registry,
        replicaId: sharedState.replicaId,
        leaseMs: sharedState.leaseMs,
        gatewayNodes: gatewayNodes.map((n) => n.name),
        part: (role) => rolePart(role, parts),
        onChange: (role, change) => {
          const label = roleLabel(role, config.nodes);
          metrics.roleHeld.set({ role: label }, change === "acquired" ? 1 : 0);
          metrics.roleChanges.inc({ role: label, change });
        },
        logger,
        clock,
      });
      roles = started;
      await started.start();
      stops.push(() => started.stop());
    }
    logger.info(
      { url: http.url, ops: ops.url, nodes: config.nodes.map((n) => n.name) },
      "clawbridge started",
    );
    return {
      url: http.url,
      opsUrl: ops.url,
      metrics,
      health: monitor,
      logger,
      relay,
      get tasks() {
        return currentTasks();
      },
      ...(feishu ? { feishu } : {}),
      ...(shared ? { replica: { id: shared.replicaId, roles: () => roles?.held() ?? [] } } : {}),
      reload: (next: LoadedConfig) => {
        // SIGHUP: who may command the bridge, and the nodes' tags; everything else needs a restart.
        tasks?.updateAccess(next.config.access);
        for (const node of next.config.nodes) pool.updateTags(node.name, node.tags);
        logger.info(
          { dispatchers: next.config.access.dispatchers.length, admins: next.config.access.admins.length },
          "reloaded access and node tags",
        );
      },
      stop: async (timeoutMs = 10_000) => {
        const timer = new Promise<false>((resolve) =>
          clock.setTimeout(() => resolve(false), timeoutMs).unref(),
        );
        return Promise.race([stopAll().then(() => true), timer]);
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function readiness(
  pool: NodePool,
  feishu: FeishuAdapter | undefined,
  monitor: HealthMonitor,
  replica: { up: boolean; roles: string[] } | undefined,
) {
  const parts: Record<string, { ready: boolean; detail?: string }> = {};
  if (replica) {
    parts.redis = { ready: replica.up, detail: replica.up ? "connected" : "not connected" };
    // Which roles this replica holds (none is fine: it still takes Feishu events and webhooks).
    parts.roles = { ready: true, detail: replica.roles.join(",") || "none" };
  }
  if (feishu) {
    const health = feishu.health();
    const ready = intakeUp(health);
    parts.feishu = { ready, detail: String(health.intake) };
  }
  // The monitor's latest verdicts (every few seconds): a probe per request would let anyone
  // who can reach the port make the bridge write to the share.
  const verdicts = monitor.verdicts();
  for (const [check, part] of [
    ["shared_folder", "mailbox"],
    ["state_dir", "state"],
  ] as const) {
    const verdict = verdicts[check];
    if (verdict)
      parts[part] = { ready: verdict.ok, detail: verdict.ok ? "ok" : (verdict.reason ?? "failing") };
  }
  for (const node of pool.health()) {
    // An offline node does not make the bridge unready: its work waits in the outbox.
    parts[`node:${node.name}`] = { ready: true, detail: String(node.status) };
  }
  return { ready: Object.values(parts).every((p) => p.ready), parts };
}
