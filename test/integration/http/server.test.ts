import http from "node:http";
import Router from "@koa/router";
import getRawBody from "raw-body";
import { afterEach, describe, expect, it } from "vitest";
import { ClawbridgeError, createLogger, isClawbridgeError } from "../../../src/core/index.js";
import {
  isLoopback,
  startHttpServer,
  type HttpServerOptions,
  type ReadyReport,
  type RunningHttpServer,
} from "../../../src/http/index.js";
import { logSink } from "../../helpers/log-sink.js";
import { waitFor } from "../../helpers/wait.js";

const started: RunningHttpServer[] = [];
afterEach(async () => {
  for (const server of started.splice(0)) await server.close(1_000);
});

async function start(extra: Partial<HttpServerOptions> = {}) {
  const sink = logSink();
  const server = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    logger: createLogger({ destination: sink.stream, level: "debug", pretty: false }),
    version: "1.2.3",
    ...extra,
  });
  started.push(server);
  return { server, sink };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/** One request on its own connection (no pooling: connection behaviour is what some tests check). */
function request(
  url: string,
  options: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? "GET",
      agent: false,
      headers: options.headers,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("error", reject);
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          text,
          json: () => JSON.parse(text) as Record<string, unknown>,
        }),
      );
    });
    req.end(options.body);
  });
}

describe("main HTTP listener", () => {
  it("binds to a free port on loopback and answers /healthz with status, uptime, version and extras", async () => {
    const { server, sink } = await start({ health: () => ({ relay: { delivered: 3 } }) });
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const answer = await request(`${server.url}/healthz`);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toContain("application/json");
    expect(answer.headers["cache-control"]).toBe("no-store");
    const body = answer.json();
    expect(body).toEqual({
      status: "ok",
      uptimeS: expect.any(Number),
      version: "1.2.3",
      relay: { delivered: 3 },
    });
    expect(Object.keys(body).slice(0, 3)).toEqual(["status", "uptimeS", "version"]);
    // Loopback is not worth a warning.
    expect(sink.records().filter((r) => r.level === 40)).toEqual([]);
  });

  it("reports package.json's version by default", async () => {
    const { server } = await start({ version: undefined });
    const body = (await request(`${server.url}/healthz`)).json();
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("answers /readyz 200 when every required part is ready, else 503 naming the part and why", async () => {
    let report: ReadyReport = {
      parts: {
        feishu: { ready: true, detail: "connected" },
        gateways: { ready: true },
        "node:nas-agent": { ready: false, required: false, detail: "status file stale" },
      },
    };
    const { server } = await start({ ready: () => report });
    const ok = await request(`${server.url}/readyz`);
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ ready: true, parts: report.parts });

    report = {
      parts: {
        feishu: { ready: false, detail: "long connection reconnecting" },
        gateways: { ready: true, detail: "2 of 2 connected" },
      },
    };
    const notReady = await request(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.json()).toEqual({
      ready: false,
      parts: {
        feishu: { ready: false, detail: "long connection reconnecting" },
        gateways: { ready: true, detail: "2 of 2 connected" },
      },
    });

    // The report's own verdict counts too (app.ts computes one).
    report = { ready: false, parts: {} };
    expect((await request(`${server.url}/readyz`)).status).toBe(503);
  });

  it("is ready with no readiness callback, and 503 (no details) when the callback throws", async () => {
    const plain = await start();
    expect((await request(`${plain.server.url}/readyz`)).json()).toEqual({ ready: true, parts: {} });

    const broken = await start({
      ready: async () => {
        throw new Error("boom at /secret/path");
      },
    });
    const answer = await request(`${broken.server.url}/readyz`);
    expect(answer.status).toBe(503);
    expect(answer.json()).toEqual({ ready: false, parts: {}, error: "the readiness check failed" });
    expect(answer.text).not.toContain("/secret/path");
  });

  it("answers unknown routes with 404 JSON and a wrong method with 405 JSON", async () => {
    const { server } = await start();
    const missing = await request(`${server.url}/nope?x=1`);
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({ error: { status: 404, message: "no route for GET /nope" } });
    // Strict and case-sensitive: no aliases.
    expect((await request(`${server.url}/healthz/`)).status).toBe(404);
    expect((await request(`${server.url}/HEALTHZ`)).status).toBe(404);

    const wrong = await request(`${server.url}/healthz`, { method: "POST" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toContain("GET");
    expect(wrong.json()).toMatchObject({ error: { status: 405 } });
  });

  it("mounts routes before health; they read their own (large) bodies while others are capped", async () => {
    const router = new Router();
    router.post("/feishu/events", async (ctx) => {
      const raw = await getRawBody(ctx.req, { limit: 1024 * 1024 });
      ctx.body = { code: 0, bytes: raw.length };
    });
    // A mounted route may even shadow a health path: it comes first.
    const early: HttpServerOptions["routes"] = [
      async (ctx, next) => {
        if (ctx.path === "/demo/") ctx.body = { demo: true };
        else await next();
      },
      router.routes(),
    ];
    const { server } = await start({ routes: early, maxBodyBytes: 1024 });
    const big = Buffer.alloc(200 * 1024, "a");
    const mounted = await request(`${server.url}/feishu/events`, {
      method: "POST",
      body: big,
      headers: { "content-type": "application/json" },
    });
    expect(mounted.status).toBe(200);
    expect(mounted.json()).toEqual({ code: 0, bytes: big.length });
    expect((await request(`${server.url}/demo/`)).json()).toEqual({ demo: true });

    const capped = await request(`${server.url}/healthz`, { method: "POST", body: big });
    expect(capped.status).toBe(413);
    expect(capped.headers.connection).toBe("close");
    expect(capped.json()).toEqual({ error: { status: 413, message: "request body larger than 1024 bytes" } });

    // Chunked, so no Content-Length to judge by: cut off at the cap.
    const chunked = await request(`${server.url}/elsewhere`, {
      method: "POST",
      body: big,
      headers: { "transfer-encoding": "chunked" },
    });
    expect(chunked.status).toBe(413);

    // A small body is read and dropped; the request goes on to its (404) answer.
    const small = await request(`${server.url}/elsewhere`, { method: "POST", body: "{}" });
    expect(small.status).toBe(404);
  });

  it("turns errors into JSON: exposed messages as they are, others generic, never a stack", async () => {
    const routes: HttpServerOptions["routes"] = [
      async (ctx, next) => {
        if (ctx.path === "/throw/plain") throw new Error("db password is hunter2 at /etc/x");
        if (ctx.path === "/throw/http") ctx.throw(400, "the field x is missing");
        if (ctx.path === "/throw/hidden-http") ctx.throw(502, "upstream secret detail");
        if (ctx.path === "/throw/cb") {
          ctx.set("Set-Cookie", "a=b");
          throw new ClawbridgeError("CB_USAGE", "the task id is unknown", {
            fix: "use /tasks to list them",
            expose: true,
          });
        }
        if (ctx.path === "/throw/cb-hidden") {
          // expose defaults to false: a message may name files and internals.
          throw new ClawbridgeError("CB_INTERNAL", "internal state at /var/x");
        }
        await next();
      },
    ];
    const { server, sink } = await start({ routes });
    const plain = await request(`${server.url}/throw/plain`);
    expect(plain.status).toBe(500);
    expect(plain.json()).toEqual({ error: { status: 500, message: "internal error" } });
    expect(plain.text).not.toContain("hunter2");
    expect(plain.text).not.toContain("at ");
    expect(sink.records().some((r) => r.level === 50 && r.msg === "HTTP handler failed")).toBe(true);

    expect((await request(`${server.url}/throw/http`)).json()).toEqual({
      error: { status: 400, message: "the field x is missing" },
    });
    const hidden = await request(`${server.url}/throw/hidden-http`);
    expect(hidden.status).toBe(502);
    expect(hidden.json()).toEqual({ error: { status: 502, message: "internal error" } });

    const cb = await request(`${server.url}/throw/cb`);
    expect(cb.status).toBe(500);
    expect(cb.headers["set-cookie"]).toBeUndefined();
    expect(cb.json()).toEqual({
      error: {
        status: 500,
        message: "the task id is unknown",
        code: "CB_USAGE",
        fix: "use /tasks to list them",
      },
    });
    const cbHidden = await request(`${server.url}/throw/cb-hidden`);
    expect(cbHidden.json()).toEqual({ error: { status: 500, message: "internal error" } });
  });

  it("close() stops accepting, lets an in-flight request finish, then resolves true", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    const { server } = await start({
      routes: [
        async (ctx, next) => {
          if (ctx.path !== "/slow") return next();
          entered = true;
          await gate;
          ctx.body = { slow: "done" };
        },
      ],
    });
    const slow = request(`${server.url}/slow`);
    await waitFor(() => entered, { what: "the slow request to arrive" });
    const closing = server.close(10_000);
    let closed = false;
    void closing.then(() => (closed = true));

    // New connections are refused at once…
    await expect(request(`${server.url}/healthz`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    expect(closed).toBe(false);
    // …while the one in flight still gets its answer.
    release();
    const answer = await slow;
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ slow: "done" });
    expect(answer.headers.connection).toBe("close");
    await expect(closing).resolves.toBe(true);
  });

  it("close(timeoutMs) destroys requests still running after the timeout and resolves false", async () => {
    let entered = false;
    const { server, sink } = await start({
      routes: [
        async (ctx, next) => {
          if (ctx.path !== "/stuck") return next();
          entered = true;
          await new Promise(() => {});
        },
      ],
    });
    const stuck = request(`${server.url}/stuck`);
    await waitFor(() => entered, { what: "the stuck request to arrive" });
    const started = Date.now();
    await expect(server.close(200)).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(stuck).rejects.toThrow();
    expect(sink.text()).toContain("still running at shutdown");
    // Closing twice is harmless.
    await expect(server.close()).resolves.toBe(false);
  });

  it("refuses a busy port with CB_HTTP_LISTEN naming the address and the fix", async () => {
    const { server } = await start();
    const error = await startHttpServer({ host: "127.0.0.1", port: server.port }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isClawbridgeError(error, "CB_HTTP_LISTEN")).toBe(true);
    const cb = error as ClawbridgeError;
    expect(cb.message).toContain(`127.0.0.1:${server.port}`);
    expect(cb.message).toContain("EADDRINUSE");
    expect(cb.fix).toContain("http.port");
  });

  it("tells loopback from beyond-loopback hosts (those are warned about at start)", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com", "::ffff:10.0.0.1"]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});
