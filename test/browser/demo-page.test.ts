import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, type RunningDemo } from "../../src/demo/index.js";

/**
 * The demo page in a real browser (the system's Chromium, driven by playwright-core): a
 * visitor types in the composer, picks the bot from the @ suggestions, presses the cards'
 * buttons and fills the dispatch form, as a person would — against the real sandbox
 * (`startDemo`) on 127.0.0.1. Screenshots go to test/artifacts/ (git-ignored).
 *
 * The browser: `CHROME_PATH`, else the usual Debian/Ubuntu/Chrome paths. Without one the
 * suite is skipped, except under CI=true, where a missing browser is a failure.
 */

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const IN_CI = /^(1|true)$/i.test(process.env.CI ?? "");
/** The bound of every wait in this file. */
const WAIT_MS = 20_000;
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));

/** The browser to drive; `required` when its absence is a failure rather than a skip. */
function findBrowser(): { path?: string; problem?: string; required: boolean } {
  const given = process.env.CHROME_PATH;
  if (given) {
    // Named on purpose: a wrong path is a mistake to report, not a reason to skip.
    return existsSync(given)
      ? { path: given, required: true }
      : { problem: `CHROME_PATH=${given} does not exist`, required: true };
  }
  const found = CANDIDATES.find((candidate) => existsSync(candidate));
  return found
    ? { path: found, required: IN_CI }
    : { problem: `no Chromium at CHROME_PATH or ${CANDIDATES.join(", ")}`, required: IN_CI };
}

const browserPath = findBrowser();
const HOW_TO_GET_ONE =
  "`.ci/run` installs Debian's chromium; elsewhere `apt-get install chromium fonts-noto-cjk` or set CHROME_PATH";
if (!browserPath.path && !browserPath.required) {
  console.warn(`[demo-page] skipped: ${browserPath.problem}. ${HOW_TO_GET_ONE}.`);
}
if (!browserPath.path && browserPath.required) {
  // Counted as a failed test (not a failed hook, which reports its tests as skipped).
  it("finds the browser it is to drive", () => {
    throw new Error(
      `${browserPath.problem}${IN_CI ? " (CI=true: a browser is required)" : ""}; ${HOW_TO_GET_ONE}`,
    );
  });
}

/** A card in the page whose header matches `title`. */
function card(page: Page, title: RegExp): Locator {
  return page
    .locator("#messages article.card")
    .filter({ has: page.locator(".card-header", { hasText: title }) });
}

/** Waits (bounded) until `locator` is visible; returns it. */
async function seen(locator: Locator): Promise<Locator> {
  await locator.waitFor({ state: "visible", timeout: WAIT_MS });
  return locator;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/**
 * Types `@` and the start of the bot's name in the composer, picks the suggestion (Enter,
 * or a tap on a phone), then types the rest and sends it (Enter, or the Send button).
 */
async function say(
  page: Page,
  bot: string,
  rest: string,
  how: "keyboard" | "touch" = "keyboard",
  suggestionsShot?: string,
): Promise<void> {
  const input = page.locator("#composer-input");
  if (how === "touch") await input.tap();
  else await input.click();
  await page.keyboard.type(`@${bot.slice(0, 4)}`);
  const option = await seen(page.locator("#mention-list [role=option]", { hasText: bot }).first());
  if (suggestionsShot) await shot(page, suggestionsShot);
  if (how === "touch") await option.tap();
  else {
    // The suggestion under the arrow keys is the one Enter picks.
    for (let i = 0; i < 5 && (await option.getAttribute("aria-selected")) !== "true"; i++) {
      await page.keyboard.press("ArrowDown");
    }
    await page.keyboard.press("Enter");
  }
  expect(await input.inputValue()).toBe(`@${bot} `);
  await page.keyboard.type(rest);
  if (how === "touch") await page.locator("#send").tap();
  else await page.keyboard.press("Enter");
  // Sent: the visitor's own row shows it, and the box is empty again.
  await seen(page.locator("#messages li.msg--own", { hasText: rest }).last());
  await expect.poll(() => input.inputValue(), { timeout: WAIT_MS }).toBe("");
}

/** The id the next task will get: one more than the highest on the page's cards. */
async function nextTask(page: Page): Promise<string> {
  const titles = await page.locator("#messages article.card .card-header").allTextContents();
  const ids = titles.map((title) => Number(/^Task T(\d+) /.exec(title)?.[1] ?? 0));
  return `T${Math.max(0, ...ids) + 1}`;
}

async function openPage(context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  await seen(page.locator('#live[data-state="open"]'));
  return page;
}

describe.skipIf(!browserPath.path)("the demo page in Chromium (playwright-core)", () => {
  let demo: RunningDemo | undefined;
  let browser: Browser | undefined;
  let tmp: string | undefined;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    if (!browserPath.path) throw new Error("unreachable: the suite is skipped without a browser");
    mkdirSync(ARTIFACTS, { recursive: true });
    tmp = mkdtempSync(path.join(os.tmpdir(), "clawbridge-browser-"));
    demo = await startDemo({ port: 0, stateDir: path.join(tmp, "state"), locale: "en" });
    browser = await chromium.launch({ executablePath: browserPath.path, timeout: WAIT_MS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
    page = await openPage(context, demo.url, errors);
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("the visitor asks office-mac's bot; it asks ai-pc in the group and the relay's audit line shows", async () => {
    await shot(page, "desktop-0-empty");
    await say(page, "Office bot", "is the GPU on AI PC free?", "keyboard", "desktop-0-mentions");
    await seen(
      page.locator("#messages li.msg--audit .relay-pair", { hasText: "office-mac → ai-pc" }).first(),
    );
    await seen(page.locator("#messages .bubble", { hasText: "GPU at 12%" }).first());
  });

  it("@clawbridge /run #gpu 画一只猫 typed in the composer: the task card reaches done with the cat", async () => {
    const id = await nextTask(page);
    await say(page, "clawbridge", "/run #gpu 画一只猫");
    const done = await seen(card(page, new RegExp(`^Task ${id} · ai-pc · done`)));
    expect(await done.locator(".card-output").textContent()).toContain("( o.o )");
    // The bridge also says it in the group, to the visitor.
    await seen(page.locator("#messages .bubble", { hasText: `Task ${id} is done` }));
    // The task board in the shared folder gets the task's row.
    await seen(
      page.locator('#file-list li[data-path="tasks/shared-tasks.md"] .line', {
        hasText: `| ${id} | ai-pc |`,
      }),
    );
    // The picture for docs/demo.png: the relay with its audit line, the done card with its
    // output, the shared folder beside them (taller than 800, so the whole exchange fits).
    await page.setViewportSize({ width: 1280, height: 1060 });
    await seen(page.locator("#messages li.msg--audit").first());
    await shot(page, "desktop-1-conversation");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("Cancel on a task running on the slow office-mac, confirmed in the dialog: the card turns cancelled", async () => {
    const id = await nextTask(page);
    await say(page, "clawbridge", "/run office-mac write this week's report");
    const task = card(page, new RegExp(`^Task ${id} · `));
    const cancel = await seen(task.getByRole("button", { name: "Cancel" }));
    await cancel.click();
    const dialog = await seen(page.locator("dialog#confirm"));
    expect(await dialog.locator("#confirm-title").textContent()).toBe(`Cancel task ${id}?`);
    await shot(page, "desktop-2-confirm");
    await dialog.locator("#confirm-ok").click();
    await seen(card(page, new RegExp(`^Task ${id} · office-mac · cancelled`)));
    expect(await task.getByRole("button", { name: "Cancel" }).count()).toBe(0);
  });

  it("/run without a prompt opens the dispatch form; node and prompt filled in and submitted: a new task card, and its line in the shared folder", async () => {
    const id = await nextTask(page);
    await say(page, "clawbridge", "/run");
    const form = (await seen(card(page, /^Dispatch a task/))).locator("form");
    await form.locator("select").selectOption("nas-agent");
    await form.getByLabel("Task").click();
    await page.keyboard.type("archive the cat picture");
    await form.getByRole("button", { name: "Dispatch" }).click();
    await seen(card(page, new RegExp(`^Task ${id} · nas-agent`)));
    await form.screenshot({ path: path.join(ARTIFACTS, "desktop-3-form-after-submit.png") });
    // The shared-folder panel (a column at this width): the task line in nas-agent's inbox,
    // highlighted as new, and nas-agent's answer in the bridge's.
    const inbox = page.locator('#file-list li[data-path="messages/to-nas-agent.jsonl"]');
    await seen(inbox.locator(".line.fresh", { hasText: "archive the cat picture" }));
    const answers = page.locator('#file-list li[data-path="messages/to-clawbridge.jsonl"]');
    await seen(answers.locator(".line", { hasText: "nas-agent archived “archive the cat picture”" }));
    await seen(card(page, new RegExp(`^Task ${id} · nas-agent · done`)));
    await shot(page, "desktop-3-form-and-files");
  });

  it("a message carrying markup is shown as text and runs nothing", async () => {
    const payload = `<img src=x onerror="window.__xss=1">`;
    const input = page.locator("#composer-input");
    await input.click();
    await page.keyboard.type(payload);
    await page.keyboard.press("Enter");
    const own = await seen(page.locator("#messages li.msg--own .bubble", { hasText: payload }).last());
    expect(await own.textContent()).toBe(payload);
    // Through a task too: the card's prompt and the inbox line in the files panel.
    const id = await nextTask(page);
    await say(page, "clawbridge", `/run nas-agent ${payload}`);
    await seen(card(page, new RegExp(`^Task ${id} · nas-agent · done`)));
    await seen(
      page.locator('#file-list li[data-path="messages/to-nas-agent.jsonl"] .line', { hasText: payload }),
    );
    expect(await page.locator("#messages img, #files img").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).__xss)).toBeUndefined();
    await shot(page, "desktop-4-markup-as-text");
  });

  it("at a phone's width (390×844): a /run to #gpu, by touch, reaches done; nothing overflows; the files drawer opens", async () => {
    const context = await browser!.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: "en-US",
    });
    const phone = await openPage(context, demo!.url, errors);
    const next = await nextTask(phone);
    // Not the same words as on the desktop: the bridge drops a repeat of the same text by the
    // same sender within 10 s as Feishu's duplicate delivery.
    await say(phone, "clawbridge", "/run #gpu 再画一只猫", "touch");
    const done = await seen(card(phone, new RegExp(`^Task ${next} · ai-pc · done`)));
    await done.scrollIntoViewIfNeeded();
    await shot(phone, "phone-1-done");
    const width = (await phone.evaluate("document.documentElement.scrollWidth")) as number;
    expect(width).toBeLessThanOrEqual(390);
    await phone.locator("#files-toggle").tap();
    await seen(phone.locator("#files.open #file-list li").first());
    await shot(phone, "phone-2-files");
    await phone.locator("#files-close").tap();
    // The page in Chinese: the same conversation, the page's own words switched in place.
    await phone.locator("#lang-toggle").tap();
    await seen(phone.locator("#send", { hasText: "发送" }));
    await shot(phone, "phone-3-zh");
    await context.close();
  });

  it("the page logged no script error and no failed load, on either screen", () => {
    expect(errors).toEqual([]);
  });
});
