import { createRequire } from "node:module";
import type * as Sdk from "@larksuiteoapi/node-sdk";

/**
 * The official Feishu SDK, loaded with `require`. It is one 6 MB CommonJS file: an ESM
 * `import` of it makes Node scan the whole source for its export names first
 * (cjs-module-lexer), which took 2–3 times as long as `require` and dominated start-up
 * (the demo's `demo.ready_ms`, `clawbridge start`). Types come from `import type`.
 */
export const lark = createRequire(import.meta.url)("@larksuiteoapi/node-sdk") as typeof Sdk;
export type { Sdk as Lark };
