/**
 * Client script, part 5: the message box. Typing `@` offers the bots that can be mentioned
 * (arrow keys, Enter or Tab to pick, Escape to close); Enter sends unless an input method
 * is still composing (Chinese typing uses Enter to confirm a word); Shift+Enter is a new
 * line. The "Try" chips fill in a first command without sending it.
 */
export const CLIENT_COMPOSER = String.raw`
var mention = { open: false, start: 0, items: [], active: 0, announced: false };

function composerInput() { return byId("composer-input"); }

function autoGrow() {
  var input = composerInput();
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight + 2, 180) + "px";
}

function mentionQuery() {
  var input = composerInput();
  var caret = input.selectionStart;
  if (caret !== input.selectionEnd) return null;
  var match = /(^|\s)@([^\s@]{0,40})$/.exec(input.value.slice(0, caret));
  return match ? { start: caret - match[2].length - 1, query: match[2].toLowerCase() } : null;
}

function updateMentions() {
  var q = mentionQuery();
  var all = (state.world && state.world.mentionables) || [];
  var items = q ? all.filter(function (m) {
    return m.name.toLowerCase().indexOf(q.query) >= 0 || (m.node && m.node.toLowerCase().indexOf(q.query) >= 0);
  }) : [];
  if (!q || items.length === 0) return closeMentions();
  var wasOpen = mention.open;
  mention = { open: true, start: q.start, items: items, active: Math.min(mention.active, items.length - 1), announced: mention.announced };
  if (!wasOpen) mention.active = 0;
  renderMentions();
  if (!wasOpen) announce(t("mentionCount", { count: items.length }));
}

function renderMentions() {
  var list = byId("mention-list");
  var input = composerInput();
  list.textContent = "";
  mention.items.forEach(function (m, i) {
    var role = m.id === "bridge" ? "bridge" : "node-bot";
    var option = h("li", { id: "mention-" + i, class: "mention-option", role: "option", "aria-selected": i === mention.active ? "true" : "false" }, [
      h("span", { class: "avatar", "data-role": role, "aria-hidden": "true", text: initial(m.name) }),
      h("span", { text: m.name }),
      h("span", { class: "mention-hint", text: m.id === "bridge" ? t("roleBridge") : t("roleNodeBot", { node: m.node || "" }) })
    ]);
    option.addEventListener("mousedown", function (e) { e.preventDefault(); pickMention(i); });
    list.appendChild(option);
  });
  list.hidden = false;
  input.setAttribute("aria-activedescendant", "mention-" + mention.active);
}

function closeMentions() {
  mention.open = false;
  byId("mention-list").hidden = true;
  composerInput().removeAttribute("aria-activedescendant");
}

function pickMention(i) {
  var m = mention.items[i];
  if (!m) return;
  var input = composerInput();
  var caret = input.selectionStart;
  var inserted = "@" + m.name + " ";
  input.value = input.value.slice(0, mention.start) + inserted + input.value.slice(caret);
  var at = mention.start + inserted.length;
  input.setSelectionRange(at, at);
  closeMentions();
  autoGrow();
  input.focus();
}

function onComposerKey(event) {
  if (mention.open) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var n = mention.items.length;
      mention.active = (mention.active + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderMentions();
      return;
    }
    if ((event.key === "Enter" || event.key === "Tab") && !event.isComposing) {
      event.preventDefault();
      pickMention(mention.active);
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      closeMentions();
      return;
    }
  }
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    sendMessage();
  }
}

function sendMessage() {
  var input = composerInput();
  var text = input.value;
  if (!text.trim()) return;
  var button = byId("send");
  button.disabled = true;
  api("POST", "/messages", { text: text }).then(function (res) {
    if (input.value === text) input.value = "";
    autoGrow();
    if (res.message) upsertMessage(res.message, true);
    toBottom();
  }, function (error) {
    showToast("error", t("sendFailed", { reason: error.message }));
  }).then(function () {
    button.disabled = false;
    input.focus();
  });
}

function tryCommands() {
  var w = state.world;
  if (!w) return [];
  var bot = "@" + w.bridge.name + " ";
  var tag = null;
  var gateway = null;
  w.nodes.forEach(function (n) {
    if (!tag && n.tags.length > 0) tag = n.tags[0];
    if (!gateway && n.kind === "gateway") gateway = n.name;
  });
  var list = [bot + "/run " + (tag ? "#" + tag : w.nodes.length > 0 ? w.nodes[0].name : "") + " " + t("samplePrompt")];
  if (gateway) list.push(bot + "/tell " + gateway + " " + t("sampleQuestion"));
  list.push(bot + "/run", bot + "/nodes", bot + "/tasks", bot + "/help");
  return list;
}

function renderTryChips() {
  var box = byId("try-chips");
  box.textContent = "";
  tryCommands().forEach(function (command) {
    box.appendChild(h("button", { type: "button", class: "chip", text: command, onclick: function () {
      var input = composerInput();
      input.value = command;
      autoGrow();
      input.focus();
      input.setSelectionRange(command.length, command.length);
    } }));
  });
}

function setupComposer() {
  var input = composerInput();
  input.addEventListener("input", function () { autoGrow(); updateMentions(); });
  input.addEventListener("keydown", onComposerKey);
  input.addEventListener("click", updateMentions);
  input.addEventListener("blur", function () { setTimeout(closeMentions, 150); });
  byId("composer").addEventListener("submit", function (event) { event.preventDefault(); sendMessage(); });
}
`;
