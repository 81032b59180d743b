import { describe, it } from "vitest";
import { startFakeModelServer, type FakeModelServer } from "../../src/sim/fake-model-server.js";
import { gatewayBehaviour } from "../shared/gateway-behaviour.js";
import { conformanceEnv, startRealGateway } from "./real-gateway.js";

const env = conformanceEnv();

if (!env) {
  describe("conformance against the real openclaw", () => {
    it.skip("needs NODE24 and OPENCLAW (run .ci/install-conformance.sh, or bash .ci/run)", () => undefined);
  });
} else {
  let model: FakeModelServer;
  gatewayBehaviour(
    "real openclaw 2026.9.6",
    async () => {
      model = await startFakeModelServer();
      const gateway = await startRealGateway({ modelUrl: model.url, ...env });
      return {
        url: gateway.url,
        token: gateway.token,
        kill: () => gateway.kill(),
        restart: () => gateway.restart(),
        runsWith: (marker) => model.prompts.filter((prompt) => prompt.includes(marker)).length,
        stop: async () => {
          await gateway.stop();
          await model.close();
        },
      };
    },
    { firstRunMs: 60_000 },
  );
}
