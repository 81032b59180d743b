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
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  const pretty = options.pretty ?? (Boolean(process.stderr.isTTY) && !process.env.CI);
  let destination = options.destination;
  if (!destination && pretty) destination = prettyStream();
  return pino(pinoOptions, destination ?? pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything (library use without a logger, some tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

function prettyStream(): DestinationStream {
  return prettyFactory({ colorize: true, destination: 2, sync: true, translateTime: "HH:MM:ss.l" });
}
