/**
 * What `/healthz` says beyond `{status, uptimeS, version}` (e.g. relay counters). Liveness
 * only: while the process serves HTTP it answers 200, whatever the parts are doing.
 */
export type HealthReport = Record<string, unknown> & { version?: string };

/** One part's readiness, e.g. `feishu: {ready: false, detail: "long connection reconnecting"}`. */
export interface PartReadiness {
  ready: boolean;
  /** Optional parts are reported but do not make the bridge unready; default required. */
  required?: boolean;
  /** Why, in a few words (shown to operators as is: no secrets). */
  detail?: string;
  [extra: string]: unknown;
}

/** What `/readyz` reports; `ready` may be left out and is then derived from the parts. */
export interface ReadyReport {
  ready?: boolean;
  parts: Record<string, PartReadiness>;
}

/** The body of `GET /healthz`. */
export interface HealthBody extends Record<string, unknown> {
  status: "ok";
  uptimeS: number;
  version: string;
}

/** The body of `GET /readyz`; the status is 200 when `ready`, else 503. */
export interface ReadyBody {
  ready: boolean;
  parts: Record<string, PartReadiness>;
  /** Set when the readiness check itself failed. */
  error?: string;
}

/** Ready when the report does not say otherwise and every required part is ready. */
export function readyBody(report: ReadyReport): ReadyBody {
  const parts = report.parts ?? {};
  const partsReady = Object.values(parts).every((part) => part.required === false || part.ready);
  return { ready: report.ready !== false && partsReady, parts };
}

/** `{status: "ok", uptimeS, version}` first, then whatever the report adds. */
export function healthBody(report: HealthReport, fallbackVersion: string, uptimeS: number): HealthBody {
  const { status: _status, uptimeS: _uptime, version, ...rest } = report;
  return { status: "ok", uptimeS, version: version ?? fallbackVersion, ...rest };
}
