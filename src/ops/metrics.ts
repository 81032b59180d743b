import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";

export interface MetricsOptions {
  /** Node names from the config: the only node label values besides "other". */
  nodes: readonly string[];
  /** Chat ids from the config (`feishu.chats`, `relay.auditChat`): the only chat label values besides "other". */
  chats?: readonly string[];
  /** Include the process metrics (CPU, memory, event-loop lag, GC); default true. */
  processMetrics?: boolean;
  /** With the Redis store: this replica's id, a `replica` label on every series of the bridge. */
  replica?: string;
}

const PREFIX = "clawbridge_";
/** From a local append (~1 ms) to a gateway run that takes minutes. */
const DELIVERY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const PAIRING_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * The bridge's metrics, in a registry of its own (several bridges may share a test process).
 * Label values are bounded: node names and chat ids come from the config and anything else is
 * "other" — never chat text or ids read off the wire, which would grow the series without end.
 * Counters move as things happen; gauges and the counters other parts keep themselves are
 * read at scrape time by the collectors `onCollect` registers.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly nodes: Set<string>;
  private readonly chats: Set<string>;
  private readonly collectors: (() => void)[] = [];

  readonly envelopes = this.counter(
    "envelopes_total",
    "Effects carried out by the relay, by route and outcome.",
    ["route", "node", "outcome"],
  );
  readonly deliverySeconds = new Histogram({
    name: `${PREFIX}delivery_seconds`,
    help: "From an effect entering its outbox to the effect done (delivered, appended, posted).",
    labelNames: ["route"],
    buckets: DELIVERY_BUCKETS,
    registers: [this.registry],
  });
  readonly outboxDepth = this.gauge(
    "outbox_depth",
    "Items waiting in each outbox (node names, mailbox, chat).",
    ["outbox"],
  );
  readonly deadLetters = this.gauge(
    "dead_letters",
    "Items given up on, per outbox, until retried or dropped.",
    ["outbox"],
  );
  readonly feishuQueueDepth = this.gauge("feishu_queue_depth", "Unfinished Feishu sends per chat.", ["chat"]);
  readonly feishuCalls = this.counter("feishu_calls_total", "Feishu outbound calls by outcome.", ["outcome"]);
  readonly feishuRateLimitWaits = this.counter(
    "feishu_rate_limit_waits_total",
    "Feishu calls answered with a rate limit and tried again later.",
  );
  readonly feishuIntakeUp = this.gauge(
    "feishu_intake_up",
    "1 while events can arrive (long connection up, or webhook mode).",
  );
  readonly feishuReconnects = this.counter(
    "feishu_reconnects_total",
    "Times the Feishu long connection was lost.",
  );
  readonly intakeEvents = this.counter(
    "intake_events_total",
    "Feishu events received, by mode and verdict.",
    ["mode", "verdict"],
  );
  readonly webhookRejected = this.counter("webhook_rejected_total", "Webhook requests refused, by reason.", [
    "reason",
  ]);
  readonly gatewayUp = this.gauge("gateway_up", "1 while the node's gateway connection is up.", ["node"]);
  readonly gatewayReconnects = this.counter(
    "gateway_reconnects_total",
    "Times a node's gateway connection came back after it had been up.",
    ["node"],
  );
  readonly gatewayLatency = this.gauge("gateway_latency_seconds", "Round trip of the last gateway ping.", [
    "node",
  ]);
  readonly gatewayRuns = this.gauge("gateway_runs", "Agent runs in flight on the node's gateway.", ["node"]);
  readonly gatewayBadFrames = this.counter(
    "gateway_bad_frames_total",
    "Frames from the node's gateway that could not be read (malformed, unknown, wrongly typed).",
    ["node"],
  );
  readonly pairingPending = this.gauge(
    "pairing_pending",
    "1 while the node waits for its pairing approval.",
    ["node"],
  );
  readonly pairingWait = new Histogram({
    name: `${PREFIX}pairing_wait_seconds`,
    help: "From a pairing request to the connection being up (approval time).",
    labelNames: ["node"],
    buckets: PAIRING_BUCKETS,
    registers: [this.registry],
  });
  readonly quarantined = this.counter("quarantined_lines_total", "Mailbox lines set aside as unreadable.");
  readonly tasks = this.gauge("tasks", "Tasks by state (the journal's view).", ["state"]);
  readonly nodeHealthy = this.gauge("node_healthy", "1 while the node can take work.", ["node"]);
  readonly healthProblem = this.gauge("health_problem", "1 while a checked part is failing.", ["check"]);
  readonly healthTransitions = this.counter(
    "health_transitions_total",
    "Times a checked part started or stopped failing.",
    ["check"],
  );
  readonly roleHeld = this.gauge(
    "role_held",
    "Redis store: 1 while this replica holds the role (folder, inboxes, chat, tasks, node:<name>).",
    ["role"],
  );
  readonly roleChanges = this.counter(
    "role_changes_total",
    "Redis store: roles this replica took or gave up, by why (acquired, rebalance, lost, stop).",
    ["role", "change"],
  );

  constructor(private readonly options: MetricsOptions) {
    this.nodes = new Set(options.nodes);
    this.chats = new Set(options.chats ?? []);
    if (options.replica) this.registry.setDefaultLabels({ replica: options.replica });
  }

  /** A node name as a label value: configured, or "other". */
  node(name: string): string {
    return this.nodes.has(name) ? name : "other";
  }

  /** A chat id as a label value: configured, or "other". */
  chat(id: string): string {
    return this.chats.has(id) ? id : "other";
  }

  /** Runs `collect` before every scrape: it sets the gauges it owns from the parts' own state. */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** The Prometheus text exposition (with the process metrics unless turned off). */
  async text(): Promise<string> {
    this.collect();
    if (this.options.processMetrics === false) return this.registry.metrics();
    return Registry.merge([this.registry, processRegistry()]).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * One series' value after a fresh collection, summed over the series matching `labels`; a
   * histogram by its own name gives its `_count`. For tests and the CLI; undefined when unknown.
   */
  async value(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    this.collect();
    let full = name.startsWith(PREFIX) ? name : `${PREFIX}${name}`;
    const metric =
      this.registry.getSingleMetric(full) ?? this.registry.getSingleMetric(full.replace(/_(count|sum)$/, ""));
    if (!metric) return undefined;
    const data = await (metric as Metric).get();
    if (String(data.type) === "histogram" && full === data.name) full = `${full}_count`;
    let total: number | undefined;
    for (const sample of data.values) {
      if (((sample as { metricName?: string }).metricName ?? data.name) !== full) continue;
      const sampleLabels = sample.labels as Record<string, string | number | undefined>;
      if (!Object.entries(labels).every(([key, value]) => String(sampleLabels[key]) === value)) continue;
      total = (total ?? 0) + sample.value;
    }
    return total;
  }

  private collect(): void {
    for (const collect of this.collectors) collect();
  }

  private counter<L extends string = never>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name: `${PREFIX}${name}`, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string = never>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge({ name: `${PREFIX}${name}`, help, labelNames, registers: [this.registry] });
  }
}

let sharedProcessRegistry: Registry | undefined;

/**
 * The process's own metrics, collected once per process: they describe the process, not one
 * bridge, and each collection sets up an event-loop monitor and GC observer that never stop.
 */
function processRegistry(): Registry {
  if (!sharedProcessRegistry) {
    sharedProcessRegistry = new Registry();
    collectDefaultMetrics({ register: sharedProcessRegistry });
  }
  return sharedProcessRegistry;
}

/**
 * Sets a counter to a running total another part keeps (the outbound queue's, the intake's):
 * those only grow while the process lives, as a Prometheus counter must.
 */
export function mirrorCounter<L extends string>(
  counter: Counter<L>,
  totals: readonly { labels?: Partial<Record<L, string>>; value: number }[],
): void {
  counter.reset();
  for (const { labels, value } of totals) {
    if (labels) counter.inc(labels as Partial<Record<L, string | number>>, value);
    else counter.inc(value);
  }
}
