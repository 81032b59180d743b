/**
 * Client script, part 3: a card drawn from its JSON (Feishu schema 2.0 as the task cards
 * build it, 1.0 as a fallback): the header in its colour, `div` texts, markdown, rules,
 * buttons (a confirm dialog first when the card asks for one) and forms with selects and
 * inputs. Presses and submits go to `POST /demo/api/actions`; the patched card arrives by
 * the live channel. Colours and button kinds come from fixed lists, never from the JSON.
 */
export const CLIENT_CARDS = String.raw`
var HEADER_COLORS = ["blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine", "violet", "purple", "indigo", "grey"];
var BUTTON_TYPES = ["default", "primary", "danger", "primary_filled"];
var fieldSeq = 0;

function isObj(v) { return typeof v === "object" && v !== null && !Array.isArray(v); }
function textOf(node) {
  if (typeof node === "string") return node;
  if (isObj(node) && typeof node.content === "string") return node.tag === "lark_md" ? decodeEntities(node.content) : node.content;
  return "";
}

function cardTitle(card) {
  return isObj(card) && isObj(card.header) ? textOf(card.header.title) : "";
}

function cardElements(card) {
  if (!isObj(card)) return [];
  if (isObj(card.body) && Array.isArray(card.body.elements)) return card.body.elements;
  return Array.isArray(card.elements) ? card.elements : [];
}

function renderCard(view) {
  var card = view.card;
  var title = cardTitle(card);
  var art = h("article", { class: "card", "aria-label": title || null });
  if (title) {
    var color = isObj(card.header) ? card.header.template : "";
    art.appendChild(h("div", { class: "card-header" + (HEADER_COLORS.indexOf(color) >= 0 ? " hd-" + color : ""), role: "heading", "aria-level": "3", text: title }));
  }
  var body = h("div", { class: "card-body" });
  if (isObj(card) && card.type === "template") body.appendChild(h("p", { class: "card-unsupported", text: t("cardUnsupported", { tag: "template" }) }));
  renderElements(cardElements(card), body, { view: view, card: art });
  art.appendChild(body);
  return art;
}

function renderElements(list, parent, ctx) {
  list.forEach(function (el) {
    var node = renderElement(el, ctx);
    if (!node) return;
    if (node.classList && node.classList.contains("btn")) {
      var row = parent.lastElementChild;
      if (!row || !row.classList.contains("card-actions")) { row = h("div", { class: "card-actions" }); parent.appendChild(row); }
      row.appendChild(node);
    } else parent.appendChild(node);
  });
}

function textBlock(textNode, extra) {
  var cls = "card-text";
  if (isObj(textNode)) {
    if (textNode.text_size === "notation") cls += " notation";
    if (TEXT_COLORS.indexOf(textNode.text_color) >= 0) cls += " tc-" + textNode.text_color;
  }
  if (extra) cls += " " + extra;
  var plain = textOf(textNode);
  var lark = isObj(textNode) && textNode.tag === "lark_md";
  // An agent's multi-line output (plain, unstyled) keeps its columns: tables, logs, ASCII art.
  if (!lark && cls === "card-text" && plain.indexOf("\n") >= 0) cls += " card-output";
  var p = h("p", { class: cls });
  if (lark) p.appendChild(renderMarkdown(textNode.content || ""));
  else p.textContent = plain;
  return p;
}

function renderElement(el, ctx) {
  if (!isObj(el)) return null;
  switch (el.tag) {
    case "div": {
      if (el.text) return textBlock(el.text);
      if (Array.isArray(el.fields)) {
        var box = h("div", { class: "card-fields" });
        el.fields.forEach(function (f) { if (isObj(f)) box.appendChild(textBlock(f.text)); });
        return box;
      }
      return null;
    }
    case "markdown":
    case "lark_md": {
      var md = h("p", { class: "card-text" });
      md.appendChild(renderMarkdown(typeof el.content === "string" ? el.content : ""));
      return md;
    }
    case "plain_text":
      return textBlock(el);
    case "hr":
      return h("hr");
    case "button":
      return renderButton(el, ctx, false);
    case "form":
      return renderForm(el, ctx);
    case "action": {
      var row = h("div", { class: "card-actions" });
      (Array.isArray(el.actions) ? el.actions : []).forEach(function (a) { var b = renderElement(a, ctx); if (b) row.appendChild(b); });
      return row;
    }
    case "column_set": {
      var cols = h("div", { class: "card-columns" });
      (Array.isArray(el.columns) ? el.columns : []).forEach(function (c) {
        var col = h("div", { class: "card-column" });
        renderElements(isObj(c) && Array.isArray(c.elements) ? c.elements : [], col, ctx);
        cols.appendChild(col);
      });
      return cols;
    }
    case "note": {
      var note = h("div", { class: "card-text notation tc-grey" });
      renderElements(Array.isArray(el.elements) ? el.elements : [], note, ctx);
      return note;
    }
    default:
      if (Array.isArray(el.elements)) {
        var group = h("div", { class: "card-group" });
        renderElements(el.elements, group, ctx);
        return group;
      }
      return h("p", { class: "card-unsupported", text: t("cardUnsupported", { tag: String(el.tag || "?") }) });
  }
}

function callbackValue(el) {
  var behaviors = Array.isArray(el.behaviors) ? el.behaviors : [];
  for (var i = 0; i < behaviors.length; i++) {
    if (isObj(behaviors[i]) && behaviors[i].type === "callback") return behaviors[i].value;
  }
  return el.value;
}

function renderButton(el, ctx, inForm) {
  var type = BUTTON_TYPES.indexOf(el.type) >= 0 ? el.type : "default";
  var submit = inForm && el.form_action_type === "submit";
  var button = h("button", {
    type: submit ? "submit" : "button",
    class: "btn btn-" + type + (el.width === "fill" ? " btn-fill" : ""),
    disabled: el.disabled === true,
    text: textOf(el.text) || "…"
  });
  var value = callbackValue(el);
  if (!submit) {
    if (value === undefined) button.disabled = true;
    else button.addEventListener("click", function () { pressButton(ctx, value, isObj(el.confirm) ? el.confirm : null); });
  }
  return button;
}

function renderForm(el, ctx) {
  var form = h("form", { class: "card-form" });
  var submitName = null;
  var labelId = null;
  (Array.isArray(el.elements) ? el.elements : []).forEach(function (child) {
    if (!isObj(child)) return;
    var id = "f" + (++fieldSeq);
    if (child.tag === "select_static" || child.tag === "multi_select_static") {
      var select = h("select", { id: id, name: child.name, class: "field", multiple: child.tag === "multi_select_static", required: child.required === true });
      if (labelId) select.setAttribute("aria-labelledby", labelId);
      else select.setAttribute("aria-label", textOf(child.placeholder) || String(child.name || ""));
      var opts = Array.isArray(child.options) ? child.options : [];
      opts.forEach(function (o, i) {
        if (!isObj(o)) return;
        var chosen = child.initial_index === i + 1 || (child.initial_option !== undefined && child.initial_option === o.value);
        select.appendChild(h("option", { value: String(o.value), selected: chosen, text: textOf(o.text) || String(o.value) }));
      });
      form.appendChild(select);
      labelId = null;
    } else if (child.tag === "input") {
      var label = textOf(child.label);
      if (label) form.appendChild(h("label", { for: id, class: "field-label", text: label }));
      var multi = child.input_type === "multiline_text";
      var input = h(multi ? "textarea" : "input", {
        id: id, name: child.name, class: "field",
        rows: multi ? String(child.rows || 3) : null,
        type: multi ? null : child.input_type === "password" ? "password" : "text",
        placeholder: textOf(child.placeholder) || null,
        maxlength: typeof child.max_length === "number" ? String(child.max_length) : null,
        required: child.required === true
      });
      if (!label) input.setAttribute("aria-label", textOf(child.placeholder) || String(child.name || ""));
      if (typeof child.default_value === "string") input.value = child.default_value;
      form.appendChild(input);
      labelId = null;
    } else if (child.tag === "button") {
      if (child.form_action_type === "submit" && typeof child.name === "string") submitName = child.name;
      form.appendChild(renderButton(child, ctx, true));
    } else {
      var node = renderElement(child, ctx);
      if (!node) return;
      node.id = id;
      labelId = node.tagName === "P" ? id : null;
      form.appendChild(node);
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var values = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.tagName === "BUTTON") return;
      if (field.multiple) values[field.name] = Array.prototype.filter.call(field.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
      else values[field.name] = field.value;
    });
    var action = { kind: "form", messageId: ctx.view.id, formValue: values };
    if (submitName) action.name = submitName;
    sendAction(ctx, action);
  });
  return form;
}

function pressButton(ctx, value, confirm) {
  var go = function () { sendAction(ctx, { kind: "button", messageId: ctx.view.id, value: value }); };
  if (!confirm) return go();
  askConfirm(textOf(confirm.title), textOf(confirm.text)).then(function (ok) { if (ok) go(); });
}

function setBusy(cardEl, busy) {
  cardEl.setAttribute("aria-busy", busy ? "true" : "false");
  Array.prototype.forEach.call(cardEl.querySelectorAll("button, select, input, textarea"), function (el) {
    if (busy) { el.dataset.wasDisabled = el.disabled ? "1" : ""; el.disabled = true; }
    else if (el.dataset.wasDisabled !== undefined) { el.disabled = el.dataset.wasDisabled === "1"; delete el.dataset.wasDisabled; }
  });
}

function sendAction(ctx, action) {
  setBusy(ctx.card, true);
  api("POST", "/actions", action).then(function (res) {
    if (res.toast && typeof res.toast.content === "string") showToast(res.toast.type, res.toast.content);
  }, function (error) {
    showToast("error", t("actionFailed", { reason: error.message }));
  }).then(function () { if (ctx.card.isConnected) setBusy(ctx.card, false); });
}

function askConfirm(title, text) {
  var dialog = byId("confirm");
  byId("confirm-title").textContent = title;
  byId("confirm-text").textContent = text;
  return new Promise(function (resolve) {
    var done = function (ok) {
      byId("confirm-ok").onclick = null;
      byId("confirm-back").onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    byId("confirm-ok").onclick = function () { done(true); };
    byId("confirm-back").onclick = function () { done(false); };
    dialog.onclose = function () { done(false); };
    if (typeof dialog.showModal === "function") dialog.showModal();
    else resolve(window.confirm(title + "\n" + text));
  });
}
`;
