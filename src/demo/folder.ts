import { promises as fs } from "node:fs";
import path from "node:path";
import {
  ClawbridgeError,
  errnoCode,
  lockStateDir,
  type Locale,
  type Logger,
  type StateLock,
} from "../core/index.js";
import { demoMessages } from "./messages.js";

/** The file that marks a folder as the sandbox's own, so that emptying it is safe. */
export const DEMO_MARKER = ".clawbridge-demo";

/** The sandbox's folder: what it holds, and the lock that keeps a second sandbox out of it. */
export interface DemoFolder {
  /** `<state>/bridge`: the bridge's `state.dir` (cursors, journal, device key). */
  bridgeState: string;
  /** The shared folder the bridge and the agents use. */
  shared: string;
  /** `<state>/clawbridge.json5`: the config the bridge runs with, as a file people can read. */
  configPath: string;
  lock: StateLock;
}

/**
 * Takes the sandbox's state folder: locks it (a second sandbox on the same folder is told
 * so), then empties what an earlier run left — the bridge's state, and the shared folder
 * when it is the sandbox's own — so every run starts from a clean, predictable world (the
 * emulator's chats and people are new each time, so old cursors and tasks would point
 * nowhere). A non-empty folder without the marker is someone else's: refused, never emptied.
 */
export async function takeDemoFolder(
  stateDir: string,
  sharedDir: string | undefined,
  options: { locale: Locale; logger: Logger },
): Promise<DemoFolder> {
  const t = demoMessages.t(options.locale);
  const marker = path.join(stateDir, DEMO_MARKER);
  const entries: string[] = await fs.readdir(stateDir).catch((error: unknown) => {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  });
  if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
    throw new ClawbridgeError("CB_USAGE", demoMessages.text("notDemoDir", { dir: stateDir }), {
      fix: demoMessages.text("notDemoDirFix"),
    });
  }
  const lock = await lockStateDir(stateDir, { logger: options.logger });
  try {
    await fs.writeFile(marker, t("markerText"));
    const bridgeState = path.join(stateDir, "bridge");
    const ownShared = path.join(stateDir, "shared");
    const shared = sharedDir ?? ownShared;
    await fs.rm(bridgeState, { recursive: true, force: true });
    // A shared folder given with --shared is the user's: it is used as it is, never emptied.
    if (shared === ownShared) await fs.rm(ownShared, { recursive: true, force: true });
    await fs.mkdir(path.join(shared, "messages"), { recursive: true });
    return { bridgeState, shared, configPath: path.join(stateDir, "clawbridge.json5"), lock };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
