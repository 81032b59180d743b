import type { Redis } from "ioredis";

/** A Lua script run by name: defined once per connection, then sent by its SHA (EVALSHA). */
export interface LuaScript {
  /** Unique across the bridge: it becomes a method of the ioredis client. */
  name: string;
  /** How many of the arguments are keys (KEYS[…]), the rest being ARGV[…]; "any" when each call says. */
  keys: number | "any";
  lua: string;
}

type ScriptMethod = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Runs `script` on `client`. ioredis' `defineCommand` sends the SHA and falls back to the
 * full text on NOSCRIPT (a restarted Redis has forgotten its scripts), which is why scripts
 * go through it rather than `eval`.
 */
export async function runScript(
  client: Redis,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const methods = client as unknown as Record<string, ScriptMethod | undefined>;
  if (typeof methods[script.name] !== "function") {
    client.defineCommand(script.name, {
      ...(script.keys === "any" ? {} : { numberOfKeys: script.keys }),
      lua: script.lua,
    });
  }
  const method = methods[script.name]!;
  if (script.keys === "any") return method.call(client, keys.length, ...keys, ...args);
  if (keys.length !== script.keys)
    throw new Error(`${script.name}: ${script.keys} keys expected, got ${keys.length}`);
  return method.call(client, ...keys, ...args);
}
