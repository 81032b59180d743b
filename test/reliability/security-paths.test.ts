import {
  appendFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { isClawbridgeError } from "../../src/core/index.js";
import { FsMailboxStore } from "../../src/mailbox/index.js";
import { bridgeWorld, startWorldBridge, type BridgeWorld } from "../helpers/bridge.js";
import { tempDir } from "../helpers/temp.js";
import { sleep, waitFor } from "../helpers/wait.js";

// Node names and mailbox addresses become file names under the shared root (`to-<node>.jsonl`,
// `status/<node>.json`), and the share is writable by every agent: no name and no link
// planted in it may make the bridge read or write outside the root.

const line = (envelope: Record<string, unknown>) =>
  `${JSON.stringify({ timestamp: new Date().toISOString(), type: "message", ...envelope })}\n`;

/** Every file and link under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

/** A folder next to the shared root, with a file the bridge must never read or change. */
function outside(world: BridgeWorld) {
  const dir = path.join(path.dirname(world.root), "outside");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "private.jsonl");
  const content = line({ from: "office-mac", to: "ai-pc", content: "PRIVATE: never to be relayed" });
  writeFileSync(file, content);
  return { dir, file, content };
}

describe("names and paths cannot reach outside the shared root", () => {
  it("config refuses node names that are paths", () => {
    const dir = tempDir("clawbridge-names-");
    mkdirSync(path.join(dir, "shared"));
    const bad = [
      "../x",
      "..\\x",
      "/etc/passwd",
      "C:\\x",
      "a/b",
      "a\\b",
      "..",
      ".hidden",
      "x\u0000",
      "",
      "-x",
    ];
    for (const name of bad) {
      const file = path.join(dir, "clawbridge.json5");
      writeFileSync(file, JSON.stringify({ mailbox: { root: "./shared" }, nodes: [{ name }] }));
      let error: unknown;
      try {
        loadConfig({ path: file, env: {} });
      } catch (thrown) {
        error = thrown;
      }
      expect(isClawbridgeError(error, "CB_CONFIG_INVALID"), JSON.stringify(name)).toBe(true);
      writeFileSync(file, JSON.stringify({ mailbox: { root: "./shared", self: name } }));
      expect(() => loadConfig({ path: file, env: {} }), `mailbox.self ${JSON.stringify(name)}`).toThrow();
    }
  });

  it("`to` that is a path is refused before anything is written; a `from` that is a path gets its answer nowhere", async () => {
    const world = await bridgeWorld();
    const store = new FsMailboxStore({ root: world.root, self: "clawbridge", stateDir: tempDir() });
    for (const to of ["../x", "..\\x", "/tmp/x", "C:\\x", "con/../../x"]) {
      const error = await store
        .append({ from: "office-mac", to, type: "message", content: "hi" })
        .catch((e: unknown) => e);
      expect(
        isClawbridgeError(error, "CB_MAILBOX_INVALID_ENVELOPE") ||
          isClawbridgeError(error, "CB_MAILBOX_INVALID_NODE"),
        to,
      ).toBe(true);
    }
    const before = tree(path.dirname(world.root));
    await startWorldBridge(world);
    // Lines an agent wrote by hand: addressed with paths, or sent from one so the answer would go there.
    const inbox = path.join(world.root, "messages", "to-ai-pc.jsonl");
    appendFileSync(inbox, line({ from: "office-mac", to: "../../outside", content: "to a path" }));
    for (const from of ["../evil", "..\\evil", "/tmp/evil", "../../outside/x"]) {
      appendFileSync(inbox, line({ from, to: "ai-pc", content: `from ${from}` }));
    }
    appendFileSync(inbox, line({ from: "office-mac", to: "ai-pc", content: "the last one" }));
    await waitFor(() => world.gateways["ai-pc"].runs().some((r) => r.message.includes("the last one")), {
      what: "the last line delivered",
    });
    await waitFor(() => world.gateways["ai-pc"].runs().every((r) => r.status !== "running"), {
      what: "runs over",
    });
    await sleep(300);
    // Nothing new outside the root; inside it only what the bridge writes for real nodes.
    const after = tree(path.dirname(world.root));
    const added = after.filter((f) => !before.includes(f));
    for (const file of added) {
      expect(
        file.startsWith(`shared${path.sep}`) || file === "state" || file.startsWith(`state${path.sep}`),
        file,
      ).toBe(true);
    }
    const inboxes = readdirSync(path.join(world.root, "messages")).filter((f) => f.endsWith(".jsonl"));
    expect(
      inboxes.every((f) => /^to-[A-Za-z0-9][A-Za-z0-9_-]*\.jsonl$/.test(f)),
      inboxes.join(),
    ).toBe(true);
  });

  it("links planted in the share — inboxes, the task board, a status file — are neither read through nor written through", async () => {
    const world = await bridgeWorld();
    const target = outside(world);
    const shared = (...parts: string[]) => path.join(world.root, ...parts);
    // An agent with write access to the share plants links to a file of the bridge's computer:
    // inboxes to read and to write through, the task board (whose text around the bridge's
    // block is kept, so it would be copied into the share), another node's status file.
    mkdirSync(shared("tasks"), { recursive: true });
    mkdirSync(shared("status"), { recursive: true });
    symlinkSync(target.file, shared("messages", "to-ai-pc.jsonl"));
    symlinkSync(target.file, shared("messages", "to-nas-agent.jsonl"));
    symlinkSync(target.file, shared("tasks", "shared-tasks.md"));
    symlinkSync(target.file, shared("status", "office-mac.json"));
    const { sink } = await startWorldBridge(world, { replay: true });

    // Traffic that reads and writes each: a line for office-mac (delivered as usual), a /tell
    // to nas-agent (appended to its inbox), a task (the board rewritten).
    appendFileSync(
      shared("messages", "to-office-mac.jsonl"),
      line({ from: "ai-pc", to: "office-mac", content: "ok" }),
    );
    const say = (text: string) =>
      world.emu.say(world.emu.defaultChat, world.wang, text, { mentions: ["bridge"] }).delivered;
    await say("/tell nas-agent archive the logs");
    await say("/run ai-pc quick job");
    await waitFor(() => world.gateways["office-mac"].runs().length > 0, { what: "a plain inbox still read" });
    await waitFor(
      () => world.gateways["ai-pc"].runs().some((r) => r.origin === "agent" && r.status === "ok"),
      {
        what: "the task run",
      },
    );
    // Each refusal is logged, naming the link (the inbox write, the board's rewrite).
    for (const link of [shared("messages", "to-nas-agent.jsonl"), shared("tasks", "shared-tasks.md")]) {
      await waitFor(() => sink.text().includes(`${link} is a symbolic link`), { what: `${link} refused` });
    }
    await sleep(500);

    // The file outside is as it was, and nothing of it reached a gateway, the log or the share.
    expect(readFileSync(target.file, "utf8")).toBe(target.content);
    expect(world.gateways["ai-pc"].runs().some((r) => r.message.includes("PRIVATE"))).toBe(false);
    expect(sink.text()).not.toContain("PRIVATE");
    for (const file of tree(world.root)) {
      const full = shared(file);
      if (lstatSync(full).isFile()) expect(readFileSync(full, "utf8"), file).not.toContain("PRIVATE");
    }
    // The links are left as they are, for a person to see and remove.
    for (const link of [
      ["messages", "to-nas-agent.jsonl"],
      ["tasks", "shared-tasks.md"],
    ]) {
      expect(lstatSync(shared(...link)).isSymbolicLink(), link.join("/")).toBe(true);
    }
  });
});
