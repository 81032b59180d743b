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
import { FeishuAdapter } from "./feishu/index.js";
import {
  DeviceTokenStore,
  loadOrCreateIdentity,
  WsGatewayClient,
  type GatewayClient,
} from "./gateway/index.js";
import { startHttpServer, type MountedMiddleware } from "./http/index.js";
import { acquireLease, FsMailboxStore, type Tailer } from "./mailbox/index.js";
import { NodePool } from "./nodes/index.js";
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
}

export interface RunningBridge {
  url: string;
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
    const relay = createRelay(config, { mailbox, gateways, chat: feishu?.outbound, logger, clock });
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
      // Tasks first (a task envelope or an answer to the bridge), then the relay, whose last
      // durable put records the line as read.
      handler: async (envelope, meta) => {
        await tasks.handleMailbox(envelope);
        await relay.handleMailbox(envelope, { inbox: meta.inbox, end: meta.end });
      },
    });
    stops.push(() => tailer.stop());

    const http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      logger,
      routes: [
        ...(feishu && config.feishu?.mode === "webhook" ? [feishu.webhook()] : []),
        ...(options.routes ?? []),
      ],
      health: () => ({ relay: relay.stats(), tasks: tasks.service.stats() }),
      ready: () => readiness(pool, feishu),
    });
    stops.push(() => http.close(5_000));
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
    logger.info({ url: http.url, nodes: config.nodes.map((n) => n.name) }, "clawbridge started");
    return {
      url: http.url,
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

function readiness(pool: NodePool, feishu: FeishuAdapter | undefined) {
  const parts: Record<string, { ready: boolean; detail?: string }> = {};
  if (feishu) {
    const health = feishu.health();
    const ready = health.intake === "connected" || health.intake === "webhook";
    parts.feishu = { ready, detail: String(health.intake) };
  }
  for (const node of pool.health()) {
    // An offline node does not make the bridge unready: its work waits in the outbox.
    parts[`node:${node.name}`] = { ready: true, detail: String(node.status) };
  }
  return { ready: Object.values(parts).every((p) => p.ready), parts };
}
