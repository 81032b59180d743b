// Fake OpenClaw gateways in a process of their own, standing in for the nodes' computers, so
// their CPU time is not the bridge's: `fakes-process <FakesSpec JSON>` (forked with IPC by
// `Child`). Records every `agent` request with its arrival time (`received[].at`), hands the
// records over on `drain`, and lets a node's agent speak in a group session on `say`. With
// `recordEnds`, also when each `agent` run ended (`ends`); `runs` lists a node's runs.
import { startFakeGateway, type FakeGateway } from "../../src/sim/fake-gateway.js";
import { epochMs } from "../lib/report.js";
import { cpuMs, serve, type Arrival, type FakesSpec, type RunEnd } from "./ipc.js";

const spec = JSON.parse(process.argv[2]!) as FakesSpec;
const fakes = new Map<string, FakeGateway>();
let arrivals: Arrival[] = [];
let ends: RunEnd[] = [];

for (const node of spec.nodes) {
  const fake = await startFakeGateway({ token: spec.token, script: node.script });
  fake.on("request", (frame) => {
    if (frame.method !== "agent") return;
    // `received` got this frame just before the event; its `at` is the arrival time.
    const at = fake.received.at(-1)!.at;
    const key = (frame.params as { idempotencyKey?: unknown }).idempotencyKey;
    arrivals.push({ node: node.name, key: typeof key === "string" ? key : "", at });
  });
  if (spec.recordEnds) {
    fake.on("run", (run) => {
      if (run.origin !== "agent") return;
      // `runFinished` resolves right after the run's final `agent`/`chat` events were sent.
      void fake.runFinished(run.runId).then((info) => {
        if (info) ends.push({ node: node.name, runId: info.runId, status: info.status, at: epochMs() });
      });
    });
  }
  fakes.set(node.name, fake);
}

const ready = serve(async (command) => {
  switch (command.type) {
    case "say": {
      const fake = fakes.get(command.node);
      if (!fake) throw new Error(`no fake gateway for ${command.node}`);
      const at = epochMs();
      const runId = fake.sayInGroup({ chatId: command.chatId, text: command.text, chunks: 1, delayMs: 0 });
      return { id: command.id, type: "said", runId, at };
    }
    case "drain": {
      const taken = arrivals;
      arrivals = [];
      return { id: command.id, type: "arrivals", arrivals: taken, cpuMs: cpuMs() };
    }
    case "ends": {
      const taken = ends;
      ends = [];
      return { id: command.id, type: "ends", ends: taken };
    }
    case "runs": {
      const fake = fakes.get(command.node);
      if (!fake) throw new Error(`no fake gateway for ${command.node}`);
      const runs = fake
        .runs()
        .filter((run) => run.origin === "agent")
        .map(({ runId, status, text }) => ({ runId, status, text }));
      return { id: command.id, type: "runs", runs };
    }
    case "stop":
      await Promise.all([...fakes.values()].map((fake) => fake.close()));
      return { id: command.id, type: "stopped" };
    default:
      throw new Error(`fakes-process: unknown command ${command.type}`);
  }
});
ready({ type: "ready", urls: Object.fromEntries([...fakes].map(([name, fake]) => [name, fake.url])) });
