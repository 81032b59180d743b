import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake OpenAI-compatible model server on loopback, enough for a real OpenClaw gateway to
 * run agent turns: `GET /v1/models` and `POST /v1/chat/completions` (SSE when `stream`).
 *
 * Replies are scripted by the prompt (the *last* user message; OpenClaw prepends its own
 * context and wraps the prompt): `REPLY:<text>` answers `<text>`; `SLOW` streams 40 chunks
 * 250 ms apart (long enough to abort); anything else gets `fake reply: <prompt start>`.
 */
export interface FakeModelServer {
  url: string;
  port: number;
  /** Every prompt received, in order (the last user message of each call). */
  prompts: string[];
  close(): Promise<void>;
}

function partText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === "object" && part && "text" in part ? String((part as { text: unknown }).text) : "",
      )
      .join("");
  }
  return "";
}

/**
 * The prompt of this turn. OpenClaw adds user messages of its own (an internal-context block
 * may even come after the prompt), so this is the last user message that is not such a block.
 */
function promptOf(body: unknown): string {
  const messages = (body as { messages?: { role?: string; content?: unknown }[] })?.messages ?? [];
  const users = messages.filter((m) => m.role === "user").map((m) => partText(m.content));
  const real = users.filter((text) => !text.trimStart().startsWith("<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"));
  return real[real.length - 1] ?? users[users.length - 1] ?? "";
}

export function replyFor(prompt: string): { chunks: string[]; delayMs: number } {
  const scripted = /REPLY:([^\n]*)/.exec(prompt);
  if (scripted) {
    const text = scripted[1]!.trim();
    return { chunks: text.match(/.{1,8}/gs) ?? [text], delayMs: 5 };
  }
  if (prompt.includes("SLOW"))
    return { chunks: Array.from({ length: 40 }, (_, i) => `part ${i} `), delayMs: 250 };
  const text = `fake reply: ${prompt.replace(/\s+/g, " ").slice(0, 60)}`;
  return { chunks: text.match(/.{1,12}/gs) ?? [text], delayMs: 5 };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024 * 1024) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : {};
}

export async function startFakeModelServer(
  options: { port?: number; model?: string } = {},
): Promise<FakeModelServer> {
  const model = options.model ?? "fake-model";
  const prompts: string[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === "GET" && req.url?.startsWith("/v1/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            object: "list",
            data: [{ id: model, object: "model", owned_by: "clawbridge-sim" }],
          }),
        );
        return;
      }
      if (req.method !== "POST" || !req.url?.startsWith("/v1/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      const body = (await readBody(req)) as { stream?: boolean };
      const prompt = promptOf(body);
      prompts.push(prompt);
      const { chunks, delayMs } = replyFor(prompt);
      const id = `chatcmpl-${Date.now()}`;
      const created = Math.floor(Date.now() / 1000);
      if (!body.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id,
            object: "chat.completion",
            created,
            model,
            choices: [
              { index: 0, message: { role: "assistant", content: chunks.join("") }, finish_reason: "stop" },
            ],
            usage: { prompt_tokens: 10, completion_tokens: chunks.length, total_tokens: 10 + chunks.length },
          }),
        );
        return;
      }
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      send({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
      });
      for (const chunk of chunks) {
        if (res.destroyed) return;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        send({
          id,
          object: "chat.completion.chunk",
          created,
          model,
          choices: [{ index: 0, delta: { content: chunk }, finish_reason: null }],
        });
      }
      send({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: chunks.length, total_tokens: 10 + chunks.length },
      });
      res.end("data: [DONE]\n\n");
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String((error as Error).message ?? error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    prompts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
