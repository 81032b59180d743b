import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  createLogger,
  isClawbridgeError,
  isProcessAlive,
  lockStateDir,
  type ClawbridgeError,
  type StateLock,
  type StateLockHolder,
} from "../../../src/core/index.js";
import { deadPid } from "../../helpers/dead-pid.js";
import { logSink } from "../../helpers/log-sink.js";
import { rejection } from "../../helpers/rejection.js";
import { tempDir } from "../../helpers/temp.js";

function fixture() {
  const dir = path.join(tempDir("clawbridge-state-"), ".clawbridge");
  const sink = logSink();
  const logger = createLogger({ destination: sink.stream, level: "debug", pretty: false });
  const file = path.join(dir, "bridge.lock");
  const read = () => JSON.parse(readFileSync(file, "utf8")) as StateLockHolder;
  return { dir, sink, logger, file, read };
}

function writeHolder(file: string, holder: Partial<StateLockHolder>): void {
  writeFileSync(
    file,
    JSON.stringify({ host: os.hostname(), pid: 4242, since: "2026-02-14T10:00:00.000Z", ...holder }),
  );
}

describe("state-dir lock state.dir/bridge.lock", () => {
  it("creates the folder and the lock with {host, pid, since}; release removes it", async () => {
    const fx = fixture();
    const lock = await lockStateDir(fx.dir, { logger: fx.logger });
    expect(fx.read()).toEqual({ host: os.hostname(), pid: process.pid, since: expect.any(String) });
    expect(lock.holder).toEqual(fx.read());
    await lock.release();
    await lock.release();
    expect(existsSync(fx.file)).toBe(false);
  });

  it("refuses while the holder's pid is alive on this host, naming the pid and the folder", async () => {
    const fx = fixture();
    const lock = await lockStateDir(fx.dir, { logger: fx.logger });
    const error = await rejection(lockStateDir(fx.dir, { logger: fx.logger, pid: 999_999_999 }));
    expect(error.code).toBe("CB_STATE_LOCKED");
    expect(error.message).toContain(`pid ${process.pid}`);
    expect(error.message).toContain(path.resolve(fx.dir));
    expect(error.fix).toContain(`kill ${process.pid}`);
    expect(error.fix).toContain("state.dir");
    expect(isClawbridgeError(error, "CB_STATE_LOCKED") && error.details.holder).toMatchObject({
      pid: process.pid,
    });
    // The holder keeps its lock.
    expect(fx.read().pid).toBe(process.pid);

    const zh = await rejection(lockStateDir(fx.dir, { pid: 999_999_999 }));
    expect(zh.describe("zh-CN")).toContain(`进程 ${process.pid}`);
    await lock.release();
  });

  it("refuses a second lock of the same folder in one process", async () => {
    const fx = fixture();
    const lock = await lockStateDir(fx.dir);
    const error = await rejection(lockStateDir(fx.dir));
    expect(error.code).toBe("CB_STATE_LOCKED");
    expect(error.message).toContain("this process already holds");
    await lock.release();
  });

  it("refuses a concurrent second lock with the same identity in one process", async () => {
    const fx = fixture();
    const results = await Promise.allSettled([lockStateDir(fx.dir), lockStateDir(fx.dir)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    for (const r of results) if (r.status === "fulfilled") await r.value.release();
  });

  it("takes over the lock of a pid that is gone, with a warning", async () => {
    const fx = fixture();
    await lockStateDir(fx.dir).then((l) => l.release());
    const dead = await deadPid();
    writeHolder(fx.file, { pid: dead });
    const lock = await lockStateDir(fx.dir, { logger: fx.logger });
    expect(fx.read().pid).toBe(process.pid);
    expect(fx.sink.text()).toContain(`pid ${dead}, which is gone`);
    expect(fx.sink.records().filter((r) => r.level === 40)).toHaveLength(1);
    // Nothing left beside it.
    expect(readdirSync(fx.dir)).toEqual(["bridge.lock"]);
    await lock.release();
  });

  it("takes over a lock written on another host (a copied state folder), with a warning", async () => {
    const fx = fixture();
    await lockStateDir(fx.dir).then((l) => l.release());
    writeHolder(fx.file, { host: "old-laptop", pid: process.pid });
    const lock = await lockStateDir(fx.dir, { logger: fx.logger });
    expect(fx.read().host).toBe(os.hostname());
    const warning = fx.sink.records().find((r) => r.level === 40);
    expect(warning?.msg).toContain("written on old-laptop");
    expect(warning?.msg).toContain("copied");
    await lock.release();
  });

  it("takes over an unreadable lock once it stays unreadable", async () => {
    const fx = fixture();
    await lockStateDir(fx.dir).then((l) => l.release());
    writeFileSync(fx.file, "{not json");
    const lock = await lockStateDir(fx.dir, { logger: fx.logger });
    expect(fx.read().pid).toBe(process.pid);
    await lock.release();
  });

  it("release leaves a lock that is no longer ours", async () => {
    const fx = fixture();
    const lock = await lockStateDir(fx.dir, { logger: fx.logger });
    writeHolder(fx.file, { pid: 4242 });
    await lock.release();
    expect(fx.read().pid).toBe(4242);
    expect(fx.sink.text()).toContain("no longer ours");
  });

  it("lets exactly one of many starters take over the same dead lock", async () => {
    for (let round = 0; round < 5; round++) {
      const fx = fixture();
      await lockStateDir(fx.dir).then((l) => l.release());
      writeHolder(fx.file, { pid: 1_000_000_001 });
      // Pretend to be eight processes; only the dead holder's pid is gone.
      const pids = [11, 12, 13, 14, 15, 16, 17, 18];
      const isAlive = (pid: number) => pid !== 1_000_000_001;
      const results = await Promise.allSettled(pids.map((pid) => lockStateDir(fx.dir, { pid, isAlive })));
      const won = results.filter((r): r is PromiseFulfilledResult<StateLock> => r.status === "fulfilled");
      expect(won, JSON.stringify(results.map((r) => r.status))).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") expect((r.reason as ClawbridgeError).code).toBe("CB_STATE_LOCKED");
      }
      expect(fx.read().pid).toBe(won[0]!.value.holder.pid);
      expect(readdirSync(fx.dir)).toEqual(["bridge.lock"]);
      await won[0]!.value.release();
    }
  });

  it("isProcessAlive: this process yes, a finished one no, pid 1 yes even without permission, 0 never", async () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(await deadPid())).toBe(false);
    expect(isProcessAlive(1)).toBe(true);
    expect(isProcessAlive(0)).toBe(false);
    expect(isProcessAlive(-1)).toBe(false);
  });
});
