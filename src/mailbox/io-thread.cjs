"use strict";
// The mailbox I/O thread: takes the shared folder's file locks and appends lines with
// synchronous system calls, off the main thread. Synchronous calls keep a lock held for
// microseconds instead of a dozen thread-pool round trips; running them here keeps the
// main event loop responsive even when the share is slow or hangs.
//
// Requests: {id, op: "lock" | "unlock" | "append", file, staleMs, timeoutMs, text?}
// Replies:  {id, ok: true} | {id, ok: false, code, message, holder?}

const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const os = require("node:os");

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms) {
  Atomics.wait(sleeper, 0, 0, ms);
}

function errno(error) {
  return error && typeof error.code === "string" ? error.code : undefined;
}

function readHolder(lockFile) {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockFile, "utf8"));
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") return parsed;
  } catch {
    // Half-written or gone.
  }
  return undefined;
}

// "Now" on the file server: the mtime of a file just touched beside the lock, so hosts with
// skewed clocks agree on staleness.
function serverNow(lockFile) {
  const probe = `${lockFile}.now.${process.pid}`;
  try {
    fs.writeFileSync(probe, "");
    return fs.statSync(probe).mtimeMs;
  } catch {
    return Date.now();
  } finally {
    try {
      fs.rmSync(probe, { force: true });
    } catch {
      // ignore
    }
  }
}

function breakIfStale(lockFile, staleMs, askServer) {
  try {
    const stat = fs.statSync(lockFile);
    if (!askServer && Date.now() - stat.mtimeMs <= staleMs) return false;
    if (serverNow(lockFile) - stat.mtimeMs <= staleMs) return false;
    fs.rmSync(lockFile, { force: true });
    return true;
  } catch (error) {
    return errno(error) === "ENOENT";
  }
}

function acquire(file, staleMs, timeoutMs) {
  const lockFile = `${file}.lock`;
  const body = JSON.stringify({ host: os.hostname(), pid: process.pid, since: new Date().toISOString() });
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(lockFile, "wx");
      try {
        fs.writeSync(fd, body);
      } finally {
        fs.closeSync(fd);
      }
      return;
    } catch (error) {
      if (errno(error) !== "EEXIST") throw error;
    }
    // The local clock decides cheaply; every 200 attempts ask the server's, in case ours is behind.
    if (breakIfStale(lockFile, staleMs, attempt > 0 && attempt % 200 === 0)) continue;
    if (Date.now() >= deadline) {
      const busy = new Error(`${lockFile} is held`);
      busy.code = "CB_MAILBOX_LOCKED";
      busy.holder = readHolder(lockFile);
      throw busy;
    }
    // Locks are held for microseconds: wait a little, jittered, growing slowly.
    sleepMs(Math.min(5, 0.1 + attempt * 0.05) * (0.5 + Math.random()));
  }
}

function release(file) {
  fs.rmSync(`${file}.lock`, { force: true });
}

// A newline first when the file does not end with one: a writer that died mid-line leaves a
// fragment that becomes a line of its own (quarantined by readers) instead of swallowing ours.
function appendWhole(file, text) {
  const fd = fs.openSync(file, "a+");
  try {
    const { size } = fs.fstatSync(fd);
    let prefix = "";
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    fs.writeSync(fd, `${prefix}${text}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

parentPort.on("message", (request) => {
  const { id, op, file, staleMs, timeoutMs, text } = request;
  try {
    if (op === "lock") acquire(file, staleMs, timeoutMs);
    else if (op === "unlock") release(file);
    else if (op === "append") {
      acquire(file, staleMs, timeoutMs);
      try {
        appendWhole(file, text);
      } finally {
        release(file);
      }
    } else throw new Error(`unknown op ${op}`);
    parentPort.postMessage({ id, ok: true });
  } catch (error) {
    parentPort.postMessage({
      id,
      ok: false,
      code: errno(error) ?? "EIO",
      message: error instanceof Error ? error.message : String(error),
      holder: error && error.holder,
    });
  }
});
