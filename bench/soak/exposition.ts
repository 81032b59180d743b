/**
 * Reading the bridge's `/metrics` (Prometheus text) from outside its process: the bridge
 * runs in a child, so `RunningBridge.metrics.value` is out of reach here.
 */
export class Exposition {
  private readonly samples: { name: string; labels: Record<string, string>; value: number }[] = [];

  constructor(text: string) {
    for (const line of text.split("\n")) {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) continue;
      const labels: Record<string, string> = {};
      for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
      this.samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }

  static async scrape(opsUrl: string): Promise<Exposition> {
    return new Exposition(await (await fetch(`${opsUrl}/metrics`)).text());
  }

  /** The sum over every series of `name` (without the `clawbridge_` prefix) carrying `labels`. */
  total(name: string, labels: Record<string, string> = {}): number {
    const full = `clawbridge_${name}`;
    return this.samples
      .filter((s) => s.name === full && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);
  }

  /** The upper bound (s) of the histogram bucket that holds the `p`-th percentile of `name`{labels}. */
  percentileBound(name: string, p: number, labels: Record<string, string> = {}): number | undefined {
    const full = `clawbridge_${name}_bucket`;
    const buckets = this.samples
      .filter((s) => s.name === full && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .map((s) => ({ le: Number(s.labels.le), count: s.value }))
      .sort((a, b) => a.le - b.le);
    const total = buckets.at(-1)?.count ?? 0;
    if (total === 0) return undefined;
    return buckets.find((b) => b.count >= (p / 100) * total)?.le;
  }
}
