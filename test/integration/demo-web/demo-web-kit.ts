import { afterEach } from "vitest";
import { startBridge, type RunningBridge } from "../../../src/app.js";
import { loadConfig } from "../../../src/config/index.js";
import type { DemoWorld } from "../../../src/demo/types.js";
import { demoWebRoutes, type DemoWebRoutes, type MessageView } from "../../../src/demo/web/index.js";
import { bridgeWorld, type BridgeWorld, type BridgeWorldOptions } from "../../helpers/bridge.js";
import { testLogger } from "../../helpers/feishu.js";
import { waitFor } from "../../helpers/wait.js";

/**
 * The demo page's test world: the scenario world of `bridgeWorld` (emulator, ai-pc and
 * office-mac gateways, mailbox-only nas-agent) with ai-pc tagged `gpu`, 小王 as the visitor,
 * and the real bridge started with the page's routes mounted on its own listener — as the
 * sandbox does. Everything is stopped after the test, the page's streams first.
 */
export interface DemoWebWorld {
  world: BridgeWorld;
  demo: DemoWorld;
  bridge: RunningBridge;
  routes: DemoWebRoutes;
  /** `http://127.0.0.1:<port>/demo` (no trailing slash). */
  base: string;
}

const running: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop();
});

export async function demoWebWorld(options: BridgeWorldOptions = {}): Promise<DemoWebWorld> {
  const world = await bridgeWorld({
    ...options,
    configure: (config, people) => {
      config.nodes[0]!.tags = ["gpu"];
      options.configure?.(config, people);
    },
  });
  const locale = options.locale ?? "en";
  const demo: DemoWorld = {
    emulator: world.emu,
    chatId: world.emu.defaultChat,
    visitor: world.wang,
    bridgeBot: world.emu.bridgeBot,
    nodes: [
      { name: "ai-pc", displayName: "AI电脑", tags: ["gpu"], kind: "gateway" },
      { name: "office-mac", tags: [], kind: "gateway", bot: world.officeBot },
      { name: "nas-agent", tags: [], kind: "mailbox" },
    ],
    sharedDir: world.root,
    locale,
  };
  const routes = demoWebRoutes(demo);
  const loaded = loadConfig({ path: world.configPath, env: world.env });
  const { logger } = testLogger([world.emu.bridge.appSecret]);
  const bridge = await startBridge(loaded, { logger, routes: [routes] });
  running.push(() => bridge.stop(5_000));
  running.push(() => routes.close());
  return { world, demo, bridge, routes, base: `${bridge.url}/demo` };
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** One request to the page's API (JSON in, JSON out). */
export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: kept as text */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** What the visitor types, posted as the page does; resolves with the message view. */
export async function type(dw: DemoWebWorld, text: string): Promise<MessageView> {
  const answer = await call<{ message: MessageView }>(dw.base, "POST", "/api/messages", { text });
  if (answer.status !== 201)
    throw new Error(`posting "${text}": ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.message;
}

export interface LiveEvent {
  event: string;
  data: Record<string, unknown>;
}

/** The page's live channel as a browser's EventSource reads it. */
export interface LiveStream {
  events: LiveEvent[];
  /** Waits for an event (already received or to come) that `match` accepts. */
  next(match: (event: LiveEvent) => boolean, what: string): Promise<LiveEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openLive(base: string): Promise<LiveStream> {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/events`, {
    signal: abort.signal,
    headers: { Accept: "text/event-stream" },
  });
  if (res.status !== 200 || !res.body) throw new Error(`event stream: ${res.status}`);
  const events: LiveEvent[] = [];
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const ended = (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      /* aborted by close() */
    }
  })();
  running.push(async () => abort.abort());
  return {
    events,
    next: (match, what) => waitFor(() => events.find(match), { what, timeoutMs: 15_000 }),
    ended,
    close: () => abort.abort(),
  };
}

/** A `message` or `patch` event's view, when the event is one. */
export function viewOf(event: LiveEvent): MessageView | undefined {
  return event.event === "message" || event.event === "patch"
    ? (event.data.message as MessageView)
    : undefined;
}

/** The card's header title, from a view. */
export function titleOf(view: MessageView | undefined): string {
  const card = view?.card as { header?: { title?: { content?: string } } } | undefined;
  return card?.header?.title?.content ?? "";
}

/** The callback values of a card's buttons outside forms (as the page offers them). */
export function buttonsOf(view: MessageView): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (node: unknown, inForm: boolean): void => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, inForm));
    if (!node || typeof node !== "object") return;
    const record = node as Record<string, unknown>;
    if (record.tag === "button" && !inForm && Array.isArray(record.behaviors)) {
      for (const b of record.behaviors as Record<string, unknown>[]) {
        if (b.type === "callback") out.push(b.value as Record<string, unknown>);
      }
    }
    for (const [key, inner] of Object.entries(record))
      if (key !== "behaviors") walk(inner, inForm || record.tag === "form");
  };
  walk(view.card, false);
  return out;
}
