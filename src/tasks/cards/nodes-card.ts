import type { Locale } from "../../core/index.js";
import type { CardJson } from "../../feishu/index.js";
import { renderProblem, type NodeHealth, type NodeStatus } from "../../nodes/index.js";
import { CARD_CALLBACKS } from "./callbacks.js";
import {
  callbackButton,
  card,
  largestFitting,
  markdown,
  plainText,
  type CardElement,
  type HeaderColor,
} from "./card-parts.js";
import { clipHead, foldLine } from "./clip-text.js";
import { relativeAge, timeAgo } from "./durations.js";
import { escapeMarkdown } from "./escape-markdown.js";
import { taskCardsMessages as m, type TaskCardsMessageKey } from "./messages.js";

export interface NodesCardOptions {
  now: number;
  /** Whether the person who asked may dispatch: only then is the Dispatch button shown. */
  canDispatch: boolean;
  locale: Locale;
}

/** At most this many node blocks; a bigger fleet gets "…and N more". */
export const MAX_NODE_BLOCKS = 50;

const NAME_CHARS = 40;
const PROBLEM_CHARS = 200;
const COMMAND_CHARS = 300;

const STATUS_KEYS: Record<NodeStatus, TaskCardsMessageKey> = {
  online: "statusOnline",
  offline: "statusOffline",
  pairing: "statusPairing",
  "auth-failed": "statusAuthFailed",
  connecting: "statusConnecting",
  "mailbox-live": "statusMailboxLive",
  "mailbox-stale": "statusMailboxStale",
  unknown: "statusUnknown",
};

const STATUS_COLORS: Record<NodeStatus, "green" | "red" | "orange" | "blue" | "grey"> = {
  online: "green",
  "mailbox-live": "green",
  pairing: "orange",
  "mailbox-stale": "orange",
  connecting: "blue",
  offline: "red",
  "auth-failed": "red",
  unknown: "grey",
};

/** 在线 / 离线 3分钟 / 待配对 / 仅邮箱 / 邮箱无响应 / 连接中 / 认证失败 / 未知 (and English). */
export function nodeStatusText(node: NodeHealth, locale: Locale): string {
  const t = m.t(locale);
  const gone = node.offlineForMs;
  if (node.status === "offline" && gone !== undefined) {
    return t("statusOfflineFor", { age: relativeAge(gone, locale) });
  }
  if (node.status === "mailbox-stale" && gone !== undefined) {
    return t("statusMailboxStaleFor", { age: relativeAge(gone, locale) });
  }
  // A mailbox-only node that has never written a status file is still reached through its inbox.
  if (node.kind === "mailbox" && node.status === "unknown") return t("statusMailboxNoStatus");
  return t(STATUS_KEYS[node.status]);
}

/** "AI电脑（ai-pc）" when the node has its own display name, else just its name. */
export function nodeLabel(node: Pick<NodeHealth, "name" | "displayName">, locale: Locale): string {
  const display = node.displayName?.trim();
  if (!display || display === node.name) return node.name;
  const shown = foldLine(display, NAME_CHARS);
  return locale === "zh-CN" ? `${shown}（${node.name}）` : `${shown} (${node.name})`;
}

/**
 * The `/nodes` card: one short block per node (status, load, tags, latency, last seen, what
 * is wrong and how to fix it), narrow enough for a phone. Names, tags and problems go
 * through `escapeMarkdown` or `plain_text`. The Dispatch button appears only for someone
 * who may dispatch; the button handler checks whoever presses it anyway.
 */
export function nodesCard(nodes: NodeHealth[], opts: NodesCardOptions): CardJson {
  const t = m.t(opts.locale);
  const healthy = nodes.filter((node) => node.healthy).length;
  const title = t("nodesTitle", { healthy, total: nodes.length });
  const color: HeaderColor =
    nodes.length === 0 ? "grey" : healthy === nodes.length ? "green" : healthy === 0 ? "red" : "orange";
  const build = (shown: number): CardJson => {
    const elements: CardElement[] = [];
    if (nodes.length === 0) elements.push(plainText(t("nodesEmpty"), { color: "grey" }));
    for (const node of nodes.slice(0, shown)) elements.push(...nodeBlock(node, opts));
    if (nodes.length > shown) {
      elements.push(plainText(t("nodesMore", { count: nodes.length - shown }), { color: "grey" }));
    }
    if (opts.canDispatch && nodes.length > 0) {
      elements.push(callbackButton(t("dispatchButton"), { cb: CARD_CALLBACKS.runForm }, { type: "primary" }));
    }
    return card(title, color, elements);
  };
  const most = Math.min(nodes.length, MAX_NODE_BLOCKS);
  return largestFitting(build, Math.min(1, most), most);
}

function nodeBlock(node: NodeHealth, opts: NodesCardOptions): CardElement[] {
  const { locale, now } = opts;
  const t = m.t(locale);
  const display = node.displayName?.trim();
  const name =
    display && display !== node.name
      ? `**${escapeMarkdown(foldLine(display, NAME_CHARS))}** ${escapeMarkdown(node.name)}`
      : `**${escapeMarkdown(node.name)}**`;
  const status = `<font color='${STATUS_COLORS[node.status]}'>${escapeMarkdown(nodeStatusText(node, locale))}</font>`;
  const facts = [t("nodeLoad", { running: node.running, max: node.maxConcurrent })];
  if (node.tags.length > 0) facts.push(node.tags.map((tag) => `#${foldLine(tag, NAME_CHARS)}`).join(" "));
  if (node.latencyMs !== undefined) facts.push(t("nodeLatency", { ms: Math.round(node.latencyMs) }));
  // A connected gateway is seen right now; saying "just now" on every one of them is noise.
  if (node.status !== "online" && node.lastSeen !== undefined) {
    facts.push(t("nodeSeen", { ago: timeAgo(node.lastSeen, now, locale) }));
  }
  const block: CardElement[] = [markdown(`${name} · ${status}\n${escapeMarkdown(facts.join(" · "))}`)];
  if (node.pairing) {
    block.push(plainText(t("runOn", { node: node.name }), { color: "grey", size: "notation" }));
    block.push(plainText(clipHead(node.pairing.command, COMMAND_CHARS), { color: "blue" }));
  }
  if (node.lastError) {
    const { message, fix } = renderProblem(node.lastError, locale);
    const said = fix === undefined ? message : `${message} — ${fix}`;
    block.push(plainText(foldLine(said, PROBLEM_CHARS), { color: "grey", size: "notation" }));
  }
  return block;
}
