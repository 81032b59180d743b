import { readFileSync } from "node:fs";
import { ClawbridgeError, ENVELOPE_TYPES, nodeKey, type EnvelopeType } from "../../core/index.js";
import { FsMailboxStore } from "../../mailbox/index.js";
import { cliLogger, mailboxSettings, type CliContext } from "../context.js";
import { closestKey } from "../../core/index.js";

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
  const content = text === "-" ? readFileSync(0, "utf8").replace(/\r?\n$/, "") : text;
  if (content.trim() === "")
    throw new ClawbridgeError("CB_USAGE", ctx.t("emptyText"), { fix: ctx.t("emptyTextFix") });
  if (!(ENVELOPE_TYPES as readonly string[]).includes(options.type)) {
    throw new ClawbridgeError("CB_USAGE", `--type ${JSON.stringify(options.type)}`, {
      fix: ENVELOPE_TYPES.join(" | "),
    });
  }
  // With a config, a mistyped recipient would create an inbox nobody reads: refuse it.
  if (settings.configPath) {
    const known = [...settings.nodes, settings.self];
    if (!known.some((name) => nodeKey(name) === nodeKey(options.to))) {
      const near = closestKey(options.to, known);
      throw new ClawbridgeError(
        "CB_USAGE",
        ctx.t("unknownNode", { node: options.to, config: settings.configPath }),
        {
          fix: ctx.t("unknownNodeFix", {
            nodes: known.join(", "),
            suggestion: near ? ctx.t("didYouMean", { name: near }) : "",
          }),
        },
      );
    }
  }
  const store = new FsMailboxStore({ ...settings, logger: cliLogger(settings.loaded) });
  const envelope = await store.append({
    from: options.from,
    to: options.to,
    type: options.type as EnvelopeType,
    content,
    ...(options.replyTo ? { replyTo: options.replyTo } : {}),
  });
  ctx.out(envelope.id);
}
