/**
 * Client script, part 6a: how a line of a shared file is shown. An inbox line (a JSON
 * envelope) reads as "time · from → to · type · task" over its content, people named as the
 * group knows them; a status file is pretty-printed; anything else — and every line on
 * "show raw lines" — is shown exactly as written.
 */
export const CLIENT_FILE_LINES = String.raw`
var LINE_TEXT_CHARS = 400;

function whoLabel(id) {
  if (typeof id !== "string") return "?";
  var names = (state.world && state.world.names) || {};
  var match = /^user:(.+)$/.exec(id);
  return match && names[match[1]] ? names[match[1]] : id;
}

function lineTime(stamp) {
  var date = typeof stamp === "string" ? new Date(stamp) : null;
  if (!date || isNaN(date.getTime())) return "";
  try {
    return date.toLocaleTimeString(state.locale, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  } catch (e) {
    return stamp.slice(11, 19);
  }
}

function envelopeLine(raw) {
  var obj;
  try { obj = JSON.parse(raw); } catch (e) { return null; }
  if (!isObj(obj) || typeof obj.from !== "string" || typeof obj.to !== "string") return null;
  var meta = [lineTime(obj.timestamp), whoLabel(obj.from) + " → " + obj.to];
  if (typeof obj.type === "string") meta.push(obj.type);
  if (typeof obj.taskId === "string") meta.push(obj.taskId);
  var text = typeof obj.content === "string" ? obj.content : JSON.stringify(obj.content === undefined ? null : obj.content);
  if (text.length > LINE_TEXT_CHARS) text = text.slice(0, LINE_TEXT_CHARS) + "…";
  return { meta: meta.filter(Boolean).join(" · "), text: text };
}

function isInbox(path) { return /\.jsonl$/.test(path); }

function displayLines(tail) {
  var raw = function (line) { return { text: line }; };
  if (state.rawFiles.has(tail.path)) return tail.lines.map(raw);
  if (isInbox(tail.path)) return tail.lines.map(function (line) { return envelopeLine(line) || raw(line); });
  if (/^status\//.test(tail.path) && !tail.truncated) {
    try { return JSON.stringify(JSON.parse(tail.lines.join("\n")), null, 2).split("\n").map(raw); } catch (e) { /* as written */ }
  }
  return tail.lines.map(raw);
}

function lineKey(item) { return (item.meta || "") + "\n" + item.text; }

function renderLine(item, fresh) {
  var cls = "line" + (fresh ? " fresh" : "");
  if (!item.meta) return h("li", { class: cls, text: item.text });
  return h("li", { class: cls + " line-env" }, [
    h("span", { class: "line-meta", text: item.meta }),
    h("span", { class: "line-text", text: item.text })
  ]);
}
`;
