import os from "node:os";
import {
  ClawbridgeError,
  closestKey,
  isValidNodeName,
  isValidTarget,
  nodeKey,
  type Params,
} from "../../core/index.js";
import { inboxPath, mailboxLayout } from "../../mailbox/index.js";
import { mailboxSettings, type CliContext, type MailboxSettings } from "../context.js";
import type { CliMessageKey } from "../messages.js";
import { appendEnvelope, knownNode, textArgument } from "./send.js";

export interface RunOptions {
  from?: string;
  shared?: string;
  config?: string;
}

/**
 * `clawbridge run [--from A] <node|#tag> "prompt"`: a `task` envelope with `target`, appended
 * to the bridge's own inbox (`to-<mailbox.self>.jsonl`) the way `send` appends. The bridge
 * dispatches it through the pool like `/run` and writes the result to `to-<from>.jsonl`.
 * Prints the envelope's id on stdout, and what happens next on stderr.
 */
export async function runCommand(
  ctx: CliContext,
  target: string,
  prompt: string,
  options: RunOptions,
): Promise<void> {
  const settings = mailboxSettings(ctx, options);
  const resolvedTarget = resolveTarget(ctx, settings, target);
  const from = resolveSender(ctx, settings, options.from);
  const content = textArgument(ctx, prompt, { message: "emptyPrompt", fix: "emptyPromptFix" });
  const envelope = await appendEnvelope(settings, {
    from,
    to: settings.self,
    type: "task",
    content,
    target: resolvedTarget,
  });
  ctx.out(envelope.id);
  ctx.err(
    ctx.t("runQueued", {
      self: settings.self,
      target: resolvedTarget,
      inbox: inboxPath(mailboxLayout(settings.root), from),
    }),
  );
}

function usage(ctx: CliContext, message: CliMessageKey, fix: CliMessageKey, params: Params): ClawbridgeError {
  return new ClawbridgeError("CB_USAGE", ctx.t(message, params), { fix: ctx.t(fix, params) });
}

/** `<node|#tag>`: with a config, a configured node (as the config spells it) or a tag some node has. */
function resolveTarget(ctx: CliContext, settings: MailboxSettings, target: string): string {
  if (!isValidTarget(target)) throw usage(ctx, "badTarget", "badTargetFix", { target });
  if (!target.startsWith("#") && nodeKey(target) === nodeKey(settings.self)) {
    throw usage(ctx, "targetIsBridge", "targetIsBridgeFix", { target });
  }
  const config = settings.loaded?.config;
  if (!config || !settings.configPath) return target;
  if (config.nodes.length === 0) throw usage(ctx, "noNodes", "noNodesFix", { config: settings.configPath });
  // Tags are compared as the pool compares them: ignoring case.
  const tags = [...new Set(config.nodes.flatMap((node) => node.tags.map((tag) => `#${tag}`)))];
  const choices = [...settings.nodes, ...tags];
  const found = choices.find((choice) => nodeKey(choice) === nodeKey(target));
  if (found) return target.startsWith("#") ? target : found;
  const near = closestKey(target, choices);
  throw usage(ctx, "unknownTarget", "unknownTargetFix", {
    target,
    config: settings.configPath,
    choices: choices.join(", "),
    suggestion: near ? ctx.t("didYouMean", { name: near }) : "",
  });
}

/**
 * `--from`: the node that asks, whose inbox gets the result. Defaults to this computer's
 * name when that is a node (with a config: a configured one). With a config it must be a
 * node `access.agents` lets dispatch, or the bridge would refuse the task.
 */
function resolveSender(ctx: CliContext, settings: MailboxSettings, given: string | undefined): string {
  const config = settings.loaded?.config;
  const configPath = settings.configPath;
  if (given === undefined) {
    const host = os.hostname().split(".")[0] ?? "";
    const match = settings.nodes.find((node) => nodeKey(node) === nodeKey(host));
    if (configPath && !match) {
      throw usage(ctx, "needFrom", "needFromFix", {
        host,
        config: configPath,
        nodes: settings.nodes.join(", "),
      });
    }
    if (!configPath && !isValidNodeName(host))
      throw usage(ctx, "needFromNoConfig", "needFromNoConfigFix", { host });
    given = match ?? host;
  }
  if (!isValidNodeName(given)) throw usage(ctx, "badSender", "badSenderFix", { from: given });
  if (nodeKey(given) === nodeKey(settings.self))
    throw usage(ctx, "senderIsBridge", "senderIsBridgeFix", { from: given });
  if (!config || !configPath) return given;
  const from = knownNode(ctx, given, settings.nodes, configPath);
  const agents = config.access.agents;
  if (!agents.includes("*") && !agents.some((agent) => nodeKey(agent) === nodeKey(from))) {
    throw usage(ctx, "agentNotAllowed", "agentNotAllowedFix", { from, config: configPath });
  }
  return from;
}
