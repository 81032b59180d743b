import { promises as fs } from "node:fs";
import path from "node:path";
import {
  createLogger,
  DEFAULT_LOCALE,
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
import { createRelay, type Relay } from "./relay/index.js";
import { createTasks, type Tasks } from "./tasks/index.js";

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
  tasks: Tasks;
  feishu?: FeishuAdapter;
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
  const metrics = new Metrics({
    nodes: config.nodes.map((n) => n.name),
    chats: [...(config.feishu?.chats ?? []), ...(config.relay.auditChat ? [config.relay.auditChat] : [])],
  });
  try {
    const stateLock = await lockStateDir(config.state.dir, { logger, clock });
    stops.push(() => stateLock.release());
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

    const gateways = new Map<string, GatewayClient>();
    const gatewayNodes = config.nodes.filter((n) => n.url);
    if (gatewayNodes.length > 0) {
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
        logger,
        nodeBots: config.nodes
          .filter((n) => n.bot)
          .map((n) => ({ node: n.name, unionId: n.bot?.unionId, name: n.bot?.name })),
      });
      await feishu.identify();
    }
    const relay = createRelay(config, {
      mailbox,
      gateways,
      chat: feishu?.outbound,
      logger,
      clock,
      metrics: relayMetrics(metrics),
    });
    await relay.start();
    stops.push(() => relay.stop());

    const tasks = createTasks(config, {
      relay,
      pool,
      gateways,
      mailbox,
      ...(feishu ? { chat: feishu.outbound } : {}),
      logger,
      clock,
    });
    await tasks.start();
    stops.push(() => tasks.stop());

    if (feishu) {
      const adapter = feishu;
      await adapter.start({
        onMessage: (message) => tasks.handleMessage(message),
        onCardAction: (action) => tasks.handleCardAction(action),
      });
      stops.push(() => adapter.stop());
    }

    // `startAt` applies to inboxes the tail ledger has no cursor for. At the very first start
    // those existed before the bridge and are skipped to their end (unless --replay); at any
    // later start they were created while the bridge was down, so every line in them is new.
    // The ledger's folder (state.dir/mailbox) exists once a tailer has run on this state.
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
      handler: async (envelope, meta) => {
        await tasks.handleMailbox(envelope);
        await relay.handleMailbox(envelope, { inbox: meta.inbox, end: meta.end });
      },
    });
    stops.push(() => tailer.stop());

    watchRelay(metrics, relay);
    stops.push(watchGateways(metrics, gateways, clock));
    watchPool(metrics, pool);
    watchTasks(metrics, () => tasks.service.stats());
    if (feishu) watchFeishu(metrics, feishu);
    const checks: HealthCheck[] = [
      sharedFolderCheck(mailbox.layout.root, mailbox.layout.statusDir, config.mailbox.self),
      stateDirCheck(config.state.dir),
      ...(feishu ? [feishuIntakeCheck(feishu)] : []),
      ...[...gateways].map(([node, gateway]) => gatewayCheck(node, gateway)),
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
    const health = () => ({ relay: relay.stats(), tasks: tasks.service.stats() });
    const ready = () => readiness(pool, feishu, monitor);

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
          tasks: tasks.service.stats(),
        })
        .catch((error: unknown) => logger.warn({ err: error }, "could not write status"));
    await writeStatus();
    const statusTimer = clock.setInterval(() => void writeStatus(), STATUS_INTERVAL_MS);
    statusTimer.unref();
    stops.push(() => clock.clearInterval(statusTimer));
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
      tasks,
      ...(feishu ? { feishu } : {}),
      reload: (next: LoadedConfig) => {
        // SIGHUP: who may command the bridge, and the nodes' tags; everything else needs a restart.
        tasks.updateAccess(next.config.access);
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

function readiness(pool: NodePool, feishu: FeishuAdapter | undefined, monitor: HealthMonitor) {
  const parts: Record<string, { ready: boolean; detail?: string }> = {};
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
