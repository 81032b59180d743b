// The lock I/O thread: performs the file operations of locks and locked appends with
// synchronous system calls, off the main thread. Synchronous calls keep a lock held for
// microseconds instead of a dozen thread-pool round trips; running them here keeps the main
// event loop responsive when the share is slow. It never waits for a lock: a busy one is
// reported at once, so a held lock on one file never delays work on another.
import fs from "node:fs";
import { parentPort } from "node:worker_threads";
import { AppendedIds } from "./appended-ids.js";
import type {
  LockIoAnswer,
  LockIoEnvelope,
  LockIoReply,
  LockIoRequest,
  RawLock,
} from "./lock-io-protocol.js";

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : "EIO";
}

function createExclusive(file: string, body: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, "wx");
  } catch (error) {
    if (errnoOf(error) === "EEXIST") return false;
    throw error;
  }
  try {
    writeWhole(fd, Buffer.from(body));
  } catch (error) {
    // A lock whose record could not be written (a full disk) would read as held by nobody
    // and block every writer until it turns stale: it was never ours, so it goes.
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  return true;
}

// `writeSync` may write only part (a disk with less room than the data): go on until all is
// written or a write fails.
function writeWhole(fd: number, data: Buffer): void {
  for (let offset = 0; offset < data.length;) offset += fs.writeSync(fd, data, offset, data.length - offset);
}

function readRaw(file: string): RawLock | undefined {
  try {
    const stat = fs.statSync(file);
    return { text: fs.readFileSync(file, "utf8"), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

const appendedIds = new AppendedIds();

// Lines whose id (`unlessIds[i]` for line i) the file holds already are left out, decided
// under the lock. A newline first when the file does not end with one: a writer that died
// mid-line leaves a fragment that becomes a line of its own (quarantined by readers) instead
// of swallowing ours.
function appendWhole(file: string, text: string, unlessIds?: string[]): void {
  const fd = fs.openSync(file, "a+");
  try {
    const { size } = fs.fstatSync(fd);
    if (unlessIds && size > 0) {
      const present = appendedIds.idsOf(file, fd, size);
      const lines = text.split("\n");
      const kept = lines.filter((_, i) => unlessIds[i] === undefined || !present.has(unlessIds[i]));
      if (kept.length === 0) return;
      text = kept.join("\n");
    }
    let prefix = "";
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    try {
      writeWhole(fd, Buffer.from(`${prefix}${text}\n`));
    } catch (error) {
      // Part of the lines may be written (a full disk): cut the file back, under our lock, so
      // no torn line stays behind to be read as a lost envelope; the caller tries again.
      try {
        fs.ftruncateSync(fd, size);
      } catch {
        // The next append starts with a newline; the fragment is quarantined by readers.
      }
      throw error;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function serve(request: LockIoRequest): LockIoReply {
  switch (request.op) {
    case "create":
      return createExclusive(request.file, request.body)
        ? { ok: true, created: true }
        : { ok: true, created: false, found: readRaw(request.file) };
    case "append": {
      if (!createExclusive(request.lockFile, request.body)) {
        return { ok: true, created: false, found: readRaw(request.lockFile) };
      }
      try {
        appendWhole(request.file, request.text, request.unlessIds);
      } finally {
        fs.rmSync(request.lockFile, { force: true });
      }
      return { ok: true, created: true };
    }
    case "removeIfStill": {
      const guard = `${request.file}.takeover`;
      if (!createExclusive(guard, request.guardBody))
        return { ok: true, removed: false, guard: readRaw(guard) };
      try {
        const current = readRaw(request.file);
        const removed = current?.text === request.judged;
        if (removed) fs.rmSync(request.file, { force: true });
        return { ok: true, removed };
      } finally {
        fs.rmSync(guard, { force: true });
      }
    }
    case "remove": {
      // Gone already counts as released; a file holding someone else's record is left alone.
      const current = request.onlyIf === undefined ? undefined : readRaw(request.file);
      if (current && current.text !== request.onlyIf) return { ok: true, removed: false };
      fs.rmSync(request.file, { force: true });
      return { ok: true, removed: true };
    }
    case "serverNow": {
      const probe = `${request.file}.now.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;
      try {
        fs.writeFileSync(probe, "");
        return { ok: true, now: fs.statSync(probe).mtimeMs };
      } catch {
        // The caller falls back to its own clock.
        return { ok: true };
      } finally {
        fs.rmSync(probe, { force: true });
      }
    }
  }
}

parentPort?.on("message", ({ id, request }: LockIoEnvelope) => {
  let reply: LockIoReply;
  try {
    reply = serve(request);
  } catch (error) {
    reply = {
      ok: false,
      errno: errnoOf(error),
      message: error instanceof Error ? error.message : String(error),
    };
  }
  parentPort!.postMessage({ id, reply } satisfies LockIoAnswer);
});
