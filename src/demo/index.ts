/**
 * The demo sandbox: the real bridge wired to the stand-ins of `sim/`, with its web page.
 * Loaded only by the CLI (`clawbridge demo`, and `clawbridge` without a config), with a
 * dynamic `import()`, so `clawbridge start` never loads the stand-ins.
 */
export {
  startDemo,
  DEFAULT_DEMO_PORT,
  DEFAULT_DEMO_STATE_DIR,
  type DemoOptions,
  type RunningDemo,
} from "./sandbox.js";
export { DEMO_MARKER } from "./folder.js";
export type { DemoNode, DemoWorld } from "./types.js";
