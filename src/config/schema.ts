import { z } from "zod";
import { DEFAULT_LOCALE, DEFAULT_SELF_NAME, LOCALES, NODE_NAME_PATTERN } from "../core/index.js";
import {
  checkConfig,
  checkFeishuDomain,
  checkGatewayUrl,
  checkInteger,
  checkRedisUrl,
} from "./refinements.js";

/**
 * The whole clawbridge config as one strict zod schema. This file is the reference: every
 * key carries a `.describe()`, and `config/clawbridge.example.json5` shows every key (a
 * test walks this schema and checks both). Strict objects everywhere, so a typo is an
 * error that names the key instead of a setting silently ignored.
 */

/** OpenClaw agent ids end up inside session keys (`agent:<agentId>:…`), so no ":" or spaces. */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Tags are matched by `/run #tag`: one word, no "#" (it is the selector), no "," (lists). */
export const TAG_PATTERN = /^[^\s#,]{1,64}$/u;

/**
 * A whole number in [min, max]. Not `z.number().int()`: zod marks a fractional number as an
 * aborting issue, which would silence the cross-key checks and hide the config's other problems.
 */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.number().superRefine(checkInteger).min(min).max(max);
/** Node's timers take at most 2^31 − 1 ms (24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;
const port = (fallback: number, what: string) => int(0, 65535).default(fallback).describe(what);
const host = (what: string) => z.string().min(1).default("127.0.0.1").describe(what);
const chatId = () => z.string().startsWith("oc_");
const openId = () => z.string().startsWith("ou_");
/** `${VAR}` references only (enforced on the raw file, see secrets.ts). */
const secret = (what: string) => z.string().min(1).describe(`${what} Secret: write it as "\${VAR}".`);

/** `feishu`: the bridge bot's app; the section is optional as a whole. */
export const feishuSchema = z
  .strictObject({
    appId: z.string().min(1).describe('App ID of the bridge bot ("cli_…", Feishu developer console).'),
    appSecret: secret("App Secret of the bridge bot."),
    domain: z
      .string()
      .superRefine(checkFeishuDomain)
      .default("feishu")
      .describe(
        '"feishu" (China), "lark" (international) or an http(s) base URL (tests, private deployments).',
      ),
    mode: z
      .enum(["websocket", "webhook"])
      .default("websocket")
      .describe('How events arrive: "websocket" (long connection, no public URL needed) or "webhook".'),
    encryptKey: secret(
      "Encrypt Key for webhook events (Events and callbacks → Encryption strategy).",
    ).optional(),
    verificationToken: secret("Verification Token for webhook events.").optional(),
    chats: z
      .array(chatId())
      .default(() => [])
      .describe('Group chat ids served ("oc_…"); empty = every group the bot is in (warned at start).'),
    locale: z
      .enum(LOCALES)
      .default(DEFAULT_LOCALE)
      .describe('Language of chat replies and cards: "zh-CN" or "en".'),
  })
  .describe("The Feishu (Lark) app of the bridge bot; leave it out to run without Feishu.");

const httpSchema = z
  .strictObject({
    host: host("Address of the main listener (webhooks, health); beyond loopback is reported by doctor."),
    port: port(8787, "Port of the main listener; 0 = any free port."),
  })
  .describe("Main HTTP listener: POST /feishu/events, POST /feishu/cards, /healthz, /readyz.");

const opsSchema = z
  .strictObject({
    host: host("Address of the ops listener; keep it on loopback unless a scraper needs it."),
    port: port(9464, "Port of the ops listener; must differ from http.port (unless 0)."),
  })
  .describe("Ops listener: GET /metrics, /healthz, /readyz.");

const botSchema = z
  .strictObject({
    unionId: z
      .string()
      .startsWith("on_")
      .optional()
      .describe("union_id of the node's own Feishu bot (open_ids differ per app, union_ids do not)."),
    name: z.string().min(1).optional().describe("Display name of the node's own bot, matched in @mentions."),
    hearsBots: z
      .boolean()
      .default(false)
      .describe("True when the node's OpenClaw already receives other bots' @mentions (allowBots)."),
  })
  .describe("The node's own Feishu bot, if it has one.");

/** One entry of `nodes`. */
export const nodeSchema = z
  .strictObject({
    name: z
      .string()
      .regex(NODE_NAME_PATTERN)
      .describe('Node name: letters, digits, "-", "_"; unique ignoring case; its inbox is to-<name>.jsonl.'),
    displayName: z.string().min(1).optional().describe('Name shown to people (any text, e.g. "AI电脑").'),
    url: z
      .string()
      .superRefine(checkGatewayUrl)
      .optional()
      .describe("OpenClaw gateway URL (ws:// or wss://); no url = a mailbox-only node."),
    token: secret("Gateway token for the first pairing.").optional(),
    tags: z
      .array(z.string().regex(TAG_PATTERN))
      .default(() => [])
      .describe('Tags for "/run #tag" (e.g. "gpu"); reloaded on SIGHUP.'),
    maxConcurrent: int(1).default(1).describe("Tasks this node may run at the same time."),
    agentId: z
      .string()
      .regex(AGENT_ID_PATTERN)
      .default("main")
      .describe("OpenClaw agent that receives messages and tasks on this node."),
    bot: botSchema.optional(),
  })
  .describe("One OpenClaw instance (a computer).");

/** `mailbox`: the shared folder; `root` is the one required key of the whole config. */
export const mailboxSchema = z
  .strictObject({
    root: z
      .string()
      .min(1)
      .describe("Shared folder (SMB/NFS mount) holding messages/, tasks/, status/; relative to this file."),
    self: z
      .string()
      .regex(NODE_NAME_PATTERN)
      .default(DEFAULT_SELF_NAME)
      .describe("The bridge's own node name in the mailbox (reserved: no node may use it)."),
    watch: z
      .enum(["auto", "native", "poll"])
      .default("auto")
      .describe('"auto" (polls on network mounts, native events elsewhere), "native" or "poll".'),
    pollMs: int(50, 600_000)
      .default(1000)
      .describe("Poll interval in ms (poll mode, and the slow safety poll)."),
    maxLineBytes: int(1024, 67_108_864)
      .default(1_048_576)
      .describe("Longest inbox line accepted; longer lines are quarantined."),
    lockStaleMs: int(1000, 600_000)
      .default(10_000)
      .describe("A <file>.lock older than this (by the server's mtime) is stale and taken over."),
  })
  .describe("The shared-folder mailboxes (the seed's protocol).");

const budgetSchema = z
  .strictObject({
    perPairPerMinute: int(1).default(20).describe("Forwards allowed between one pair of nodes per minute."),
    cooldownSeconds: int(1).default(60).describe("Pause for a pair that used up its budget."),
  })
  .prefault({})
  .describe("Loop brake between two nodes.");

const relaySchema = z
  .strictObject({
    maxHops: int(1, 32).default(4).describe("Forwards per conversation before it stops."),
    mirrorToChat: z.boolean().default(true).describe("Post relayed traffic into the group thread."),
    auditChat: chatId().optional().describe('Chat ("oc_…") that gets a copy of mailbox traffic as [A → B].'),
    budget: budgetSchema,
    outboxPerNode: int(1)
      .default(1000)
      .describe("Envelopes kept per offline node; a notice is posted on overflow."),
    runTimeoutMs: int(1000, MAX_TIMER_MS)
      .default(600_000)
      .describe("How long one relayed delivery may run on a node's agent before it counts as timed out."),
  })
  .prefault({})
  .describe("Routes between the group, gateways and mailboxes; loop prevention.");

const tasksSchema = z
  .strictObject({
    timeoutMs: int(1000, MAX_TIMER_MS)
      .default(1_800_000)
      .describe("A task running longer than this is cancelled (at most 2147483647, about 24.8 days)."),
    maxQueued: int(0).default(100).describe("Tasks waiting for a free node; more are refused."),
  })
  .prefault({})
  .describe("/run tasks.");

const accessSchema = z
  .strictObject({
    dispatchers: z
      .array(openId())
      .default(() => [])
      .describe('open_ids ("ou_…") allowed to /run, /tell, /cancel; empty = nobody.'),
    admins: z
      .array(openId())
      .default(() => [])
      .describe("open_ids that are dispatchers and may cancel anyone's task."),
    agents: z
      .array(z.string())
      .default(() => ["*"])
      .describe(
        'Node names whose agents may dispatch "task" envelopes to the bridge (clawbridge run); "*" = every configured node.',
      ),
  })
  .prefault({})
  .describe("Who may command the bridge; reloaded on SIGHUP (/whoami shows your open_id).");

/** `state.redis`: the shared store of several bridge replicas (see README "Running more than one bridge"). */
const redisSchema = z
  .strictObject({
    url: z
      .string()
      .min(1)
      .superRefine(checkRedisUrl)
      .describe(
        'Redis URL, e.g. "redis://:password@host:6379/0", or "rediss://…" for TLS. Secret: write it as "${VAR}".',
      ),
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,64}$/)
      .default("clawbridge:")
      .describe("Prefix of every key the bridge writes; replicas of one team share it."),
    leaseMs: int(1_000, 60_000)
      .default(3_000)
      .describe(
        "How long a role (a node's gateway, the folder tailer, a writer) stays with a replica that stopped renewing it.",
      ),
    claimIdleMs: int(100, 600_000)
      .default(1_000)
      .describe("How long work a lost replica had taken must have been idle before another takes it over."),
  })
  .describe('The Redis store (state.store: "redis").');

const stateSchema = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .default(".clawbridge")
      .describe("Local folder for cursors, outbox, journal and the device key; relative to this file."),
    store: z
      .enum(["file", "redis"])
      .default("file")
      .describe(
        'Where outboxes, cursors, dedup and the task journal live: "file" (state.dir, one process) or "redis" (shared by any number of replicas).',
      ),
    redis: redisSchema.optional(),
  })
  .prefault({})
  .describe("Local state (back it up: it holds the device identity).");

const logSchema = z
  .strictObject({
    level: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info")
      .describe("Lowest level written to the log."),
  })
  .prefault({})
  .describe("Logging (secrets are always redacted).");

/** The whole config file. Parse it with `loadConfig`/`parseConfigText`, which add env and paths. */
export const configSchema = z
  .strictObject({
    envFile: z
      .string()
      .min(1)
      .optional()
      .describe("Optional env file (KEY=value lines) for ${VAR} references; relative to this file."),
    feishu: feishuSchema.optional(),
    http: httpSchema.prefault({}),
    ops: opsSchema.prefault({}),
    nodes: z
      .array(nodeSchema)
      .default(() => [])
      .describe("The OpenClaw instances (computers) the bridge connects."),
    mailbox: mailboxSchema,
    relay: relaySchema,
    tasks: tasksSchema,
    access: accessSchema,
    state: stateSchema,
    log: logSchema,
  })
  // Cross-key rules (names unique, reserved self, ports, webhook, token needs url) also run
  // when other keys are broken, so a config shows all of its problems at once.
  .superRefine(checkConfig, { when: () => true });

/** A validated config (defaults filled; `loadConfig` also makes paths absolute). */
export type Config = z.output<typeof configSchema>;
/** What a config file may contain (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** One validated node (defaults filled). */
export type NodeConfig = z.output<typeof nodeSchema>;
/** The validated `mailbox` section (`root` absolute after loading). */
export type MailboxConfig = z.output<typeof mailboxSchema>;
/** The validated `feishu` section, when present. */
export type FeishuConfig = z.output<typeof feishuSchema>;
