// A separate process appending through the real appender: `append-worker <root> <to> <worker> <count>`.
import { FsMailboxStore } from "../../src/mailbox/index.js";

const [root, to, worker, count] = process.argv.slice(2);
const store = new FsMailboxStore({ root: root!, self: "clawbridge", stateDir: `${root}/../state-${worker}` });
for (let i = 0; i < Number(count); i++) {
  await store.append({ from: `worker-${worker}`, to: to!, type: "message", content: `${worker}:${i}` });
}
