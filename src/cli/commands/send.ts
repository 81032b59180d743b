import { readFileSync } from "node:fs";
import {
  ClawbridgeError,
  closestKey,
  ENVELOPE_TYPES,
  nodeKey,
  type Envelope,
  type EnvelopeType,
} from "../../core/index.js";
import { FsMailboxStore, type NewEnvelope } from "../../mailbox/index.js";
import { cliLogger, mailboxSettings, type CliContext, type MailboxSettings } from "../context.js";
import type { CliMessageKey } from "../messages.js";

export interface SendOptions {
  from: string;
  to: string;
  type: string;
  replyTo?: string;
  shared?: string;
  config?: string;
}

/** `clawbridge send`: one envelope appended under the lock; prints its id. */
export async function sendCommand(ctx: CliContext, text: string, options: SendOptions): Promise<void> {
  const settings = mailboxSettings(ctx, options);
  const content = textArgument(ctx, text, { message: "emptyText", fix: "emptyTextFix" });
  if (!(ENVELOPE_TYPES as readonly string[]).includes(options.type)) {
    throw new ClawbridgeError("CB_USAGE", `--type ${JSON.stringify(options.type)}`, {
      fix: ENVELOPE_TYPES.join(" | "),
    });
  }
  // With a config, a mistyped recipient would create an inbox nobody reads: refuse it.
  if (settings.configPath)
    knownNode(ctx, options.to, [...settings.nodes, settings.self], settings.configPath);
  const envelope = await appendEnvelope(settings, {
    from: options.from,
    to: options.to,
    type: options.type as EnvelopeType,
    content,
    ...(options.replyTo ? { replyTo: options.replyTo } : {}),
  });
  ctx.out(envelope.id);
}

/**
 * The one way the CLI writes to the shared folder (`send`, `run`): through the mailbox
 * store, which validates the envelope, fills in id and timestamp, and appends one whole
 * line under the inbox's lock.
 */
export async function appendEnvelope(settings: MailboxSettings, envelope: NewEnvelope): Promise<Envelope> {
  const store = new FsMailboxStore({ ...settings, logger: cliLogger(settings.loaded) });
  return store.append(envelope);
}

/** A text argument: "-" reads standard input (its last line break dropped); blank text is refused. */
export function textArgument(
  ctx: CliContext,
  text: string,
  empty: { message: CliMessageKey; fix: CliMessageKey },
): string {
  const content = text === "-" ? readFileSync(0, "utf8").replace(/\r?\n$/, "") : text;
  if (content.trim() === "")
    throw new ClawbridgeError("CB_USAGE", ctx.t(empty.message), { fix: ctx.t(empty.fix) });
  return content;
}

/**
 * `name` as the config spells it, when it is one of `known` (ignoring case, as node names
 * do); otherwise a usage error listing them, with the near one.
 */
export function knownNode(ctx: CliContext, name: string, known: readonly string[], config: string): string {
  const found = known.find((each) => nodeKey(each) === nodeKey(name));
  if (found) return found;
  const near = closestKey(name, known);
  throw new ClawbridgeError("CB_USAGE", ctx.t("unknownNode", { node: name, config }), {
    fix: ctx.t("unknownNodeFix", {
      nodes: known.join(", "),
      suggestion: near ? ctx.t("didYouMean", { name: near }) : "",
    }),
  });
}
