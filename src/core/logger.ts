import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import prettyFactory from "pino-pretty";
import { REDACTED, SecretRegistry, secretRedactPaths } from "./redact.js";

export type { Logger } from "pino";

export interface LoggerFactoryOptions {
  level?: string;
  /** Where lines go; defaults to stderr (stdout belongs to CLI output such as `tail --json`). */
  destination?: DestinationStream;
  /** Human-readable lines; defaults to "stderr is a terminal and not CI". */
  pretty?: boolean;
  secrets?: SecretRegistry;
  name?: string;
}

/**
 * The one way to make a logger. Redacts by path (pino `redact`) and by value (every
 * serialized line is scrubbed of known secrets and secret-shaped text before it is
 * written), so a secret inside an error message or URL is caught as well.
 */
export function createLogger(options: LoggerFactoryOptions = {}): Logger {
  const secrets = options.secrets ?? new SecretRegistry();
  const pinoOptions: LoggerOptions = {
    level: options.level ?? "info",
    base: options.name ? { name: options.name } : undefined,
    redact: { paths: secretRedactPaths(), censor: REDACTED },
    hooks: { streamWrite: (line) => secrets.scrub(line) },
    serializers: { err: serializeError, error: serializeError },
    // Binary data is described, never written: the redaction's copy of a logged object throws
    // on a Buffer (an HTTP parse error carries the raw packet), and a throw in a logging call
    // made from an event listener would take the process down.
    formatters: { log: (object) => withoutBinary(object) as Record<string, unknown> },
  };
  const pretty = options.pretty ?? (Boolean(process.stderr.isTTY) && !process.env.CI);
  let destination = options.destination;
  if (!destination && pretty) destination = prettyStream();
  return pino(pinoOptions, destination ?? pino.destination({ fd: 2, sync: true }));
}

function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error);
  // The serializer's object has a prototype of its own: a plain copy lets its fields be looked at.
  return serialized && typeof serialized === "object" ? withoutBinary({ ...serialized }) : serialized;
}

/** How deep `withoutBinary` looks: logged objects are shallow; a deeper one is cut, not walked. */
const BINARY_SCAN_DEPTH = 8;

/**
 * A copy of `value` with every Buffer or typed array replaced by `[binary N bytes]`; plain
 * objects and arrays are copied only where they hold one, anything else is kept as it is.
 */
export function withoutBinary(value: unknown, depth = 0): unknown {
  if (ArrayBuffer.isView(value)) return `[binary ${value.byteLength} bytes]`;
  if (value === null || typeof value !== "object" || depth >= BINARY_SCAN_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const next = withoutBinary(item, depth + 1);
      if (next !== item) (copy ??= [...value])[i] = next;
    });
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const next = withoutBinary(item, depth + 1);
    if (next !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = next;
  }
  return copy ?? value;
}

/** A logger that drops everything (library use without a logger, some tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

function prettyStream(): DestinationStream {
  return prettyFactory({ colorize: true, destination: 2, sync: true, translateTime: "HH:MM:ss.l" });
}
