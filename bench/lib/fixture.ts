import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** A temporary shared root (with Chinese and a space in its path, like the seed's) and state dir. */
export function benchFolder(label: string) {
  const base = mkdtempSync(path.join(os.tmpdir(), `clawbridge-bench-${label}-`));
  const root = path.join(base, "共享 盘", "Openclaw-Shared");
  mkdirSync(path.join(root, "messages"), { recursive: true });
  return {
    base,
    root,
    stateDir: path.join(base, "state"),
    inbox: (node: string) => path.join(root, "messages", `to-${node}.jsonl`),
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** A seed-format line (the five fields only), about 150 bytes. */
export function seedLine(
  i: number,
  content = `第 ${i} 条消息：请帮我跑一下 benchmark 并把结果告诉我`,
): string {
  return JSON.stringify({
    from: "office-mac",
    to: "ai-pc",
    timestamp: `2026-02-14T18:${String(Math.floor(i / 60) % 60).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}+08:00`,
    type: "message",
    content,
  });
}
