/** The relay throughput workload's writes, shared by relay.throughput and ha.throughput. */
export interface ThroughputWorkload {
  /** The envelopes' ids, in the order they are written. */
  keys: string[];
  /** Whole lines, `linesPerWrite` per write, round-robin over the nodes' inboxes. */
  batches: { file: string; text: string }[];
}

export function throughputWorkload(options: {
  tag: string;
  count: number;
  nodes: number;
  linesPerWrite: number;
  sender: string;
  nodeName: (k: number) => string;
  inbox: (node: string) => string;
}): ThroughputWorkload {
  const { tag, nodes, linesPerWrite, sender, nodeName, inbox } = options;
  const keys: string[] = [];
  const batches: { file: string; text: string }[] = [];
  const perNode = Math.ceil(options.count / nodes);
  for (let i = 0; i < perNode; i += linesPerWrite) {
    for (let k = 0; k < nodes; k++) {
      let text = "";
      for (let j = i; j < Math.min(i + linesPerWrite, perNode); j++) {
        const key = `tp-${tag}-${k}-${j}`;
        keys.push(key);
        text += `${JSON.stringify({
          id: key,
          from: sender,
          to: nodeName(k),
          timestamp: "2026-02-14T18:40:00+08:00",
          type: "message",
          content: `第 ${j} 条消息：请帮我跑一下 benchmark 并把结果告诉我`,
        })}\n`;
      }
      batches.push({ file: inbox(nodeName(k)), text });
    }
  }
  return { keys, batches };
}
