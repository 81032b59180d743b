import { isFencedError, RedisTailLedger, type Fence, type ReleaseReason } from "../cluster/index.js";
import type { LoadedConfig } from "../config/index.js";
import type { Clock, Logger, SecretRegistry, TimerHandle } from "../core/index.js";
import { WsGatewayClient } from "../gateway/index.js";
import { FileQuarantine, type MailboxStore, type Tailer } from "../mailbox/index.js";
import { countingQuarantine, type Metrics } from "../ops/index.js";
import { CHAT_TARGET, inboxLinesHandler, MAILBOX_TARGET, type Relay } from "../relay/index.js";
import { concernsTasks, type Tasks } from "../tasks/index.js";
import { GatewayHost } from "./gateway-host.js";
import { ObservedPublisher } from "./observed-stream.js";
import { CHAT_ROLE, FOLDER_ROLE, INBOXES_ROLE, TASKS_ROLE, type RolePart } from "./replica-roles.js";
import type { SharedState } from "./shared-state.js";

export interface RolePartsOptions {
  loaded: LoadedConfig;
  shared: SharedState;
  relay: Relay;
  mailbox: MailboxStore;
  metrics: Metrics;
  secrets: SecretRegistry;
  logger: Logger;
  clock: Clock;
  /** `clawbridge start --replay`: the very first tailer of this team reads the inboxes from their start. */
  replay: boolean;
  /** The task layer for one term of the "tasks" role, its journal fenced by it. */
  makeTasks(fence: Fence): Tasks;
  /** The task layer this replica runs now (or none): what status, metrics and tests read. */
  onTasks(tasks: Tasks | undefined): void;
  /** Writes `status/<self>.json` (the "folder" role's). */
  writeStatus(): Promise<void>;
  statusIntervalMs: number;
}

/**
 * What each role does on the replica that holds it. Each part's `start` takes its work over
 * where the previous holder left it (the outbox entries it had taken, the tailer's cursors,
 * the task journal), and `stop` ends it so the next holder can.
 */
export function rolePart(role: string, options: RolePartsOptions): RolePart {
  if (role === CHAT_ROLE) return claimPart(options, CHAT_TARGET);
  if (role === FOLDER_ROLE) return folderPart(options);
  if (role === INBOXES_ROLE) return claimPart(options, MAILBOX_TARGET);
  if (role === TASKS_ROLE) return tasksPart(options);
  if (role.startsWith("node:")) return nodePart(options, role.slice("node:".length));
  throw new Error(`unknown role ${role}`);
}

/**
 * Taking a target's outbox over waits for what a lost holder had taken to go idle (a few
 * seconds at most): it goes on in the background so the other roles are not held up.
 */
function claimPart(options: RolePartsOptions, target: string): RolePart & { claiming?: Promise<void> } {
  const log = options.logger.child({ component: "replica", target });
  let claiming: Promise<void> | undefined;
  return {
    start: async (fence) => {
      claiming = options.relay.claim(target, fence).catch((error: unknown) => {
        log.error({ err: error }, "could not take the outbox over");
      });
    },
    stop: async () => {
      await claiming;
      claiming = undefined;
      await options.relay.release(target);
    },
  };
}

function folderPart(options: RolePartsOptions): RolePart {
  const { shared, relay, mailbox, logger, clock } = options;
  const self = options.loaded.config.mailbox.self;
  let tailer: Tailer | undefined;
  let statusTimer: TimerHandle | undefined;
  return {
    start: async (fence) => {
      // The first tailer the team ever ran starts at the inboxes' end (unless --replay), as
      // one bridge does on its first start; every later one resumes from the shared cursors.
      const first = await shared.store.client.set(shared.store.key("tail", "begun"), "1", "NX");
      tailer = await mailbox.tail({
        startAt: first === "OK" && !options.replay ? "end" : "start",
        ledger: new RedisTailLedger(shared.store, fence),
        quarantine: countingQuarantine(
          options.metrics,
          new FileQuarantine(options.loaded.config.state.dir, undefined, logger),
        ),
        // Commands and task answers go to the replica running the task layer; the relay's
        // part of the line is done here. Both are durable before the line counts as read.
        handleBatch: inboxLinesHandler(relay, {
          concerns: (envelope) => concernsTasks(envelope, self),
          handle: (envelope) => shared.intake.forwardMailbox(envelope),
        }),
      });
      const writeStatus = () => (fence.held() ? options.writeStatus() : Promise.resolve());
      await writeStatus();
      statusTimer = clock.setInterval(() => void writeStatus(), options.statusIntervalMs);
      statusTimer.unref();
    },
    stop: async () => {
      clock.clearInterval(statusTimer);
      statusTimer = undefined;
      await tailer?.stop().catch((error: unknown) => {
        // The role is gone: saving the last cursor is refused, the next holder re-reads a little.
        if (!isFencedError(error)) throw error;
      });
      tailer = undefined;
    },
  };
}

function tasksPart(options: RolePartsOptions): RolePart {
  let tasks: Tasks | undefined;
  return {
    start: async (fence) => {
      const started = options.makeTasks(fence);
      await started.start();
      tasks = started;
      options.onTasks(started);
      await options.shared.intake.serve(fence, {
        message: (message) => started.handleMessage(message),
        card: (event) => started.handleCardAction(event),
        mailbox: (envelope) => started.handleMailbox(envelope),
      });
    },
    stop: async () => {
      await options.shared.intake.stopServing();
      options.onTasks(undefined);
      await tasks?.stop();
      tasks = undefined;
    },
  };
}

function nodePart(options: RolePartsOptions, node: string): RolePart {
  const { loaded, shared, relay, logger, clock } = options;
  const index = loaded.config.nodes.findIndex((n) => n.name === node);
  const nodeConfig = loaded.config.nodes[index]!;
  const deliveries = claimPart(options, node);
  let client: WsGatewayClient | undefined;
  let host: GatewayHost | undefined;
  let published: ObservedPublisher | undefined;
  return {
    start: async (fence) => {
      client = new WsGatewayClient({
        node,
        url: nodeConfig.url!,
        token: nodeConfig.token,
        tokenSource: loaded.sources[`nodes[${index}].token`]?.[0],
        // One device for every replica: the gateway approved it once.
        identity: shared.identity,
        deviceTokens: shared.deviceTokens,
        logger,
        secrets: options.secrets,
        clock,
      });
      client.start();
      relay.attachGateway(node, client);
      host = new GatewayHost({
        store: shared.store,
        node,
        gateway: client,
        fence,
        consumer: shared.replicaId,
        claimIdleMs: shared.claimIdleMs,
        logger,
        clock,
      });
      await host.start();
      // What its agent says, for /watch on the replica running the task layer.
      published = new ObservedPublisher({ store: shared.store, node, gateway: client, logger });
      published.start();
      await deliveries.start(fence);
    },
    stop: async (reason: ReleaseReason) => {
      await deliveries.stop(reason);
      published?.stop();
      published = undefined;
      await host?.stop();
      host = undefined;
      relay.detachGateway(node);
      await client?.stop();
      client = undefined;
    },
  };
}
