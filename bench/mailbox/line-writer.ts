// Another process that appends seed-format lines the way an agent does (one appendFileSync per
// line), each carrying its send time: `line-writer <file> <count> <intervalMs> [jitterMs]`.
import { appendFileSync } from "node:fs";

const [file, count, interval, jitter = "0"] = process.argv.slice(2) as [string, string, string, string?];
const now = () => performance.timeOrigin + performance.now();
let next = now();
for (let i = 0; i < Number(count); i++) {
  next += Number(interval) + (Math.random() - 0.5) * 2 * Number(jitter);
  while (now() < next)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(5, next - now()))));
  const line = {
    from: "office-mac",
    to: "ai-pc",
    timestamp: new Date().toISOString(),
    type: "message",
    content: `${i}`,
    sentAt: now(),
  };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}
