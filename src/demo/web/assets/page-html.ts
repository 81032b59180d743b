import type { Locale } from "../../../core/index.js";
import { pageText, type PageTextKey } from "../page-text.js";

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/**
 * The page's skeleton, in the sandbox's language (so the first paint needs no script).
 * It holds no data: messages, files and names arrive through the API and are put in the
 * DOM as text. `data-t` marks what the language toggle re-translates; `data-t-attr` does
 * the same for attributes (`placeholder:composerPlaceholder`).
 */
export function pageHtml(locale: Locale, version: string): string {
  const t = pageText.t(locale);
  const text = (key: PageTextKey) => `data-t="${key}">${escapeHtml(t(key))}`;
  const attr = (name: string, key: PageTextKey) => `${name}="${escapeHtml(t(key))}"`;
  const v = encodeURIComponent(version);
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light">
<title>clawbridge</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/demo/app.css?v=${v}">
<script src="/demo/app.js?v=${v}" defer></script>
</head>
<body>
<a class="skip" href="#composer-input" ${text("skipToComposer")}</a>
<div class="app">
  <header class="topbar">
    <div class="group-avatar" aria-hidden="true">CB</div>
    <div class="group-info">
      <h1 id="group-name" class="group-name">clawbridge</h1>
      <p id="group-sub" class="group-sub"></p>
    </div>
    <span id="live" class="live" role="status" data-state="connecting"><span class="live-dot" aria-hidden="true"></span><span id="live-text" class="live-text"></span></span>
    <button id="lang-toggle" class="tb-btn" type="button" lang="${locale === "en" ? "zh-CN" : "en"}" data-t-attr="aria-label:switchLanguage" ${attr("aria-label", "switchLanguage")}><span class="wide" ${text("otherLanguage")}</span><span class="narrow" aria-hidden="true" ${text("otherLanguageShort")}</span></button>
    <button id="files-toggle" class="tb-btn files-toggle" type="button" aria-controls="files" aria-expanded="false"><span class="wide" ${text("filesToggle")}</span><span class="narrow" aria-hidden="true" ${text("filesToggleShort")}</span></button>
  </header>
  <main class="chat" aria-labelledby="group-name">
    <div id="scroller" class="scroller">
      <p id="empty" class="empty" ${text("emptyChat")}</p>
      <ol id="messages" class="messages" role="log" aria-live="polite" aria-relevant="additions" data-t-attr="aria-label:messagesLabel" ${attr("aria-label", "messagesLabel")}></ol>
    </div>
    <button id="jump" class="jump" type="button" hidden ${text("jumpToLatest")}</button>
    <form id="composer" class="composer" autocomplete="off">
      <div class="try"><span class="try-label" ${text("tryLabel")}</span><div id="try-chips" class="try-chips"></div></div>
      <div class="composer-box">
        <label for="composer-input" class="sr-only" ${text("composerLabel")}</label>
        <ul id="mention-list" class="mention-list" role="listbox" hidden data-t-attr="aria-label:mentionListLabel" ${attr("aria-label", "mentionListLabel")}></ul>
        <textarea id="composer-input" class="composer-input" rows="1" maxlength="4000" aria-describedby="composer-hint" aria-autocomplete="list" aria-controls="mention-list" data-t-attr="placeholder:composerPlaceholder" ${attr("placeholder", "composerPlaceholder")}></textarea>
        <button id="send" class="send" type="submit" ${text("send")}</button>
      </div>
      <p id="composer-hint" class="hint" ${text("composerHint")}</p>
    </form>
  </main>
  <aside id="files" class="files" aria-labelledby="files-title" tabindex="-1">
    <div class="files-head">
      <h2 id="files-title" ${text("filesTitle")}</h2>
      <button id="files-close" class="files-close" type="button" data-t-attr="aria-label:close" ${attr("aria-label", "close")}>×</button>
    </div>
    <p class="files-hint" ${text("filesHint")}</p>
    <p class="files-root"><code id="files-root"></code></p>
    <section class="nodes" aria-labelledby="nodes-title">
      <h3 id="nodes-title" ${text("nodesTitle")}</h3>
      <ul id="node-list" class="node-list"></ul>
    </section>
    <p id="files-empty" class="files-empty" ${text("filesEmpty")}</p>
    <ul id="file-list" class="file-list"></ul>
  </aside>
  <div id="backdrop" class="backdrop" hidden></div>
</div>
<div id="toasts" class="toasts" role="status" aria-live="polite"></div>
<p id="announce" class="sr-only" aria-live="polite"></p>
<dialog id="confirm" class="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
  <h2 id="confirm-title"></h2>
  <p id="confirm-text"></p>
  <div class="confirm-buttons">
    <button id="confirm-back" type="button" class="btn" ${text("confirmBack")}</button>
    <button id="confirm-ok" type="button" class="btn btn-danger" ${text("confirmOk")}</button>
  </div>
</dialog>
</body>
</html>
`;
}
