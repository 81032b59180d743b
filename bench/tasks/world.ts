import { startBridge, type RunningBridge } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import type { ReplyScript } from "../../src/sim/fake-gateway.js";
import {
  startFeishuEmulator,
  type FeishuEmulator,
  type FeishuLimits,
  type Person,
} from "../../src/sim/feishu/index.js";
import type { Task } from "../../src/tasks/index.js";
import { benchFolder } from "../lib/fixture.js";
import { epochMs } from "../lib/report.js";
import { within } from "../lib/within.js";
import { Child, sleep } from "../relay/ipc.js";
import { ArrivalLog, BENCH_BUDGET, countingLogger, GATEWAY_TOKEN, writeConfig } from "../relay/world.js";
export { cardText } from "../../test/helpers/card-reading.js";

/** The node every benchmark command runs on (`/run ai-pc …`). */
export const NODE = "ai-pc";
const READY_TIMEOUT_MS = 20_000;

export interface TaskWorldOptions {
  label: string;
  /** The emulator's limits; what is not given stays at Feishu's. */
  limits: Partial<FeishuLimits>;
  /** How ai-pc's fake agent answers every task. */
  script: ReplyScript;
  /** Group chats the commands are spread over (round-robin): the bridge sends ≤ 5 messages/s per chat. */
  chats: number;
  /** ai-pc's `maxConcurrent`: high enough that no benchmark task is queued. */
  maxConcurrent: number;
  /** Have the fakes record when each run ended (`ends`). */
  recordEnds?: boolean;
}

/** A `/run` said in a group: the command's message id and when it was said (epoch ms). */
export interface Said {
  chatId: string;
  messageId: string;
  at: number;
}

/**
 * The tasks world: the Feishu emulator with `chats` group chats (the bridge and 小王, a
 * dispatcher, in each), ai-pc's fake gateway in a process of its own, a temp shared folder
 * and state dir, a config file with the secrets in the environment, and the bridge in this
 * process — which `restart` stops and starts again on the same config and state.
 */
export class TaskWorld {
  bridge!: RunningBridge;
  readonly arrivals: ArrivalLog;
  private readonly log: ReturnType<typeof countingLogger>;
  private constructor(
    readonly emu: FeishuEmulator,
    readonly fakes: Child,
    readonly wang: Person,
    readonly chats: string[],
    private readonly folder: ReturnType<typeof benchFolder>,
    private readonly configPath: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.arrivals = new ArrivalLog(fakes);
    this.log = countingLogger([emu.bridge.appSecret, GATEWAY_TOKEN]);
  }

  static async open(options: TaskWorldOptions): Promise<TaskWorld> {
    const folder = benchFolder(`tasks-${options.label}`);
    const emu = await startFeishuEmulator({ limits: options.limits });
    const fakes = new Child("bench/relay/fakes-process.ts", [
      JSON.stringify({
        token: GATEWAY_TOKEN,
        nodes: [{ name: NODE, script: options.script }],
        recordEnds: options.recordEnds ?? false,
      }),
    ]);
    try {
      const { urls } = await fakes.ready;
      const wang = emu.addPerson({ name: "小王" });
      const chats = Array.from({ length: options.chats }, (_, k) =>
        emu.createChat({ name: `bench-${k}`, members: ["bridge", wang] }),
      );
      const configPath = writeConfig(folder.base, {
        feishu: {
          appId: emu.bridge.appId,
          appSecret: "${FEISHU_APP_SECRET}",
          domain: emu.url,
          chats,
          locale: "en",
        },
        http: { host: "127.0.0.1", port: 0 },
        ops: { host: "127.0.0.1", port: 0 },
        nodes: [
          {
            name: NODE,
            url: urls[NODE],
            token: "${AI_PC_TOKEN}",
            maxConcurrent: options.maxConcurrent,
          },
          { name: "nas-agent" },
        ],
        mailbox: { root: folder.root, watch: "native" },
        relay: { budget: BENCH_BUDGET },
        tasks: { maxQueued: 1_000 },
        access: { dispatchers: [wang.openIdFor(emu.bridge.appId)] },
        state: { dir: folder.stateDir },
        log: { level: "warn" },
      });
      const env = { FEISHU_APP_SECRET: emu.bridge.appSecret, AI_PC_TOKEN: GATEWAY_TOKEN };
      const world = new TaskWorld(emu, fakes, wang, chats, folder, configPath, env);
      await world.start();
      return world;
    } catch (error) {
      await fakes.stop();
      await emu.close();
      folder.remove();
      throw error;
    }
  }

  /** Starts the bridge on the world's config and state; resolves with when `startBridge` was called. */
  async start(): Promise<{ startedAt: number }> {
    const startedAt = Date.now();
    this.bridge = await startBridge(loadConfig({ path: this.configPath, env: this.env }), {
      logger: this.log.logger,
    });
    return { startedAt };
  }

  /** Until the bridge has its Feishu long connection and ai-pc's gateway (`/readyz`), bounded. */
  async ready(): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      const response = await fetch(`${this.bridge.url}/readyz`);
      const body = (await response.json()) as {
        ready: boolean;
        parts: Record<string, { detail?: string }>;
      };
      if (body.ready && body.parts[`node:${NODE}`]?.detail === "online") return;
      if (performance.now() > deadline) throw new Error(`bridge not ready: ${JSON.stringify(body.parts)}`);
      await sleep(50);
    }
  }

  /** 小王 says `@clawbridge /run ai-pc <prompt>` in chat `k` (mod the chat count). */
  run(k: number, prompt: string): Said {
    const chatId = this.chats[k % this.chats.length]!;
    const at = epochMs();
    const { messageId } = this.emu.say(chatId, this.wang, `/run ${NODE} ${prompt}`, { mentions: ["bridge"] });
    return { chatId, messageId, at };
  }

  /** The tasks the bridge keeps, by the command message they answer. */
  tasksByCommand(): Map<string, Task> {
    const byCommand = new Map<string, Task>();
    for (const task of this.bridge.tasks.service.list(Number.MAX_SAFE_INTEGER)) {
      if (task.place?.replyTo) byCommand.set(task.place.replyTo, task);
    }
    return byCommand;
  }

  /** Until every command has its task with a card, bounded; the tasks by command. */
  async tasksFor(said: readonly Said[], timeoutMs: number): Promise<Map<string, Task>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const tasks = this.tasksByCommand();
      const complete = said.every((s) => tasks.get(s.messageId)?.place?.cardMessageId !== undefined);
      if (complete || performance.now() > deadline) return tasks;
      await sleep(50);
    }
  }

  warnings(): number {
    return this.log.warnings();
  }

  lastWarnings(): string[] {
    return this.log.last;
  }

  async stopBridge(timeoutMs = 10_000): Promise<boolean> {
    return within(this.bridge.stop(timeoutMs), timeoutMs + 1_000, "the bridge to stop");
  }

  async close(): Promise<void> {
    if (this.warnings() > 0) process.stderr.write(`tasks bench warnings: ${this.log.last.join("\n")}\n`);
    await this.bridge.stop(5_000).catch(() => false);
    await this.fakes.stop();
    await this.emu.close();
    this.folder.remove();
  }
}

/** The state a task card's header shows (`Task T7 · ai-pc · running · 00:03`): "running", "done"… */
export function cardState(content: unknown): string | undefined {
  const title = (content as { header?: { title?: { content?: string } } } | undefined)?.header?.title
    ?.content;
  if (!title) return undefined;
  for (const state of ["queued", "running", "done", "failed", "cancelled", "timed out"]) {
    if (title.split(" · ").some((part) => part === state || part.startsWith(`${state} `))) return state;
  }
  return undefined;
}

/** The most patches a message took within any 1 s window. */
export function maxPatchesPerSecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to++) {
    while (sorted[to]! - sorted[from]! >= 1_000) from++;
    best = Math.max(best, to - from + 1);
  }
  return best;
}

/** Calls `fire(i)` every `spacingMs` for `count` times (open loop: whatever became of the last). */
export async function openLoop<T>(count: number, spacingMs: number, fire: (i: number) => T): Promise<T[]> {
  const fired: T[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * spacingMs - performance.now();
    if (wait > 1) await sleep(wait);
    fired.push(fire(i));
  }
  return fired;
}
