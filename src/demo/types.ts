import type { Locale } from "../core/index.js";
import type { Bot, FeishuEmulator, Person } from "../sim/feishu/index.js";

/** A node of the sandbox as the page shows it. */
export interface DemoNode {
  name: string;
  displayName?: string;
  tags: string[];
  /** `gateway`: a simulated OpenClaw gateway; `mailbox`: only the shared folder (a simulated agent answers). */
  kind: "gateway" | "mailbox";
  /** The node's own Feishu bot in the demo group, when it has one. */
  bot?: Bot;
}

/**
 * What the demo's web page (`/demo/`) works on: the Feishu emulator the real bridge talks to,
 * the one group, the visitor who types in the page (a dispatcher), the nodes, and the shared
 * folder. Built by the sandbox (`startDemo`), read by the page's routes.
 */
export interface DemoWorld {
  emulator: FeishuEmulator;
  /** The demo group chat. */
  chatId: string;
  /** The person typing in the page; listed in `access.dispatchers`. */
  visitor: Person;
  /** The bridge's bot as the group sees it (the one to @mention for commands). */
  bridgeBot: Bot;
  nodes: DemoNode[];
  /** Root of the shared folder (`messages/`, `tasks/`, `status/` under it). */
  sharedDir: string;
  locale: Locale;
}
