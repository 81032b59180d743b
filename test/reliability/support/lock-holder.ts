// A writer that takes a mailbox file's lock and never lets go, to be killed holding it:
// `lock-holder <file> [host]`. Prints `holding` once `<file>.lock` is its. A host other
// than this machine's plays a writer on another computer, whose pid nobody here can check.
import { withFileLock } from "../../../src/mailbox/index.js";
import { thisProcess } from "../../../src/core/index.js";

const [file, host] = process.argv.slice(2);
await withFileLock(file!, { staleMs: 60_000, identity: thisProcess({ host }) }, async () => {
  process.stdout.write("holding\n");
  // Held until killed: a timer keeps the process alive.
  await new Promise(() => setInterval(() => undefined, 60_000));
});
