import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

/**
 * The `clawbridge/layers` rule (eslint/layers.js) run through ESLint's Node API with the
 * project's own eslint.config.js, on snippets placed at paths inside src/.
 */
const root = fileURLToPath(new URL("../../../", import.meta.url));
const RULE = "clawbridge/layers";

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: root, overrideConfigFile: `${root}eslint.config.js` });
});

/** The layer messages ESLint reports for `code` as if it were the file at `filePath`. */
async function layerMessages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe("clawbridge/layers reports", () => {
  it.each([
    [
      "an upward import, with the layers in the message",
      "src/relay/plan-task.ts",
      'import { taskQueue } from "../tasks/index.js";',
      "relay/ (layer 4) may not import tasks/ (layer 5): imports point downward only — ARCHITECTURE.md Modules",
    ],
    [
      "an upward import out of core/",
      "src/core/settings.ts",
      'import { loadConfig } from "../config/index.js";',
      "core/ (layer 1) may not import config/ (layer 2): imports point downward only",
    ],
    [
      "an upward import that is type-only",
      "src/mailbox/pool-view.ts",
      'import type { NodePool } from "../nodes/index.js";',
      "mailbox/ (layer 2) may not import nodes/ (layer 3)",
    ],
    [
      "an upward import() type",
      "src/nodes/relay-view.ts",
      'export type Relay = import("../relay/index.js").Relay;',
      "nodes/ (layer 3) may not import relay/ (layer 4)",
    ],
    [
      "an upward re-export",
      "src/gateway/index.ts",
      'export * from "../relay/index.js";',
      "gateway/ (layer 2) may not import relay/ (layer 4)",
    ],
    [
      "an adapter importing another adapter",
      "src/mailbox/gateway-status.ts",
      'import { WsGatewayClient } from "../gateway/index.js";',
      "mailbox/ (layer 2) may not import gateway/ (layer 2): config/ and the adapters mailbox/, gateway/, feishu/ never import each other",
    ],
    [
      "an adapter importing another adapter's types",
      "src/feishu/store-view.ts",
      'import type { MailboxStore } from "../mailbox/index.js";',
      "feishu/ (layer 2) may not import mailbox/ (layer 2)",
    ],
    [
      "an adapter importing a value from config/",
      "src/gateway/settings.ts",
      'import { loadConfig } from "../config/index.js";',
      "gateway/ may import only types from config/: write `import type { … }`",
    ],
    [
      "an adapter importing config/ with inline type specifiers (kept at run time)",
      "src/mailbox/settings.ts",
      'import { type Config } from "../config/index.js";',
      "mailbox/ may import only types from config/",
    ],
    [
      "config/ importing an adapter",
      "src/config/node-check.ts",
      'import type { MailboxStore } from "../mailbox/index.js";',
      "config/ imports only core/, not mailbox/",
    ],
    [
      "production code importing sim/",
      "src/app.ts",
      'import { startFeishuEmulator } from "./sim/feishu/index.js";',
      "app.ts may not import sim/: production code never loads the stand-ins; only demo/ and tests may",
    ],
    [
      "production code importing sim/ dynamically",
      "src/cli/commands/sandbox.ts",
      'export const load = () => import("../../sim/fake-gateway.js");',
      "cli/ may not import sim/",
    ],
    [
      "a static import of demo/ from cli/",
      "src/cli/commands/demo.ts",
      'import { startDemo } from "../../demo/index.js";',
      "cli/ may load demo/ only with a dynamic import()",
    ],
    [
      "demo/ imported by anything but cli/",
      "src/app.ts",
      'export const load = () => import("./demo/index.js");',
      "app.ts may not import demo/",
    ],
    [
      "the Feishu SDK outside feishu/",
      "src/relay/lark-send.ts",
      'import * as lark from "@larksuiteoapi/node-sdk";',
      "relay/ may not import the Feishu SDK (@larksuiteoapi/node-sdk): only feishu/ knows Feishu",
    ],
    [
      "the Feishu SDK from cli/",
      "src/cli/doctor/lark-check.ts",
      'import { Client } from "@larksuiteoapi/node-sdk";',
      "cli/ may not import the Feishu SDK",
    ],
    [
      "the Feishu SDK from sim/",
      "src/sim/feishu/sdk-frames.ts",
      'import * as lark from "@larksuiteoapi/node-sdk";',
      "sim/ may not import the Feishu SDK",
    ],
    [
      "a reach past index.ts",
      "src/app.ts",
      'import { describeStop } from "./relay/loop-guard.js";',
      "app.ts may not reach inside relay/: import from src/relay/index.ts, not src/relay/loop-guard.js",
    ],
    [
      "a reach past index.ts to a sub-folder's index",
      "src/relay/webhook-view.ts",
      'import type { WebhookRoutes } from "../feishu/webhook/index.js";',
      "relay/ may not reach inside feishu/: import from src/feishu/index.ts, not src/feishu/webhook/index.js",
    ],
    [
      "sim/ reaching past index.ts",
      "src/sim/fake-frames.ts",
      'import { requestFrameSchema } from "../gateway/frames.js";',
      "sim/ may not reach inside gateway/",
    ],
    [
      "sim/ importing the bridge it stands in for",
      "src/sim/fake-relay.ts",
      'import { Relay } from "../relay/index.js";',
      "sim/ may import only core/, config types and the adapters it fakes (mailbox/, gateway/, feishu/), not relay/",
    ],
    [
      "a module missing from the layer table",
      "src/widgets/board.ts",
      'import { nodeKey } from "../core/index.js";',
      "src/widgets is not in the layer table",
    ],
  ])("%s", async (_name, filePath, code, expected) => {
    const messages = await layerMessages(filePath, code);
    expect(
      messages.some((m) => m.includes(expected)),
      messages.join("\n") || "(nothing reported)",
    ).toBe(true);
  });

  it("reports a reach past index.ts that also points upward twice, once for each rule", async () => {
    const messages = await layerMessages(
      "src/feishu/loop-view.ts",
      'import { describeStop } from "../relay/loop-guard.js";',
    );
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain("may not reach inside relay/");
    expect(messages[1]).toContain("feishu/ (layer 2) may not import relay/ (layer 4)");
  });
});

describe("clawbridge/layers allows", () => {
  it.each([
    [
      "downward imports through index.ts",
      "src/relay/route.ts",
      [
        'import { nodeKey } from "../core/index.js";',
        'import type { Config } from "../config/index.js";',
        'import type { InboundChatMessage } from "../feishu/index.js";',
        'import type { GatewayClient } from "../gateway/index.js";',
        'import type { MailboxStore } from "../mailbox/index.js";',
        'import type { NodePool } from "../nodes/index.js";',
      ].join("\n"),
    ],
    [
      "an adapter importing config types and core/",
      "src/feishu/settings.ts",
      'import type { FeishuConfig } from "../config/index.js";\nimport { ClawbridgeError } from "../core/index.js";',
    ],
    [
      "config/ importing core/",
      "src/config/names.ts",
      'import { NODE_NAME_PATTERN } from "../core/index.js";',
    ],
    [
      "a module's own files, in sub-folders too",
      "src/feishu/intake-view.ts",
      'import { toFeishuCardAnswer } from "./webhook/card-answer.js";\nimport type { CardJson } from "./types.js";',
    ],
    [
      "a module's own files from a sub-folder",
      "src/feishu/outbound/plan.ts",
      'import type { FeishuApi } from "../api.js";\nimport type { Clock } from "../../core/index.js";',
    ],
    [
      "the Feishu SDK inside feishu/",
      "src/feishu/client.ts",
      'import * as lark from "@larksuiteoapi/node-sdk";',
    ],
    [
      "the top layer importing each other and everything below",
      "src/app.ts",
      'import { startHttpServer } from "./http/index.js";\nimport { Relay } from "./relay/index.js";\nimport { NodePool } from "./nodes/index.js";',
    ],
    [
      "tasks/ (not written yet) importing relay/",
      "src/tasks/queue.ts",
      'import type { Relay } from "../relay/index.js";',
    ],
    [
      "cli/ loading app.ts and the demo with dynamic imports",
      "src/cli/commands/demo.ts",
      'export const app = () => import("../../app.js");\nexport const demo = () => import("../../demo/index.js");',
    ],
    [
      "demo/ importing sim/ and the app",
      "src/demo/start.ts",
      'import { startFeishuEmulator } from "../sim/feishu/index.js";\nimport { startBridge } from "../app.js";',
    ],
    [
      "sim/ importing core/, config types and the adapters it fakes",
      "src/sim/fake-agent.ts",
      [
        'import type { Logger } from "../core/index.js";',
        'import type { Config } from "../config/index.js";',
        'import { requestFrameSchema } from "../gateway/index.js";',
        'import type { MailboxStore } from "../mailbox/index.js";',
        'import type { InboundChatMessage } from "../feishu/index.js";',
      ].join("\n"),
    ],
    [
      "tests, which are not checked",
      "test/unit/relay/loop-guard-view.test.ts",
      'import * as lark from "@larksuiteoapi/node-sdk";\nimport { describeStop } from "../../../src/relay/loop-guard.js";\nimport { startFeishuEmulator } from "../../../src/sim/feishu/index.js";',
    ],
    [
      "bench code, which is not checked",
      "bench/relay/view.ts",
      'import { describeStop } from "../../src/relay/loop-guard.js";',
    ],
  ])("%s", async (_name, filePath, code) => {
    expect(await layerMessages(filePath, code)).toEqual([]);
  });
});
