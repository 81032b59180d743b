// A tailer in its own process, to be killed: `tail-worker <root> <stateDir> <sink|file> <out>`.
// With "sink" it records deliveries through SinkLedger (exactly once); with "file" it uses
// the default FileTailLedger and writes each id to <out> from the handler.
import { appendFileSync } from "node:fs";
import path from "node:path";
import { FileTailLedger, FsMailboxStore } from "../../src/mailbox/index.js";
import { SinkLedger } from "./sink-ledger.js";
import { dropTornTail } from "./torn-tail.js";

const [root, stateDir, mode, out] = process.argv.slice(2) as [string, string, string, string];
const store = new FsMailboxStore({ root, self: "clawbridge", stateDir, watch: "native" });
// A kill can leave half an id line behind; it was never committed, and the next append must not be glued to it.
if (mode === "file") await dropTornTail(out);
const ledger =
  mode === "sink"
    ? new SinkLedger(out, path.join(stateDir, "sink-cursors.json"))
    : new FileTailLedger(stateDir);
await store.tail({
  startAt: "start",
  ledger,
  handler: (envelope) => {
    if (mode === "file") appendFileSync(out, `${envelope.id}\n`);
  },
});
process.stdout.write("ready\n");
