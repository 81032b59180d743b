import { replyFor } from "../../../src/sim/fake-model-server.js";
import { startFakeGateway, type FakeGateway, type ScriptSource } from "../../../src/sim/fake-gateway.js";
import { gatewayBehaviour } from "../../shared/gateway-behaviour.js";

const TOKEN = "behaviour-token-not-a-secret";

// The fake's agent answers the way the fake model makes the real gateway answer.
const script: ScriptSource = ({ message }) => {
  const { chunks, delayMs } = replyFor(message);
  return { kind: "text", text: chunks.join(""), chunks: chunks.length, delayMs };
};

gatewayBehaviour("fake gateway", async () => {
  let fake: FakeGateway = await startFakeGateway({ token: TOKEN, script });
  const port = fake.port;
  const runs: { message: string }[] = [];
  const track = (gateway: FakeGateway) => gateway.on("run", (run) => runs.push(run));
  track(fake);
  return {
    url: fake.url,
    token: TOKEN,
    kill: () => fake.close(),
    restart: async () => {
      fake = await startFakeGateway({ token: TOKEN, script, port });
      track(fake);
    },
    runsWith: (marker) => runs.filter((run) => run.message.includes(marker)).length,
    stop: () => fake.close(),
  };
});
