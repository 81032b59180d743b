/**
 * Client script, part 4: the message list. One row per message, kept by id: a newer view
 * (a patched card) replaces the row's body in place; rows stay in time order. The list is
 * a `log` live region; a card's changing body is not (it would read out every streamed
 * line), so only a new card title is announced. The list follows the newest message while
 * the visitor is at the bottom, and offers a "new messages" button when they scrolled up.
 */
export const CLIENT_CHAT = String.raw`
function roleBadge(from) {
  if (from.role === "bridge") return t("roleBridge");
  if (from.role === "node-bot") return t("roleNodeBot", { node: from.node || "" });
  if (from.role === "bot") return t("roleBot");
  return null;
}

function partsNodes(parts) {
  return (parts || []).map(function (p) {
    if (typeof p.mention === "string") return h("span", { class: "mention", text: "@" + p.mention });
    if (p.media === "image") return t("image");
    return typeof p.text === "string" ? p.text : "";
  });
}

function summary(view) {
  if (!view) return "";
  if (view.kind === "card") return cardTitle(view.card);
  if (view.kind === "image") return t("image");
  if (view.kind === "file") return t("file", { name: view.fileName || "" });
  var text = (view.parts || []).map(function (p) {
    return typeof p.mention === "string" ? "@" + p.mention : p.media === "image" ? t("image") : p.text || "";
  }).join("");
  return view.audit ? view.audit.from + " → " + view.audit.to + " " + text : text;
}

function messageBody(view) {
  if (view.kind === "card") return h("div", { class: "card-wrap", "aria-live": "off" }, renderCard(view));
  var bubble = h("div", { class: "bubble" });
  if (view.audit) {
    bubble.appendChild(h("span", { class: "relay-pair", text: view.audit.from + " → " + view.audit.to }));
  }
  if (view.kind === "text" || view.kind === "post") add(bubble, partsNodes(view.parts));
  else if (view.kind === "image") bubble.textContent = t("image");
  else if (view.kind === "file") bubble.textContent = t("file", { name: view.fileName || "" });
  else bubble.textContent = t("otherMessage", { type: view.msgType });
  return bubble;
}

function renderRow(view) {
  var own = view.from.role === "visitor";
  var li = h("li", { class: "msg" + (own ? " msg--own" : "") + (view.audit ? " msg--audit" : "") });
  li.dataset.at = String(view.at);
  li.appendChild(h("div", { class: "avatar", "data-role": view.from.role, "aria-hidden": "true", text: initial(view.from.name) }));
  var main = h("div", { class: "msg-main" });
  var meta = h("div", { class: "msg-meta" });
  meta.appendChild(h("span", { class: own ? "msg-name sr-only" : "msg-name", text: view.from.name }));
  var badge = roleBadge(view.from);
  if (badge) meta.appendChild(h("span", { class: "badge", text: badge }));
  if (view.audit) meta.appendChild(h("span", { class: "badge badge-relay", text: t("relayTag") }));
  meta.appendChild(h("time", { class: "msg-time", datetime: new Date(view.at).toISOString(), text: clock(view.at) }));
  main.appendChild(meta);
  if (view.replyTo) {
    var parent = state.views.get(view.replyTo);
    var quoted = parent ? t("replyTo", { name: parent.from.name, text: summary(parent) }) : t("replyToUnknown");
    main.appendChild(h("div", { class: "quote", text: quoted }));
  }
  main.appendChild(messageBody(view));
  li.appendChild(main);
  return li;
}

function nearBottom() {
  var s = byId("scroller");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
}

function toBottom() {
  var s = byId("scroller");
  s.scrollTop = s.scrollHeight;
  byId("jump").hidden = true;
}

function isNewer(next, prev) {
  if (!prev) return true;
  if (next.updatedAt !== prev.updatedAt) return next.updatedAt > prev.updatedAt;
  return next.patches > prev.patches;
}

function upsertMessage(view, live) {
  var prev = state.views.get(view.id);
  if (!isNewer(view, prev)) return;
  var follow = nearBottom() || view.from.role === "visitor";
  state.views.set(view.id, view);
  var row = state.rows.get(view.id);
  if (row) {
    var body = row.querySelector(".msg-main");
    var old = body.lastElementChild;
    var keepFocus = old && old.contains(document.activeElement) ? document.activeElement : null;
    if (prev && prev.kind === "card" && JSON.stringify(prev.card) === JSON.stringify(view.card)) return;
    body.replaceChild(messageBody(view), old);
    if (keepFocus) {
      var again = body.lastElementChild.querySelector(".btn:not([disabled])");
      if (again) again.focus();
    }
    if (live && prev && cardTitle(prev.card) !== cardTitle(view.card)) announce(t("cardUpdated", { title: cardTitle(view.card) }));
  } else {
    row = renderRow(view);
    state.rows.set(view.id, row);
    var list = byId("messages");
    var before = null;
    for (var el = list.lastElementChild; el; el = el.previousElementSibling) {
      if (Number(el.dataset.at) <= view.at) break;
      before = el;
    }
    list.insertBefore(row, before);
    byId("empty").hidden = true;
  }
  if (follow) toBottom();
  else if (live) byId("jump").hidden = false;
}

function rerenderMessages() {
  var list = byId("messages");
  state.rows.forEach(function (row, id) {
    var fresh = renderRow(state.views.get(id));
    state.rows.set(id, fresh);
    list.replaceChild(fresh, row);
  });
}

function loadMessages() {
  return api("GET", "/messages").then(function (data) {
    var follow = nearBottom();
    data.messages.forEach(function (view) { upsertMessage(view, false); });
    byId("empty").hidden = state.views.size > 0;
    if (follow) toBottom();
  });
}
`;
