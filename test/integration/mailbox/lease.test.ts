import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { createLogger, isClawbridgeError, type ClawbridgeError } from "../../../src/core/index.js";
import { acquireLease, type Lease, type LeaseLoss, type LeaseRecord } from "../../../src/mailbox/index.js";
import { deadPid } from "../../helpers/dead-pid.js";
import { logSink } from "../../helpers/log-sink.js";
import { rejection } from "../../helpers/rejection.js";
import { finished, projectRoot, spawnTs } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

function fixture() {
  const root = tempDir("clawbridge-lease-");
  const sink = logSink();
  const logger = createLogger({ destination: sink.stream, level: "debug", pretty: false });
  mkdirSync(path.join(root, "status"));
  const file = path.join(root, "status", "clawbridge.lock");
  const read = () => JSON.parse(readFileSync(file, "utf8")) as LeaseRecord;
  const leases: Lease[] = [];
  const acquire = async (extra: Partial<Parameters<typeof acquireLease>[0]> = {}) => {
    const lease = await acquireLease({ root, self: "clawbridge", logger, ...extra });
    leases.push(lease);
    return lease;
  };
  return { root, sink, logger, file, read, acquire, leases };
}

/** Another bridge's record, written the way it would be (whole file at once). */
function writeForeign(file: string, record: Partial<LeaseRecord> = {}): LeaseRecord {
  const full: LeaseRecord = {
    host: "nas-office",
    pid: 4242,
    since: "2026-02-14T10:00:00.000Z",
    heartbeat: "2026-02-14T10:40:00.000Z",
    ...record,
  };
  writeFileSync(file, `${JSON.stringify(full)}\n`);
  return full;
}

function backdate(file: string, ms: number): void {
  const when = new Date(Date.now() - ms);
  utimesSync(file, when, when);
}

describe("shared-folder lease status/<self>.lock", () => {
  it("is created with the holder and refuses a second bridge, naming the holder and the way out", async () => {
    const fx = fixture();
    const lease = await fx.acquire({ version: "9.9.9" });
    const record = fx.read();
    expect(record).toEqual({
      host: os.hostname(),
      pid: process.pid,
      since: expect.any(String),
      heartbeat: record.since,
      version: "9.9.9",
    });
    expect(lease.record).toEqual(record);

    const error = await rejection(fx.acquire({ host: "other-host", pid: 777 }));
    expect(error.code).toBe("CB_LEASE_HELD");
    expect(error.message).toContain(fx.root);
    expect(error.message).toContain(`pid ${process.pid} on ${os.hostname()}`);
    expect(error.message).toContain(`since ${record.since}`);
    expect(error.message).toContain(`last heartbeat ${record.heartbeat}`);
    expect(error.fix).toContain(`stop the clawbridge on ${os.hostname()} (pid ${process.pid})`);
    expect(error.fix).toContain("wait 30 s");
    expect(error.fix).toContain("Never delete");
    expect(isClawbridgeError(error, "CB_LEASE_HELD") && error.details.holder).toMatchObject({
      host: os.hostname(),
      pid: process.pid,
    });
    // The refused bridge left the holder's file alone.
    expect(fx.read()).toEqual(record);
    await lease.release();
  });

  it("says it in Chinese to a Chinese reader (the error carries its text's key and parameters)", async () => {
    const fx = fixture();
    writeForeign(fx.file);
    const error = await rejection(fx.acquire());
    const zh = error.render("zh-CN");
    expect(zh.message).toContain("nas-office 上的进程 4242");
    expect(zh.fix).toContain("切勿手动删除");
    expect(error.text.key).toBe("mailbox.leaseHeld");
    expect(error.origin).toBe("fs");
  });

  it("refuses a fresh lease of another host even when its pid means nothing here", async () => {
    const fx = fixture();
    const foreign = writeForeign(fx.file, { pid: process.pid });
    const error = await rejection(fx.acquire());
    expect(error.code).toBe("CB_LEASE_HELD");
    expect(fx.read()).toEqual(foreign);
  });

  it("takes over a stale lease (no heartbeat for ttlMs) and warns with the previous holder", async () => {
    const fx = fixture();
    writeForeign(fx.file);
    backdate(fx.file, 60_000);
    const lease = await fx.acquire();
    expect(fx.read()).toMatchObject({ host: os.hostname(), pid: process.pid });
    const warning = fx.sink.records().find((r) => r.level === 40 && String(r.msg).includes("stale lease"));
    expect(warning?.msg).toContain("pid 4242 on nas-office");
    expect(warning?.previous).toMatchObject({ host: "nas-office", pid: 4242 });
    await lease.release();
  });

  it("judges staleness by ttlMs: a lease silent for less is still held", async () => {
    const fx = fixture();
    writeForeign(fx.file);
    backdate(fx.file, 5_000);
    expect((await rejection(fx.acquire({ ttlMs: 20_000, heartbeatMs: 5_000 }))).code).toBe("CB_LEASE_HELD");
    const lease = await fx.acquire({ ttlMs: 2_000, heartbeatMs: 500 });
    expect(fx.read().host).toBe(os.hostname());
    await lease.release();
  });

  it("takes over its own leftover at once: same host with a dead pid, or its own pid", async () => {
    const fx = fixture();
    const dead = await deadPid();
    writeForeign(fx.file, { host: os.hostname(), pid: dead });
    const first = await fx.acquire();
    expect(fx.read().pid).toBe(process.pid);
    expect(fx.sink.text()).toContain(`pid ${dead} on this host is gone`);
    await first.release();

    // A restarted container often gets the same pid again.
    writeForeign(fx.file, { host: os.hostname(), pid: process.pid, since: "2026-01-01T00:00:00.000Z" });
    const second = await fx.acquire();
    expect(fx.read().since).not.toBe("2026-01-01T00:00:00.000Z");
    await second.release();
  });

  it("refuses a second acquire of the same identity in one process", async () => {
    const fx = fixture();
    const lease = await fx.acquire();
    const error = await rejection(fx.acquire());
    expect(error.code).toBe("CB_LEASE_HELD");
    expect(error.message).toContain("this process already holds");
    await lease.release();
  });

  it("heartbeats: rewrites the record (new heartbeat, new mtime) every heartbeatMs", async () => {
    const fx = fixture();
    const lease = await fx.acquire({ ttlMs: 1_000, heartbeatMs: 50 });
    const first = fx.read();
    await waitFor(() => fx.read().heartbeat !== first.heartbeat, { what: "a heartbeat" });
    const later = fx.read();
    expect(later).toMatchObject({ host: first.host, pid: first.pid, since: first.since });
    // The lease takes the new record once its write is done (a moment after the file shows it).
    await waitFor(() => lease.record.heartbeat !== first.heartbeat, { what: "the lease's own record" });
    expect(lease.record).toMatchObject({ host: first.host, pid: first.pid, since: first.since });
    expect(lease.lost).toBeUndefined();
    await lease.release();
  });

  it("reports lost when another bridge took the file over, and then stops writing it", async () => {
    const fx = fixture();
    const losses: LeaseLoss[] = [];
    const lease = await fx.acquire({ ttlMs: 1_000, heartbeatMs: 50, onLost: (loss) => losses.push(loss) });
    const alsoHeard: LeaseLoss[] = [];
    lease.onLost((loss) => alsoHeard.push(loss));

    const intruder = writeForeign(fx.file, {
      host: "other-bridge",
      pid: 31337,
      since: "2026-02-14T11:00:00Z",
    });
    await waitFor(() => lease.lost, { what: "the loss to be noticed" });
    expect(losses).toHaveLength(1);
    expect(alsoHeard).toHaveLength(1);
    expect(losses[0]).toMatchObject({ reason: "taken-over", holder: { host: "other-bridge", pid: 31337 } });
    expect(losses[0]!.error.code).toBe("CB_LEASE_LOST");
    expect(losses[0]!.error.message).toContain("pid 31337 on other-bridge");
    expect(fx.sink.records().some((r) => r.level === 50 && r.code === "CB_LEASE_LOST")).toBe(true);

    // No more heartbeats over the other bridge's record, and release leaves it in place.
    const snapshot = () => `${readFileSync(fx.file, "utf8")}@${statSync(fx.file).mtimeMs}`;
    const before = snapshot();
    await lease.heartbeat();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(snapshot()).toBe(before);
    await lease.release();
    expect(fx.read()).toEqual(intruder);

    // A late listener hears of the loss at once.
    let late: LeaseLoss | undefined;
    lease.onLost((loss) => (late = loss));
    expect(late?.reason).toBe("taken-over");
  });

  it("reports lost (expired) when it cannot renew for ttlMs, e.g. the share went away", async () => {
    const fx = fixture();
    const lease = await fx.acquire({ ttlMs: 300, heartbeatMs: 50 });
    await rm(fx.root, { recursive: true, force: true });
    const loss = await waitFor(() => lease.lost, { what: "the lease to expire" });
    expect(loss.reason).toBe("expired");
    expect(loss.error.code).toBe("CB_LEASE_LOST");
    expect(loss.error.message).toContain("could not be renewed for 0.3 s");
    expect(fx.sink.text()).toContain("could not renew the shared-folder lease");
    await lease.release();
  });

  it("refuses a concurrent second acquire of the same identity in one process", async () => {
    const fx = fixture();
    const results = await Promise.allSettled([fx.acquire(), fx.acquire()]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    for (const r of results) if (r.status === "fulfilled") await r.value.release();
  });

  it("writes the file again when it vanished (deleted by hand), without reporting a loss", async () => {
    const fx = fixture();
    const lease = await fx.acquire({ ttlMs: 1_000, heartbeatMs: 50 });
    const since = fx.read().since;
    await rm(fx.file);
    // Created with O_EXCL, then written: wait for the record, not just the file.
    const again = await waitFor(
      () => (existsSync(fx.file) && readFileSync(fx.file, "utf8") !== "" ? fx.read() : undefined),
      { what: "the lease to be written again" },
    );
    expect(again.since).toBe(since);
    expect(lease.lost).toBeUndefined();
    await lease.release();
  });

  it("release removes the file only while it is ours; twice is fine; then another bridge may start", async () => {
    const fx = fixture();
    const lease = await fx.acquire();
    await lease.release();
    await lease.release();
    expect(existsSync(fx.file)).toBe(false);
    expect(existsSync(`${fx.file}.lock`)).toBe(false);
    const next = await fx.acquire({ host: "other-host", pid: 777 });
    expect(fx.read()).toMatchObject({ host: "other-host", pid: 777 });
    await next.release();
  });

  it("lets exactly one of many bridges in one process take over the same stale lease", async () => {
    const fx = fixture();
    writeForeign(fx.file);
    backdate(fx.file, 120_000);
    const hosts = ["h1", "h2", "h3", "h4", "h5", "h6"];
    const results = await Promise.allSettled(hosts.map((host) => fx.acquire({ host, pid: 1 })));
    const won = results.filter((r): r is PromiseFulfilledResult<Lease> => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect((r.reason as ClawbridgeError).code).toBe("CB_LEASE_HELD");
    }
    expect(fx.read().host).toBe(won[0]!.value.record.host);
    await won[0]!.value.release();
  });

  it("refuses heartbeatMs not below ttlMs", async () => {
    const fx = fixture();
    expect((await rejection(fx.acquire({ ttlMs: 1_000, heartbeatMs: 1_000 }))).code).toBe("CB_USAGE");
  });

  it("lets exactly one of two bridge processes starting at once win; the other names the winner", async () => {
    for (let round = 0; round < 2; round++) {
      const fx = fixture();
      const go = path.join(fx.root, "go");
      const stop = path.join(fx.root, "stop");
      const worker = path.join(fx.root, "lease-worker.mts");
      writeFileSync(worker, workerSource());
      const children = [0, 1].map(() => spawnTs(worker, [fx.root, go, stop]));
      const outputs = children.map(() => ({ text: "" }));
      children.forEach((child, i) =>
        child.stdout!.on("data", (chunk: Buffer) => (outputs[i]!.text += chunk.toString("utf8"))),
      );
      const exits = children.map((child) => finished(child));
      await waitFor(() => outputs.every((o) => o.text.includes("waiting")), {
        timeoutMs: 30_000,
        what: "both workers to be ready",
      });
      writeFileSync(go, "");
      const verdicts = await waitFor(
        () => {
          const parsed = outputs.map((o) => o.text.split("\n").find((line) => line.startsWith("{")));
          return parsed.every(Boolean) ? parsed.map((line) => JSON.parse(line!) as WorkerVerdict) : undefined;
        },
        { timeoutMs: 30_000, what: "both verdicts" },
      );
      const winners = verdicts.filter((v) => v.ok);
      const losers = verdicts.filter((v) => !v.ok);
      expect(winners, JSON.stringify(verdicts)).toHaveLength(1);
      expect(losers[0]).toMatchObject({ code: "CB_LEASE_HELD" });
      expect(losers[0]!.message).toContain(`pid ${winners[0]!.pid} on ${os.hostname()}`);
      expect(fx.read().pid).toBe(winners[0]!.pid);

      writeFileSync(stop, "");
      for (const exit of await Promise.all(exits)) expect(exit, exit.stderr).toMatchObject({ code: 0 });
      expect(existsSync(fx.file)).toBe(false);
    }
  }, 120_000);
});

interface WorkerVerdict {
  ok: boolean;
  pid: number;
  code?: string;
  message?: string;
}

/** A bridge process that claims the lease when `go` appears and holds it until `stop` appears. */
function workerSource(): string {
  const mailbox = pathToFileURL(path.join(projectRoot, "src/mailbox/index.ts")).href;
  return `
import { existsSync } from "node:fs";
import { acquireLease } from ${JSON.stringify(mailbox)};
const [root, go, stop] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
console.log("waiting");
while (!existsSync(go)) await sleep(2);
try {
  const lease = await acquireLease({ root, self: "clawbridge" });
  console.log(JSON.stringify({ ok: true, pid: process.pid }));
  while (!existsSync(stop)) await sleep(10);
  await lease.release();
} catch (error) {
  console.log(JSON.stringify({ ok: false, pid: process.pid, code: error.code, message: error.message }));
}
`;
}
