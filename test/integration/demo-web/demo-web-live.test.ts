import { describe, expect, it } from "vitest";
import type { MessageView, SharedFileTail } from "../../../src/demo/web/index.js";
import { waitFor } from "../../helpers/wait.js";
import { buttonsOf, call, demoWebWorld, openLive, titleOf, type, viewOf } from "./demo-web-kit.js";

/** ai-pc never finishes a prompt containing "长任务"; everything else is answered at once. */
const STALL_LONG = {
  "ai-pc": {
    script: (ctx: { message: string }) =>
      ctx.message.includes("长任务")
        ? ({ kind: "stall" } as const)
        : ({ kind: "text", text: "画好了：🐱", chunks: 2, delayMs: 2 } as const),
  },
};

describe("the demo page's live group", () => {
  it("a /run typed in the page: the message, then the task card and its patches up to done arrive by the event stream", async () => {
    const dw = await demoWebWorld();
    const live = await openLive(dw.base);
    expect(live.events).toEqual([]);
    await live.next((e) => e.event === "hello", "hello");

    const said = await type(dw, "@clawbridge /run #gpu 画一只猫");
    expect(said.from).toEqual({ name: "小王", role: "visitor" });
    expect(said.parts).toEqual([{ mention: "clawbridge" }, { text: " /run #gpu 画一只猫" }]);
    // The bridge received it as a mention: the emulator holds the @_user_1 form Feishu sends.
    expect(dw.world.emu.message(said.id)?.mentions).toEqual([dw.world.emu.bridgeBot.unionId]);

    const mine = await live.next((e) => viewOf(e)?.id === said.id, "the visitor's own message");
    expect(mine.event).toBe("message");
    const card = viewOf(
      await live.next(
        (e) => e.event === "message" && viewOf(e)?.replyTo === said.id && viewOf(e)?.kind === "card",
        "the task card",
      ),
    )!;
    expect(titleOf(card)).toMatch(/^Task T1 · /);
    expect(card.from).toEqual({ name: "clawbridge", role: "bridge" });
    const done = await live.next(
      (e) =>
        e.event === "patch" &&
        viewOf(e)?.id === card.id &&
        titleOf(viewOf(e)).startsWith("Task T1 · ai-pc · done"),
      "the card patched to done",
    );
    expect(viewOf(done)!.patches).toBeGreaterThan(0);
    expect(JSON.stringify(viewOf(done)!.card)).toContain("benchmark 跑完了：42 it/s");
    // The done card offers Retry; the bridge also says so in the group, mentioning the visitor.
    expect(buttonsOf(viewOf(done)!)).toEqual([{ cb: "task.retry", task: "T1" }]);
    const reply = await live.next(
      (e) =>
        viewOf(e)?.kind === "text" && viewOf(e)?.from.role === "bridge" && viewOf(e)?.replyTo === said.id,
      "the bridge's done line",
    );
    expect(viewOf(reply)!.parts?.[0]).toEqual({ mention: "小王" });

    // The page reloading sees the same, in order.
    const all = await call<{ messages: MessageView[] }>(dw.base, "GET", "/api/messages");
    const ids = all.body.messages.map((m) => m.id);
    expect(ids.indexOf(said.id)).toBeLessThan(ids.indexOf(card.id));
    expect(titleOf(all.body.messages.find((m) => m.id === card.id))).toMatch(/^Task T1 · ai-pc · done/);
  });

  it("Cancel pressed on a running task's card: the bridge's toast comes back, the card turns cancelled, and the stale button is refused", async () => {
    const dw = await demoWebWorld({ gateways: STALL_LONG });
    const live = await openLive(dw.base);
    const said = await type(dw, "@clawbridge /run ai-pc 长任务");
    const card = viewOf(
      await live.next((e) => viewOf(e)?.replyTo === said.id && viewOf(e)?.kind === "card", "the card"),
    )!;
    await waitFor(() => dw.world.gateways["ai-pc"].runs().find((r) => r.status === "running"), {
      what: "the run",
    });
    const running = viewOf(
      await live.next((e) => viewOf(e)?.id === card.id && titleOf(viewOf(e)).includes("running"), "running"),
    )!;
    const cancel = buttonsOf(running).find((v) => v.cb === "task.cancel")!;
    expect(cancel).toEqual({ cb: "task.cancel", task: "T1" });

    const pressed = await call<{ ok: boolean; toast?: { type: string; content: string } }>(
      dw.base,
      "POST",
      "/api/actions",
      {
        kind: "button",
        messageId: card.id,
        value: cancel,
      },
    );
    expect(pressed.status).toBe(200);
    expect(pressed.body.ok).toBe(true);
    expect(pressed.body.toast?.type).toBe("success");
    expect(pressed.body.toast?.content).toContain("T1");
    await live.next(
      (e) => viewOf(e)?.id === card.id && titleOf(viewOf(e)).includes("cancelled"),
      "the cancelled card",
    );
    await waitFor(() => dw.bridge.tasks.service.get("T1")?.state === "cancelled", { what: "T1 cancelled" });

    // The card now offers Retry: pressing the Cancel it no longer shows is refused, not sent.
    const again = await call<{ error: { code: string } }>(dw.base, "POST", "/api/actions", {
      kind: "button",
      messageId: card.id,
      value: cancel,
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("staleButton");
  });

  it("the dispatch form: /run alone gives the form card; submitting target and prompt starts the task, whose card reaches done", async () => {
    const dw = await demoWebWorld();
    const live = await openLive(dw.base);
    const said = await type(dw, "@clawbridge /run");
    const form = viewOf(
      await live.next((e) => viewOf(e)?.replyTo === said.id && viewOf(e)?.kind === "card", "the form card"),
    )!;
    expect(JSON.stringify(form.card)).toContain('"tag":"form"');

    const unknown = await call<{ error: { code: string } }>(dw.base, "POST", "/api/actions", {
      kind: "form",
      messageId: form.id,
      formValue: { target: "ai-pc", prompt: "x", sneaky: "1" },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe("unknownField");

    const submitted = await call<{ ok: boolean; toast?: { type: string; content: string } }>(
      dw.base,
      "POST",
      "/api/actions",
      {
        kind: "form",
        messageId: form.id,
        name: "submit",
        formValue: { target: "ai-pc", prompt: "用新数据重新训练" },
      },
    );
    expect(submitted.status).toBe(200);
    expect(submitted.body.toast).toMatchObject({ type: "success" });
    expect(submitted.body.toast?.content).toContain("T1");
    const task = await live.next(
      (e) => viewOf(e)?.kind === "card" && titleOf(viewOf(e)).startsWith("Task T1 · ai-pc · done"),
      "the submitted task's card at done",
    );
    expect(JSON.stringify(viewOf(task)!.card)).toContain("用新数据重新训练");

    // A card without a form cannot be submitted.
    const noForm = await call<{ error: { code: string } }>(dw.base, "POST", "/api/actions", {
      kind: "form",
      messageId: viewOf(task)!.id,
      formValue: { prompt: "x" },
    });
    expect(noForm.status).toBe(409);
    expect(noForm.body.error.code).toBe("notAForm");
  });

  it("the shared-folder panel: a task's inbox lines arrive as file events and through the files API", async () => {
    const dw = await demoWebWorld();
    const live = await openLive(dw.base);
    await type(dw, "@clawbridge /run #gpu 画一只猫");
    const lineOf = (file: SharedFileTail, text: string) => file.lines.find((line) => line.includes(text));

    const inbox = await live.next((e) => {
      const file = e.event === "file" ? (e.data.file as SharedFileTail) : undefined;
      return file?.path === "messages/to-ai-pc.jsonl" && lineOf(file, "画一只猫") !== undefined;
    }, "ai-pc's inbox with the task");
    const task = JSON.parse(lineOf(inbox.data.file as SharedFileTail, "画一只猫")!) as Record<
      string,
      unknown
    >;
    expect(task).toMatchObject({ to: "ai-pc", type: "task", taskId: "T1", content: "画一只猫" });
    await live.next((e) => {
      const file = e.event === "file" ? (e.data.file as SharedFileTail) : undefined;
      return file?.path === "messages/to-clawbridge.jsonl" && lineOf(file, '"type":"result"') !== undefined;
    }, "the result in the bridge's inbox");

    // The task board is written a moment later (it is rewritten in batches).
    const board = await waitFor(
      async () => {
        const got = await call<SharedFileTail>(
          dw.base,
          "GET",
          "/api/files/tail?path=tasks%2Fshared-tasks.md",
        );
        return got.status === 200 && got.body.lines.some((line) => line.includes("T1"))
          ? got.body
          : undefined;
      },
      { what: "T1 on the task board" },
    );
    expect(board.path).toBe("tasks/shared-tasks.md");
    const listed = await call<{ root: string; files: { path: string; size: number }[] }>(
      dw.base,
      "GET",
      "/api/files",
    );
    expect(listed.status).toBe(200);
    expect(listed.body.root).toBe(dw.demo.sharedDir);
    const paths = listed.body.files.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "messages/to-ai-pc.jsonl",
        "messages/to-clawbridge.jsonl",
        "tasks/shared-tasks.md",
      ]),
    );
    expect(
      paths.every((p) => /^(messages\/.+\.jsonl|tasks\/shared-tasks\.md|status\/.+\.json)$/.test(p)),
    ).toBe(true);

    const tail = await call<SharedFileTail>(
      dw.base,
      "GET",
      "/api/files/tail?path=messages%2Fto-clawbridge.jsonl&lines=5",
    );
    expect(tail.status).toBe(200);
    expect(tail.body.lines.length).toBeLessThanOrEqual(5);
    expect(JSON.parse(tail.body.lines.at(-1)!)).toMatchObject({ type: "result", taskId: "T1" });
  });

  it("a page that goes away is forgotten, and close() ends the streams still open", async () => {
    const dw = await demoWebWorld();
    const first = await openLive(dw.base);
    const second = await openLive(dw.base);
    await first.next((e) => e.event === "hello", "hello");
    await waitFor(() => dw.routes.liveListeners === 2, { what: "two listeners" });
    first.close();
    await waitFor(() => dw.routes.liveListeners === 1, { what: "the closed page forgotten" });
    await dw.routes.close();
    await second.ended;
    expect(dw.routes.liveListeners).toBe(0);
    const refused = await call<{ error: { code: string } }>(dw.base, "GET", "/api/events");
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe("closing");
  });
});
