import { expect, it } from "vitest";
// Loaded before anything that loads the Feishu SDK: the order the soak's load generator had.
import { startFeishuEmulator } from "../../../src/sim/feishu/index.js";
import { waitFor } from "../../helpers/wait.js";

it("the emulator works whether it or the Feishu SDK (which reconfigures the shared protobufjs) is loaded first", async () => {
  const early = await startFeishuEmulator();
  await early.close();
  // Now the SDK loads (through the bridge) after the emulator's frame codec was built.
  const { bridgeWorld, startWorldBridge } = await import("../../helpers/bridge.js");
  const world = await bridgeWorld();
  await startWorldBridge(world);
  world.emu.say(world.emu.defaultChat, world.wang, "/nodes", { mentions: ["bridge"] });
  const answer = await waitFor(
    () => world.emu.messages(world.emu.defaultChat).find((m) => m.msgType === "interactive"),
    { what: "the /nodes card, which needs the long connection's frames both ways" },
  );
  expect(answer.msgType).toBe("interactive");
});
