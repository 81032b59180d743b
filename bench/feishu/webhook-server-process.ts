// A webhook receiver in a process of its own (the benchmark client must not share its
// event loop): `webhook-server-process ours|bare`. Reads BENCH_ENCRYPT_KEY and
// BENCH_VERIFICATION_TOKEN from the environment; prints `url <base>` once listening and
// `handled <n>` on SIGUSR2; stops on SIGTERM.
//   ours — clawbridge's webhook edge (body cap, verification, decryption, the intake journal
//          written before the ack, ack) and intake (SDK dispatcher, normalisation, persisted
//          dedup) with a counting handler, as `FeishuAdapter` wires them in webhook mode;
//   bare — a minimal koa handler doing the same verification and decryption, nothing else.
import { createDecipheriv, createHash, timingSafeEqual } from "node:crypto";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Koa from "koa";
import getRawBody from "raw-body";
import { silentLogger } from "../../src/core/index.js";
import { FeishuIntake } from "../../src/feishu/intake.js";
import { IntakeJournal } from "../../src/feishu/intake-journal.js";
import { webhookRoutes } from "../../src/feishu/webhook/index.js";

const mode = process.argv[2] === "bare" ? "bare" : "ours";
const encryptKey = process.env.BENCH_ENCRYPT_KEY!;
const verificationToken = process.env.BENCH_VERIFICATION_TOKEN!;
let handled = 0;

const app = new Koa();
if (mode === "ours") {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "clawbridge-bench-webhook-"));
  const journal = new IntakeJournal(stateDir);
  await journal.load();
  const intake = new FeishuIntake({
    stateDir,
    ackBudget: false,
    logger: silentLogger(),
    chats: [],
    bridgeOpenId: () => "ou_bench_bridge",
    handlers: {
      onMessage: () => {
        handled++;
      },
    },
  });
  await intake.load();
  const routes = webhookRoutes({
    encryptKey,
    verificationToken,
    logger: silentLogger(),
    persist: (payload, meta) => journal.received(payload, meta.eventId),
    onEvent: async (payload, meta) => {
      await intake.dispatch(payload);
      journal.handled(IntakeJournal.keyOf(payload, meta.eventId));
    },
    onCardAction: (payload) => intake.dispatchCardAction(payload),
  });
  app.use(routes.middleware());
} else {
  const key = createHash("sha256").update(encryptKey).digest();
  app.use(async (ctx) => {
    const raw = await getRawBody(ctx.req, { limit: 1024 * 1024, encoding: "utf8" });
    const ts = ctx.get("x-lark-request-timestamp");
    const expected = createHash("sha256")
      .update(ts + ctx.get("x-lark-request-nonce") + encryptKey + raw)
      .digest();
    const given = Buffer.from(ctx.get("x-lark-signature"), "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) ctx.throw(401);
    if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) ctx.throw(401);
    const encrypted = Buffer.from((JSON.parse(raw) as { encrypt: string }).encrypt, "base64");
    const decipher = createDecipheriv("aes-256-cbc", key, encrypted.subarray(0, 16));
    const plain = JSON.parse(
      Buffer.concat([decipher.update(encrypted.subarray(16)), decipher.final()]).toString("utf8"),
    ) as {
      header?: { token?: string };
    };
    if (plain.header?.token !== verificationToken) ctx.throw(403);
    handled++;
    ctx.body = { code: 0 };
  });
}
const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number };
  process.stdout.write(`url http://127.0.0.1:${address.port}\n`);
});
server.keepAliveTimeout = 60_000;
process.on("SIGUSR2", () => process.stdout.write(`handled ${handled}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
