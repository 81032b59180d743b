import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decryptWebhookBody, type DeliveryResult } from "../../src/sim/feishu/index.js";
import { bridgeWorld, startWorldBridge } from "../helpers/bridge.js";
import { waitFor } from "../helpers/wait.js";
import { badWebhookRequest, oversizeRequest } from "./generators/bad-webhook-requests.js";
import { senselessEvent } from "./generators/senseless-events.js";
import {
  EVENTS_PATH,
  JSON_TYPE,
  signedHeaders,
  type BadRequest,
  type Genuine,
  type RawRequest,
  type WebhookSecrets,
} from "./generators/webhook-request.js";

// Made-up secret for a loopback test; long enough that finding it in the log means a leak.
const ENCRYPT_KEY = "reliability-webhook-encrypt-key-not-real-7c1e";
const MAX_BODY_BYTES = 1024 * 1024;
const SEED = Number(process.env.CLAWBRIDGE_FC_SEED ?? Date.now() % 2 ** 31);
/** A request unanswered after this long counts as a hang. */
const ANSWER_WITHIN_MS = 10_000;

const COUNTS = { bad: 1_100, oversize: 8, senseless: 40, valid: 40, batch: 25, parallel: 8 };

interface Answer {
  status: number;
  body: string;
  error?: string;
}

// What escapes every handler: in the bridge process either would be a crash or a lost error.
const escaped: unknown[] = [];
const onEscape = (error: unknown) => void escaped.push(error);
beforeEach(() => {
  process.on("unhandledRejection", onEscape);
  process.on("uncaughtException", onEscape);
});
afterEach(() => {
  process.off("unhandledRejection", onEscape);
  process.off("uncaughtException", onEscape);
});

/** Sends `request` exactly as given (no header added but Content-Length); status 0 when no answer came. */
function send(base: URL, request: RawRequest): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Answer) => {
      if (!settled) resolve(answer);
      settled = true;
    };
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        method: request.method,
        path: request.path,
        headers: { ...request.headers, "content-length": String(request.body.length) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", (error) => done({ status: res.statusCode ?? 0, body: "", error: error.message }));
      },
    );
    req.setTimeout(ANSWER_WITHIN_MS, () => req.destroy(new Error("no answer in time")));
    req.on("error", (error) => done({ status: 0, body: "", error: error.message }));
    req.end(request.body);
  });
}

/**
 * A body over the cap: declared and sent, declared and never sent, or streamed in chunks
 * without a length. The edge may answer before the upload ends and close the connection;
 * the answer counts, the broken upload does not.
 */
function sendOversize(
  base: URL,
  plan: { bytes: number; chunked: boolean; declaredOnly: boolean },
): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Answer) => {
      if (!settled) resolve(answer);
      settled = true;
      req.destroy();
    };
    const headers: Record<string, string> = { "content-type": JSON_TYPE };
    if (!plan.chunked) headers["content-length"] = String(plan.bytes);
    const req = http.request(
      { host: base.hostname, port: base.port, method: "POST", path: EVENTS_PATH, headers, agent: false },
      (res) => {
        res.resume();
        done({ status: res.statusCode ?? 0, body: "" });
      },
    );
    req.setTimeout(ANSWER_WITHIN_MS, () => req.destroy(new Error("no answer in time")));
    // A write cut off by the edge's early answer: wait a moment for that answer to be read.
    req.on("error", (error) => setTimeout(() => done({ status: 0, body: "", error: error.message }), 500));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      if (settled) return;
      if (plan.declaredOnly && !plan.chunked) return; // Content-Length alone must be enough to refuse.
      while (sent < plan.bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    req.flushHeaders();
    pump();
  });
}

/** Bytes that are not HTTP, or headers too large: Node's parser answers before any route. */
function sendRaw(base: URL, bytes: string): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(base.port), base.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error("no answer in time")), ANSWER_WITHIN_MS);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(0, 80) });
    });
    socket.on("error", () => undefined);
    socket.end(bytes);
  });
}

/**
 * A tap between the emulator and the bridge: forwards each push untouched and keeps it, so
 * the test holds real, accepted requests to replay and to take apart.
 */
async function tap(target: URL) {
  const caught: { headers: Record<string, string>; body: string; path: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const name of [
        "content-type",
        "x-lark-request-timestamp",
        "x-lark-request-nonce",
        "x-lark-signature",
      ]) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      caught.push({ headers, body: body.toString("utf8"), path: req.url ?? "" });
      void send(target, { method: "POST", path: req.url ?? "", headers, body }).then((answer) => {
        res.writeHead(answer.status || 502, { "content-type": "application/json" });
        res.end(answer.body);
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, caught, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The HTTP status of an emulator push (0 when it did not go by webhook). */
function pushStatus(result: DeliveryResult): Answer {
  return { status: result.via === "webhook" ? result.status : 0, body: JSON.stringify(result).slice(0, 200) };
}

function countBy<T>(items: T[], key: (item: T) => string | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

describe("bad webhook requests against a bridge in webhook mode (issue 14)", () => {
  it(
    "answers each with the right 4xx and its reason, stays up, and handles each valid event interleaved exactly once",
    { timeout: 90_000 },
    async () => {
      const context = `fast-check seed ${SEED} (rerun with CLAWBRIDGE_FC_SEED=${SEED})`;
      const world = await bridgeWorld({
        relay: { budget: { perPairPerMinute: 1_000_000 } },
        configure: (config) => {
          config.feishu = {
            ...config.feishu,
            mode: "webhook",
            encryptKey: "${FEISHU_ENCRYPT_KEY}",
            verificationToken: "${FEISHU_VERIFICATION_TOKEN}",
          };
        },
      });
      const secrets: WebhookSecrets = {
        encryptKey: ENCRYPT_KEY,
        verificationToken: world.emu.bridge.verificationToken,
      };
      world.env.FEISHU_ENCRYPT_KEY = secrets.encryptKey;
      world.env.FEISHU_VERIFICATION_TOKEN = secrets.verificationToken;
      const { bridge, sink } = await startWorldBridge(world);
      const base = new URL(bridge.url);
      const { metrics } = bridge;
      const rejectedBefore = (await metrics.value("clawbridge_webhook_rejected_total")) ?? 0;
      const between = await tap(base);
      world.emu.useWebhook({
        eventsUrl: `${between.url}/feishu/events`,
        cardsUrl: `${between.url}/feishu/cards`,
        encryptKey: secrets.encryptKey,
        verificationToken: secrets.verificationToken,
      });

      const valid: { marker: string; eventId: string }[] = [];
      const acceptedStatuses: { kind: string; answer: Answer }[] = [];
      const sayValid = async () => {
        const marker = `w${String(valid.length).padStart(4, "0")}q`;
        const said = world.emu.say(world.emu.defaultChat, world.wang, `/tell ai-pc ${marker}`, {
          mentions: ["bridge"],
        });
        valid.push({ marker, eventId: said.eventId });
        const delivered = await said.delivered;
        acceptedStatuses.push({ kind: "valid event", answer: pushStatus(delivered) });
      };
      const latestGenuine = (): Genuine => {
        const push = between.caught.findLast((c) => c.path === EVENTS_PATH && JSON.parse(c.body).encrypt)!;
        const payload = JSON.parse(
          decryptWebhookBody(secrets.encryptKey, JSON.parse(push.body).encrypt as string),
        );
        return { headers: push.headers, body: push.body, payload };
      };

      try {
        await sayValid();
        const drafts = fc.sample(badWebhookRequest, { seed: SEED, numRuns: COUNTS.bad });
        const sent: { bad: BadRequest; answer: Answer }[] = [];
        let replays = 0;
        for (let i = 0; i < drafts.length; i += COUNTS.batch) {
          const genuine = latestGenuine();
          const now = Math.floor(Date.now() / 1000);
          const batch = drafts.slice(i, i + COUNTS.batch).map((draft) => draft(genuine, secrets, now));
          for (let j = 0; j < batch.length; j += COUNTS.parallel) {
            const group = batch.slice(j, j + COUNTS.parallel);
            const answers = await Promise.all(group.map((bad) => send(base, bad.request)));
            group.forEach((bad, k) => sent.push({ bad, answer: answers[k]! }));
          }
          // Valid pushes between the bad ones; and the same event again, three ways.
          if (valid.length < COUNTS.valid) await sayValid();
          const earlier = valid[Math.floor(valid.length / 2)]!;
          const sameAgain = [
            () =>
              send(base, {
                method: "POST",
                path: EVENTS_PATH,
                headers: genuine.headers,
                body: Buffer.from(genuine.body),
              }),
            () => world.emu.redeliver(earlier.eventId).delivered.then(pushStatus),
            () => world.emu.duplicateUnderNewId(earlier.eventId).delivered.then(pushStatus),
          ][(i / COUNTS.batch) % 3]!;
          acceptedStatuses.push({ kind: "the same event again", answer: await sameAgain() });
          replays++;
        }
        while (valid.length < COUNTS.valid) await sayValid();

        // Bodies over the cap, bytes that are not HTTP, headers too large.
        for (const plan of fc.sample(oversizeRequest(MAX_BODY_BYTES), {
          seed: SEED + 1,
          numRuns: COUNTS.oversize,
        })) {
          const kind = `too large: ${plan.chunked ? "chunked" : plan.declaredOnly ? "declared only" : "declared and sent"}`;
          sent.push({
            bad: {
              kind,
              request: { method: "POST", path: EVENTS_PATH, headers: {}, body: Buffer.alloc(0) },
              status: 413,
              reason: "too_large",
            },
            answer: await sendOversize(base, plan),
          });
        }
        const rawOnes = [
          { kind: "not HTTP", bytes: "GARBAGE\r\n\r\n", status: 400 },
          { kind: "bad HTTP version", bytes: "POST /feishu/events HTTP/9.9\r\n\r\n", status: 400 },
          {
            kind: "headers too large",
            bytes: `POST /feishu/events HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
            status: 431,
          },
          // Node's parser fails inside the body: the route hears a body it cannot read.
          {
            kind: "bad chunked body",
            bytes: `POST /feishu/events HTTP/1.1\r\nHost: x\r\nContent-Type: ${JSON_TYPE}\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n`,
            status: 400,
            reason: "unreadable_body",
          },
        ];
        const rawAnswers = await Promise.all(rawOnes.map((raw) => sendRaw(base, raw.bytes)));

        // Authentic but senseless: taken (200), dropped by the intake, never run.
        const now = Math.floor(Date.now() / 1000);
        for (const draft of fc.sample(senselessEvent, { seed: SEED + 2, numRuns: COUNTS.senseless })) {
          const { kind, request } = draft(secrets, now);
          acceptedStatuses.push({ kind, answer: await send(base, request) });
        }
        // The URL check with the right token, an event smuggled along: answered, not handled.
        const smuggled = JSON.stringify({
          type: "url_verification",
          challenge: "c-smuggled",
          token: secrets.verificationToken,
          header: latestGenuine().payload.header,
          event: latestGenuine().payload.event,
        });
        const challenge = await send(base, {
          method: "POST",
          path: EVENTS_PATH,
          headers: signedHeaders(smuggled, secrets.encryptKey, String(now)),
          body: Buffer.from(smuggled),
        });

        // Every refused request got exactly its status: never a 5xx, never silence.
        const wrong = sent
          .filter(({ bad, answer }) => answer.status !== bad.status)
          .map(
            ({ bad, answer }) =>
              `${bad.kind}: ${answer.status} ${answer.error ?? answer.body.slice(0, 100)} (expected ${bad.status})`,
          );
        expect(wrong.slice(0, 10), context).toEqual([]);
        expect(sent.length).toBeGreaterThanOrEqual(1_000);
        expect(
          rawAnswers.map((a) => a.status),
          context,
        ).toEqual(rawOnes.map((r) => r.status));
        const notOk = acceptedStatuses
          .filter(({ answer }) => answer.status !== 200)
          .map(
            ({ kind, answer }) => `${kind}: ${answer.status} ${answer.error ?? answer.body.slice(0, 100)}`,
          );
        expect(notOk.slice(0, 10), context).toEqual([]);
        expect(challenge.status).toBe(200);
        expect(JSON.parse(challenge.body)).toEqual({ challenge: "c-smuggled" });

        // Each valid event handled exactly once, however often it came.
        const runsOf = (marker: string) =>
          world.gateways["ai-pc"].runs().filter((run) => run.message.includes(marker));
        await waitFor(
          () => {
            const stats = bridge.feishu!.health().intakeStats;
            return (
              valid.every((v) => runsOf(v.marker).length > 0) &&
              stats.handled >= valid.length &&
              stats.duplicates >= replays
            );
          },
          {
            timeoutMs: 30_000,
            intervalMs: 100,
            what: () =>
              `every valid event run, every repeat dropped (${context}): ${JSON.stringify(bridge.feishu!.health().intakeStats)}`,
          },
        );
        for (const { marker } of valid) expect(runsOf(marker).length, `${marker}; ${context}`).toBe(1);
        expect(world.gateways["ai-pc"].runs()).toHaveLength(valid.length);
        expect(world.gateways["office-mac"].runs()).toHaveLength(0);
        expect(bridge.feishu!.health().intakeStats.handled).toBe(valid.length);

        // Each refusal logged once with its reason code, and counted for the metrics.
        const expectedReasons = countBy([...sent.map(({ bad }) => bad), ...rawOnes], (r) => r.reason);
        const logged = sink.records().filter((r) => r.code === "CB_WEBHOOK_REJECTED");
        expect(
          countBy(logged, (r) => r.reason as string),
          context,
        ).toEqual(expectedReasons);
        expect(bridge.feishu!.health().webhookRejected, context).toEqual(expectedReasons);
        const refusedCount = Object.values(expectedReasons).reduce((a, b) => a + b, 0);
        expect((await metrics.value("clawbridge_webhook_rejected_total"))! - rejectedBefore).toBe(
          refusedCount,
        );
        const scraped = await (await fetch(`${bridge.opsUrl}/metrics`)).text();
        for (const [reason, count] of Object.entries(expectedReasons)) {
          expect(scraped, reason).toContain(
            `clawbridge_webhook_rejected_total{reason="${reason}"} ${count}\n`,
          );
        }

        // Still up and ready; nothing leaked, nothing left unhandled.
        expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
        expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
        expect(sink.records().filter((r) => r.msg === "webhook event failed for good; given up")).toEqual([]);
        expect(sink.text()).not.toContain(secrets.encryptKey);
        expect(escaped.map(String), context).toEqual([]);
        console.info(
          `bad-input-webhook: ${context}; ${sent.length + rawOnes.length} refused by kind ${JSON.stringify(countBy(sent, ({ bad }) => bad.kind.replace(/:.*$/, "")))}; reasons ${JSON.stringify(expectedReasons)}; accepted: ${valid.length} valid, ${replays} repeats, ${COUNTS.senseless} senseless, 1 challenge`,
        );
      } finally {
        await between.close();
      }
    },
  );
});
