import { nodeKey } from "../core/index.js";

/** `access` from the config (SIGHUP replaces it). */
export interface AccessConfig {
  dispatchers: readonly string[];
  admins: readonly string[];
  /** Node names whose agents may dispatch `task` envelopes; `"*"` is every configured node. */
  agents?: readonly string[];
}

/** What a person may do: everyone reads; dispatchers run, tell and cancel their own; admins all. */
export interface Permissions {
  canDispatch: boolean;
  isAdmin: boolean;
}

/**
 * Who may command the bridge. One object for commands and card buttons alike, so a button
 * is checked exactly like the command it stands for (by the operator in the callback, never
 * by the card's author or a value in the card).
 */
export class AccessPolicy {
  private config: AccessConfig;

  constructor(
    config: AccessConfig,
    private readonly nodeNames: readonly string[],
  ) {
    this.config = config;
  }

  /** SIGHUP: the new lists apply to the next command. */
  update(config: AccessConfig): void {
    this.config = config;
  }

  of(openId: string): Permissions {
    const isAdmin = this.config.admins.includes(openId);
    return { isAdmin, canDispatch: isAdmin || this.config.dispatchers.includes(openId) };
  }

  /** Nobody at all may dispatch: a refusal then says how to start, not whom to ask. */
  get nobodyMay(): boolean {
    return this.config.dispatchers.length === 0 && this.config.admins.length === 0;
  }

  get admins(): readonly string[] {
    return this.config.admins;
  }

  /** Whether the agent of `node` may dispatch tasks (`access.agents`; a configured node only). */
  agentMay(node: string): boolean {
    const key = nodeKey(node);
    if (!this.nodeNames.some((name) => nodeKey(name) === key)) return false;
    const agents = this.config.agents ?? ["*"];
    return agents.includes("*") || agents.some((name) => nodeKey(name) === key);
  }
}
