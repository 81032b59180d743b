import { finished, spawnTs, type Finished } from "../../test/helpers/spawn.js";

/**
 * A benchmark's counterpart in a process of its own (so its CPU time is not the measured
 * side's): starts `script`, waits for it to print `url <url>`, and returns that URL.
 */
export async function startServerProcess(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ url: string; child: ReturnType<typeof spawnTs>; exited: Promise<Finished> }> {
  const child = spawnTs(script, args, options);
  const exited = finished(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /url (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then((r) => reject(new Error(`${script} exited: ${r.stderr}`)));
  });
  return { url, child, exited };
}
