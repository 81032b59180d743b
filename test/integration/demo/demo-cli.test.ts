import { createServer } from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { finished, runCli, spawnTs } from "../../helpers/spawn.js";
import { tempDir } from "../../helpers/temp.js";
import { waitFor } from "../../helpers/wait.js";

/** `clawbridge …` from source as a long-running child, its stdout readable while it runs. */
function launch(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const child = spawnTs("src/cli/main.ts", args, {
    cwd: options.cwd,
    env: { CLAWBRIDGE_CONFIG: "", ...options.env },
  });
  const exit = finished(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  void exit.then(() => (exited = true));
  const pageUrl = () =>
    waitFor(
      () => {
        if (exited) throw new Error(`exited before printing the page:\n${stdout}\n${stderr}`);
        return /(http:\/\/127\.0\.0\.1:\d+\/demo\/)/.exec(stdout)?.[1];
      },
      {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: () => `the page URL on stdout; so far:\n${stdout}\n${stderr}`,
      },
    );
  return { child, exit, pageUrl, stdout: () => stdout };
}

/** Whether nothing listens on 127.0.0.1:port right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

describe("clawbridge demo", () => {
  it("prints the page, the folder, the nodes and a first command; the page answers; SIGINT stops it with 0", async () => {
    const cwd = tempDir("clawbridge-demo-cli-");
    const demo = launch(["demo", "--port", "0", "--state", "sandbox"], { cwd, env: { LANG: "en_US.UTF-8" } });
    const url = await demo.pageUrl();
    expect((await fetch(url)).status).toBe(200);
    const out = demo.stdout();
    expect(out).toContain("demo sandbox");
    expect(out).toContain(`shared folder:   ${path.join("sandbox", "shared")}`);
    expect(out).toMatch(
      /nodes: +ai-pc \(gateway #gpu\), office-mac \(gateway #office\), nas-agent \(mailbox-only/,
    );
    expect(out).toContain("@clawbridge /run #gpu");
    expect(out).toContain(`clawbridge send --shared ${path.join("sandbox", "shared")} --from nas-agent`);
    demo.child.kill("SIGINT");
    const result = await demo.exit;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("SIGINT: stopping the demo sandbox");
    await expect(fetch(url)).rejects.toThrow();
  });

  it("speaks Chinese with LANG=zh_CN; a bad --port is a usage error", async () => {
    const cwd = tempDir("clawbridge-demo-cli-");
    const demo = launch(["demo", "--port", "0"], { cwd, env: { LANG: "zh_CN.UTF-8" } });
    await demo.pageUrl();
    expect(demo.stdout()).toContain("网页群聊：");
    expect(demo.stdout()).toContain("@clawbridge /run #gpu 画一只猫");
    expect(demo.stdout()).toContain(path.join(".clawbridge", "demo", "shared"));
    demo.child.kill("SIGTERM");
    expect((await demo.exit).code).toBe(0);

    const bad = await runCli(["demo", "--port", "80x"], { cwd, env: { LANG: "en_US.UTF-8" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port "80x" is not a port number');
  });

  it("npm start without a config starts the sandbox on 8787 (or, with the port taken, says to use --port)", async () => {
    const cwd = tempDir("clawbridge-demo-cli-");
    // 8787 is the default and cannot be changed without a command: both outcomes are checked,
    // whichever this machine allows right now.
    const free = await portFree(8787);
    const demo = launch([], { cwd, env: { LANG: "en_US.UTF-8" } });
    if (free) {
      const url = await demo.pageUrl();
      expect(url).toBe("http://127.0.0.1:8787/demo/");
      expect(demo.stdout()).toContain("no config found, starting the demo sandbox");
      expect((await fetch(url)).status).toBe(200);
      demo.child.kill("SIGINT");
      expect((await demo.exit).code).toBe(0);
    } else {
      const result = await demo.exit;
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("clawbridge demo --port 8788");
    }
  });
});
