// An outbox user in its own process, to be killed: `outbox-worker <dir> <seed>`.
//
// Its input is a fixed list of items for three outboxes under <dir>/outbox. It resumes by
// putting every item the outboxes do not know (what a relay reading its inbox again would
// hand over), in batches of 1–20, while "delivering" pending items in random order: each
// delivery appends `<id>\n` to <dir>/effects.log, then marks the item done. What `put` and
// `done` acknowledged goes to <dir>/acked-put.log and <dir>/acked-done.log; at start the
// worker checks those against the journals (exit 3: a put was lost; 4: a done came back).
import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Outbox, type PutResult } from "../../src/relay/outbox.js";

export const OUTBOX_WORKER_TOTAL = 2_000;
export const OUTBOX_WORKER_TARGETS = ["ai-pc", "office-mac", "feishu:oc_audit"] as const;
/** Deliveries in flight at once: a kill can repeat at most this many effects. */
export const OUTBOX_WORKER_MAX_DELIVERIES = 5;

/** The fixed input: the same ids and targets on every run. */
export function outboxWorkerInput(): { id: string; target: string }[] {
  return Array.from({ length: OUTBOX_WORKER_TOTAL }, (_, i) => ({
    id: `e-${String(i).padStart(4, "0")}`,
    target: OUTBOX_WORKER_TARGETS[(i * 7 + (i >> 3)) % 3]!,
  }));
}

/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const readIds = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .slice(0, -1)
    .filter((l) => l);

async function main(): Promise<void> {
  const [dir, seedText] = process.argv.slice(2) as [string, string];
  const rand = random(Number(seedText));
  const files = {
    effects: path.join(dir, "effects.log"),
    ackedPut: path.join(dir, "acked-put.log"),
    ackedDone: path.join(dir, "acked-done.log"),
  };
  for (const file of Object.values(files)) appendFileSync(file, "");
  const outboxes = new Map<string, Outbox<{ n: number }>>();
  for (const target of OUTBOX_WORKER_TARGETS) {
    const outbox = new Outbox<{ n: number }>({ dir: path.join(dir, "outbox"), target, capacity: 100 });
    await outbox.load();
    outboxes.set(target, outbox);
  }
  const input = outboxWorkerInput();
  const targetOf = new Map(input.map((entry) => [entry.id, entry.target]));
  const outboxOf = (id: string) => outboxes.get(targetOf.get(id)!)!;

  const pendingIds = () => new Set([...outboxes.values()].flatMap((o) => o.pending().map((i) => i.id)));
  const lost = readIds(files.ackedPut).filter((id) => !outboxOf(id).has(id));
  if (lost.length > 0) exit(3, `put acknowledged but lost: ${lost.join(" ")}`);
  const pendingNow = pendingIds();
  const resurrected = readIds(files.ackedDone).filter((id) => pendingNow.has(id));
  if (resurrected.length > 0) exit(4, `done acknowledged but pending again: ${resurrected.join(" ")}`);
  process.stdout.write("ready\n");

  const toPut = input.filter((entry) => !outboxOf(entry.id).has(entry.id));
  let full = false;
  const putSome = async () => {
    const batch = toPut.splice(0, 1 + Math.floor(rand() * 20));
    const byTarget = new Map<string, typeof batch>();
    for (const entry of batch) byTarget.set(entry.target, [...(byTarget.get(entry.target) ?? []), entry]);
    const results = new Map<string, PutResult>();
    await Promise.all(
      [...byTarget].flatMap(([target, entries]) => {
        // Two calls per outbox now and then: concurrent puts share a write.
        const cut = rand() < 0.3 ? Math.floor(entries.length / 2) : 0;
        return [entries.slice(0, cut), entries.slice(cut)].map(async (part) => {
          const items = part.map((e) => ({
            id: e.id,
            payload: { n: Number(e.id.slice(2)) },
            enqueuedAt: 0,
            attempts: 0,
          }));
          const answers = await outboxes.get(target)!.put(items);
          part.forEach((e, i) => results.set(e.id, answers[i]!));
        });
      }),
    );
    const refused = batch.filter((e) => results.get(e.id) === "overflow");
    toPut.unshift(...refused);
    full = refused.length > 0;
    const acked = batch.filter((e) => results.get(e.id) !== "overflow").map((e) => `${e.id}\n`);
    appendFileSync(files.ackedPut, acked.join(""));
  };
  const deliverSome = async () => {
    const candidates = [...outboxes.values()].flatMap((o) => o.pending().map((i) => i.id));
    const picked = new Set<string>();
    const count = 1 + Math.floor(rand() * OUTBOX_WORKER_MAX_DELIVERIES);
    while (picked.size < Math.min(count, candidates.length)) {
      picked.add(candidates[Math.floor(rand() * candidates.length)]!);
    }
    // The effect first, then `done`: a kill in between repeats the effect, never loses it.
    for (const id of picked) appendFileSync(files.effects, `${id}\n`);
    await Promise.all([...picked].map((id) => outboxOf(id).done(id)));
    appendFileSync(files.ackedDone, [...picked].map((id) => `${id}\n`).join(""));
  };
  while (toPut.length > 0 || [...outboxes.values()].some((o) => o.size > 0)) {
    const put = toPut.length > 0 && !full && rand() < 0.6;
    const deliver = !put || rand() < 0.5;
    full = false;
    await Promise.all([put ? putSome() : undefined, deliver ? deliverSome() : undefined]);
  }
  const stats = [...outboxes.values()].map((o) => o.stats());
  for (const outbox of outboxes.values()) await outbox.close();
  process.stdout.write(`finished ${JSON.stringify(stats)}\n`);
}

function exit(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

// The test imports the input from here too: only run when started as a script.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
