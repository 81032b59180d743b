import { spawn } from "node:child_process";
import type { Logger } from "../core/index.js";

/**
 * Opens `url` in the default browser (`--open`), the usual way on each platform. Best effort:
 * a machine without a desktop (a server, a container) just keeps the printed URL.
 */
export function openBrowser(url: string, logger: Logger): void {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(command, args, { stdio: "ignore", detached: true });
    child.on("error", (error) =>
      logger.warn({ err: error, url }, "could not open a browser; open the URL yourself"),
    );
    child.unref();
  } catch (error) {
    logger.warn({ err: error, url }, "could not open a browser; open the URL yourself");
  }
}
