import type { Task } from "../../src/tasks/types.js";

/** When the fixture task was made and started. */
export const TASK_T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

/** A task running on ai-pc for 小王 in chat oc_1, with what a test changes. */
export function taskFixture(overrides: Partial<Task> = {}): Task {
  return {
    id: "T7",
    seq: 7,
    target: "#gpu",
    node: "ai-pc",
    via: "gateway",
    prompt: "用新数据重新训练分类模型",
    state: "running",
    requestedBy: { kind: "user", openId: "ou_wang", name: "小王" },
    place: { chatId: "oc_1" },
    locale: "zh-CN",
    envelopeId: "01J0000000000000000000000",
    createdAt: TASK_T0,
    startedAt: TASK_T0,
    output: "",
    ...overrides,
  };
}
