/**
 * Client script, part 1: the page's state and the small tools every other part uses —
 * `h()` builds elements (text only ever goes in as text nodes), `t()` translates, `api()`
 * calls the JSON API in the page's language, toasts and screen-reader announcements.
 * Written as ES2020 in a raw string (no backticks, no `${`), served as one script.
 */
export const CLIENT_BASE = String.raw`
var BASE = "/demo";
var LANG_KEY = "clawbridge.demo.lang";
var state = {
  locale: document.documentElement.lang === "en" ? "en" : "zh-CN",
  world: null,
  views: new Map(),
  rows: new Map(),
  files: new Map(),
  closedFiles: new Set(),
  rawFiles: new Set()
};

function h(tag, attrs, children) {
  var el = document.createElement(tag);
  if (attrs) {
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    });
  }
  if (children !== undefined) add(el, children);
  return el;
}

function add(el, children) {
  if (children === null || children === undefined || children === false) return el;
  if (Array.isArray(children)) children.forEach(function (child) { add(el, child); });
  else if (typeof children === "string" || typeof children === "number") el.appendChild(document.createTextNode(String(children)));
  else el.appendChild(children);
  return el;
}

function t(key, params) {
  var table = TEXT[state.locale] || TEXT.en;
  var template = table[key] !== undefined ? table[key] : TEXT.en[key] !== undefined ? TEXT.en[key] : key;
  return template.replace(/\{(\w+)\}/g, function (whole, name) {
    return params && Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
  });
}

function api(method, path, body) {
  var headers = { "Accept": "application/json", "Accept-Language": state.locale };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(BASE + "/api" + path, {
    method: method,
    headers: headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin"
  }).then(function (res) {
    return res.json().catch(function () { return {}; }).then(function (data) {
      if (!res.ok) {
        var message = data && data.error && data.error.message ? data.error.message : "HTTP " + res.status;
        var error = new Error(message);
        error.code = data && data.error ? data.error.code : undefined;
        throw error;
      }
      return data;
    });
  }, function () {
    throw new Error(t("offline"));
  });
}

function byId(id) { return document.getElementById(id); }

function initial(name) {
  var first = Array.from(String(name || "?").replace(/^[\s@]+/, ""))[0] || "?";
  return first.toUpperCase();
}

function clock(ms) {
  try {
    return new Date(ms).toLocaleTimeString(state.locale, { hour: "2-digit", minute: "2-digit" });
  } catch (e) {
    return new Date(ms).toISOString().slice(11, 16);
  }
}

function showToast(type, text) {
  var kind = ["info", "success", "warning", "error"].indexOf(type) >= 0 ? type : "info";
  var box = byId("toasts");
  var item = h("div", { class: "toast toast-" + kind, text: text });
  box.appendChild(item);
  while (box.children.length > 3) box.removeChild(box.firstChild);
  setTimeout(function () { if (item.parentNode) item.parentNode.removeChild(item); }, kind === "error" ? 8000 : 4500);
}

function announce(text) {
  var region = byId("announce");
  region.textContent = "";
  setTimeout(function () { region.textContent = text; }, 30);
}
`;
