// Just enough of the Dockerfile and .dockerignore formats to check ours without a container
// engine: instructions with line continuations, stages, exec-form JSON arguments, RUN flags,
// COPY sources, and dockerignore's "last matching pattern wins" with `!` exceptions.

/** One instruction: `RUN npm ci` → `{keyword: "RUN", args: "npm ci"}`. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions in order, continuation lines joined, comments and blank lines dropped. */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment lines may sit between continuation lines; they are not part of the instruction.
    if (trimmed === "" || trimmed.startsWith("#")) {
      if (pending && trimmed === "") flush();
      return;
    }
    const continues = trimmed.endsWith("\\");
    const piece = continues ? trimmed.slice(0, -1).trimEnd() : trimmed;
    pending = pending ? { ...pending, text: `${pending.text} ${piece}` } : { text: piece, line: index + 1 };
    if (!continues) flush();
  });
  flush();
  return out;

  function flush() {
    if (!pending) return;
    const match = /^(\S+)\s*([\s\S]*)$/.exec(pending.text)!;
    out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
    pending = undefined;
  }
}

/** The stages, each with the instructions after its FROM. */
export function parseStages(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === "FROM") {
      const [image, as, name] = instruction.args.split(/\s+/);
      stages.push({ image: image!, ...(as?.toUpperCase() === "AS" ? { name } : {}), instructions: [] });
    } else {
      if (stages.length === 0)
        throw new Error(`${instruction.keyword} before FROM (line ${instruction.line})`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** `["a","b"]` → `["a","b"]`; a shell-form argument is an error (we want exec form). */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((each) => typeof each === "string")) {
    throw new Error(`not an exec-form JSON array of strings: ${args}`);
  }
  return parsed;
}

/** Leading `--flag=value` options of RUN, COPY and HEALTHCHECK, and what follows them. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const match = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!match) return { flags, rest };
    flags[match[1]!] = match[2] ?? "";
    rest = rest.slice(match[0].length);
  }
}

/** `ENV A=1 B=2` (the `key=value` form, no quoting) → `{A: "1", B: "2"}`. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== "ENV") continue;
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new Error(`ENV without key=value: ${args}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** The shell commands of a stage's RUN instructions, split at `&&`, flags removed. */
export function runCommands(stage: Stage): { command: string; flags: Record<string, string> }[] {
  return stage.instructions
    .filter((each) => each.keyword === "RUN")
    .flatMap(({ args }) => {
      const { flags, rest } = splitFlags(args);
      return rest.split("&&").map((command) => ({ command: command.trim(), flags }));
    });
}

export interface CopyInstruction {
  from?: string;
  sources: string[];
  dest: string;
}

export function copies(stage: Stage): CopyInstruction[] {
  return stage.instructions
    .filter((each) => each.keyword === "COPY")
    .map(({ args }) => {
      const { flags, rest } = splitFlags(args);
      const parts = rest.startsWith("[") ? execForm(rest) : rest.split(/\s+/);
      return {
        ...(flags.from ? { from: flags.from } : {}),
        sources: parts.slice(0, -1),
        dest: parts.at(-1)!,
      };
    });
}

/** `HEALTHCHECK --interval=30s … CMD [...]` → its options and its command. */
export function healthcheck(
  stage: Stage,
): { options: Record<string, string>; command: string[] } | undefined {
  const found = stage.instructions.filter((each) => each.keyword === "HEALTHCHECK").at(-1);
  if (!found) return undefined;
  const { flags, rest } = splitFlags(found.args);
  const cmd = /^CMD\s+([\s\S]*)$/i.exec(rest);
  if (!cmd) throw new Error(`HEALTHCHECK without CMD: ${found.args}`);
  return { options: flags, command: execForm(cmd[1]!) };
}

/** Docker's duration strings as the HEALTHCHECK options use them ("30s", "1m30s", "500ms"). */
export function durationMs(text: string): number {
  let total = 0;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const rest = text.replace(/(\d+(?:\.\d+)?)(ms|s|m|h)/g, (_, value: string, unit: string) => {
    total += Number(value) * units[unit]!;
    return "";
  });
  if (rest !== "" || text === "") throw new Error(`not a duration: ${text}`);
  return total;
}

/**
 * Whether `.dockerignore` keeps `file` (a context-relative path with "/") out of the build
 * context. Patterns are matched against the path and each of its parent folders (a folder
 * that matches takes its contents with it); the last pattern that matches decides, and a
 * `!` pattern takes the path back in. `*` stays within one path segment, `**` crosses them.
 */
export function isIgnored(dockerignore: string, file: string): boolean {
  const patterns = dockerignore
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const body = (negated ? line.slice(1) : line).trim().replace(/^\/+/, "").replace(/\/+$/, "");
      return { negated, regex: globRegex(body) };
    });
  const segments = file.split("/");
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const { negated, regex } of patterns) {
    if (candidates.some((candidate) => regex.test(candidate))) ignored = !negated;
  }
  return ignored;
}

function globRegex(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` is any number of folders, none included; a trailing `**` is anything.
      if (glob[i + 2] === "/") {
        source += "(?:.*/)?";
        i += 2;
      } else {
        source += ".*";
        i++;
      }
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
