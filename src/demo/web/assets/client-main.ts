/**
 * Client script, part 7: start-up and the live channel. The page loads the world, then
 * opens the event stream; every (re)connection reloads messages and files once, so nothing
 * sent while the stream was down is missed, and later events keep the page exact. The
 * language toggle re-translates the page in place and is remembered in this browser.
 */
export const CLIENT_MAIN = String.raw`
var source = null;
var retryTimer = null;

function setLive(kind) {
  var live = byId("live");
  live.setAttribute("data-state", kind);
  byId("live-text").textContent = kind === "open" ? t("live") : t("reconnecting");
}

function applyTexts() {
  document.documentElement.lang = state.locale;
  Array.prototype.forEach.call(document.querySelectorAll("[data-t]"), function (el) {
    el.textContent = t(el.getAttribute("data-t"));
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-t-attr]"), function (el) {
    el.getAttribute("data-t-attr").split(";").forEach(function (pair) {
      var i = pair.indexOf(":");
      if (i > 0) el.setAttribute(pair.slice(0, i), t(pair.slice(i + 1)));
    });
  });
  byId("lang-toggle").setAttribute("lang", state.locale === "en" ? "zh-CN" : "en");
  setLive(byId("live").getAttribute("data-state"));
  renderWorld();
}

function renderWorld() {
  var w = state.world;
  if (!w) return;
  byId("group-name").textContent = w.chat.name || "clawbridge";
  document.title = t("docTitle", { chat: w.chat.name || "clawbridge" });
  var nodes = w.nodes.map(function (n) { return n.name; }).join(" · ");
  byId("group-sub").textContent = t("members", { count: w.chat.members }) + (nodes ? " · " + nodes : "");
  renderNodes();
  renderTryChips();
}

function setLocale(locale) {
  state.locale = locale;
  try { localStorage.setItem(LANG_KEY, locale); } catch (e) { /* private mode: not remembered */ }
  applyTexts();
  rerenderMessages();
  renderFiles();
}

function connect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = new EventSource(BASE + "/api/events");
  source.addEventListener("open", function () {
    setLive("open");
    loadMessages().catch(function () { /* the next event or reconnect brings it */ });
    loadFiles().catch(function () { /* idem */ });
  });
  source.addEventListener("error", function () {
    setLive("closed");
    // A refused stream (503) is not retried by the browser itself.
    if (source.readyState === EventSource.CLOSED) retryTimer = setTimeout(connect, 3000);
  });
  var onMessage = function (event) {
    var data = JSON.parse(event.data);
    if (data.message) upsertMessage(data.message, true);
  };
  source.addEventListener("message", onMessage);
  source.addEventListener("patch", onMessage);
  source.addEventListener("file", function (event) {
    var data = JSON.parse(event.data);
    if (data.file) applyFileTail(data.file, true);
    else if (typeof data.removed === "string") removeFile(data.removed);
  });
}

function boot() {
  var saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch (e) { saved = null; }
  if (saved === "en" || saved === "zh-CN") state.locale = saved;
  setLive("connecting");
  setupComposer();
  setupFiles();
  byId("lang-toggle").addEventListener("click", function () { setLocale(state.locale === "en" ? "zh-CN" : "en"); });
  byId("jump").addEventListener("click", toBottom);
  byId("scroller").addEventListener("scroll", function () { if (nearBottom()) byId("jump").hidden = true; });
  applyTexts();
  api("GET", "/state").then(function (world) {
    state.world = world;
    if (!saved) state.locale = world.locale === "en" ? "en" : "zh-CN";
    applyTexts();
    connect();
  }, function (error) {
    setLive("closed");
    showToast("error", error.message);
    retryTimer = setTimeout(boot, 3000);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
`;
