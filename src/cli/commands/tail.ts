import type { Envelope } from "../../core/index.js";
import {
  CallbackQuarantine,
  FsMailboxStore,
  MemoryTailLedger,
  type EnvelopeMeta,
} from "../../mailbox/index.js";
import { cliLogger, mailboxSettings, type CliContext } from "../context.js";

export interface TailOptions {
  shared?: string;
  config?: string;
  fromStart?: boolean;
  json?: boolean;
}

/** One envelope in the human format: time, route, type, id, then the content (indented when multi-line). */
export function formatEnvelope(envelope: Envelope, meta: EnvelopeMeta): string {
  const from = envelope.name ? `${envelope.from} (${envelope.name})` : envelope.from;
  const flags = [
    envelope.type,
    envelope.delivered ? `delivered:${envelope.delivered}` : "",
    envelope.replyTo ? `↩ ${envelope.replyTo}` : "",
  ]
    .filter(Boolean)
    .join(" ");
  const content = envelope.content.includes("\n")
    ? `\n    ${envelope.content.split("\n").join("\n    ")}`
    : ` ${envelope.content}`;
  return `${envelope.timestamp}  ${from} → ${envelope.to}  [${flags}]  ${envelope.id} (${meta.inbox})${content}`;
}

/**
 * `clawbridge tail`: a viewer. Its cursors live in memory, so it never moves the bridge's
 * persisted cursors; bad lines are reported on stderr, not quarantined.
 */
export async function tailCommand(ctx: CliContext, options: TailOptions): Promise<void> {
  const settings = mailboxSettings(ctx, options);
  // Listen for Ctrl-C before anything is printed, so a stop request is never lost.
  const stopRequested = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  const store = new FsMailboxStore({ ...settings, logger: cliLogger(settings.loaded) });
  const tailer = await store.tail({
    startAt: options.fromStart ? "start" : "end",
    ledger: new MemoryTailLedger(),
    quarantine: new CallbackQuarantine((record) =>
      ctx.err(ctx.t("tailQuarantined", { file: record.file, offset: record.offset, reason: record.reason })),
    ),
    handler: (envelope, meta) =>
      ctx.out(options.json ? JSON.stringify(envelope) : formatEnvelope(envelope, meta)),
  });
  ctx.err(ctx.t("tailWatching", { dir: store.layout.messagesDir, mode: tailer.watchMode?.reason ?? "" }));
  await stopRequested;
  await tailer.stop();
}
