import { promises as fs } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  mailboxLayout,
  renderTaskBlock,
  replaceTaskBlock,
  TASK_BLOCK_BEGIN,
  TASK_BLOCK_END,
  updateTaskBoard,
  type TaskBoardEntry,
} from "../../../src/mailbox/index.js";
import { tempDir } from "../../helpers/temp.js";

const entry: TaskBoardEntry = {
  id: "T7",
  node: "ai-pc",
  state: "running",
  title: "用新数据重新训练分类模型 | with a pipe\nand a newline",
  requestedBy: "小王",
  startedAt: "2026-02-14T18:40:00+08:00",
};

describe("task board block", () => {
  it("renders a table between the markers, escaping pipes and newlines", () => {
    const block = renderTaskBlock([entry], "zh-CN");
    expect(block.startsWith(TASK_BLOCK_BEGIN)).toBe(true);
    expect(block.endsWith(TASK_BLOCK_END)).toBe(true);
    expect(block).toContain(
      "| T7 | ai-pc | 小王 | running | 2026-02-14T18:40:00+08:00 |  | 用新数据重新训练分类模型 \\| with a pipe and a newline |",
    );
    expect(renderTaskBlock([], "en")).toContain("(no tasks yet)");
  });

  it("replaces only the block and keeps what people wrote around it", () => {
    const before = `# 共享任务\n\n- [ ] 人写的任务\n\n${TASK_BLOCK_BEGIN}\nold\n${TASK_BLOCK_END}\n\n## 备注\n保留我\n`;
    const after = replaceTaskBlock(before, renderTaskBlock([entry]));
    expect(after.startsWith("# 共享任务\n\n- [ ] 人写的任务\n\n")).toBe(true);
    expect(after.endsWith(`${TASK_BLOCK_END}\n\n## 备注\n保留我\n`)).toBe(true);
    expect(after).not.toContain("\nold\n");
  });

  it("appends the block when there is none, and keeps CRLF files CRLF", () => {
    const crlf = "# Tasks\r\n- mine\r\n";
    const after = replaceTaskBlock(crlf, renderTaskBlock([entry]));
    expect(after.startsWith(crlf)).toBe(true);
    expect(after.replace(/\r\n/g, "")).not.toContain("\n");
  });

  it("rewrites the file under its lock, re-reading it first", async () => {
    const root = tempDir();
    const layout = mailboxLayout(root);
    await fs.mkdir(layout.tasksDir, { recursive: true });
    await fs.writeFile(layout.taskBoardFile, "# 我的任务\n- 手写\n");
    await updateTaskBoard(layout, [entry], { staleMs: 10_000 });
    // A person edits outside the block between two updates.
    await fs.appendFile(layout.taskBoardFile, "- 后来加的\n");
    await updateTaskBoard(layout, [{ ...entry, state: "done" }], { staleMs: 10_000 });
    const text = await fs.readFile(layout.taskBoardFile, "utf8");
    expect(text).toContain("# 我的任务\n- 手写\n");
    expect(text).toContain("- 后来加的\n");
    expect(text).toContain("| done |");
    expect(text.match(/clawbridge:tasks:begin/g)).toHaveLength(1);
    expect(await fs.readdir(path.dirname(layout.taskBoardFile))).toEqual(["shared-tasks.md"]);
  });
});
