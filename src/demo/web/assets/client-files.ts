/**
 * Client script, part 6: the shared-folder panel — the nodes, then each shown file with
 * the end of its content. A file that changes while the page is open gets its new lines
 * highlighted (lines not in the previous tail: appended inbox lines as well as a rewritten
 * task board). Below 960 px the panel is a drawer: focus moves in, Escape closes it.
 */
export const CLIENT_FILES = String.raw`
function renderNodes() {
  var list = byId("node-list");
  list.textContent = "";
  ((state.world && state.world.nodes) || []).forEach(function (n) {
    var label = n.displayName && n.displayName !== n.name ? n.displayName + " " : "";
    list.appendChild(h("li", { class: "node" }, [
      label ? h("span", { text: label }) : null,
      h("span", { class: "node-name", text: n.name }),
      h("span", { class: "node-kind", text: " · " + (n.kind === "gateway" ? t("nodeGateway") : t("nodeMailbox")) }),
      n.tags.length > 0 ? h("span", { class: "node-tags", text: " · " + n.tags.map(function (x) { return "#" + x; }).join(" ") }) : null
    ]));
  });
  byId("files-root").textContent = (state.world && state.world.sharedDir) || "";
}

function freshLines(prev, next) {
  var seen = new Map();
  (prev || []).forEach(function (line) { seen.set(line, (seen.get(line) || 0) + 1); });
  return next.map(function (line) {
    var n = seen.get(line) || 0;
    if (n > 0) { seen.set(line, n - 1); return false; }
    return true;
  });
}

function fileRank(path) {
  return path.indexOf("messages/") === 0 ? 0 : path.indexOf("tasks/") === 0 ? 1 : 2;
}

function renderFileRow(entry) {
  var tail = entry.tail;
  var details = h("details", { class: "file" + (entry.changed ? " changed" : ""), open: !state.closedFiles.has(tail.path) });
  details.addEventListener("toggle", function () {
    if (details.open) state.closedFiles.delete(tail.path); else state.closedFiles.add(tail.path);
  });
  details.appendChild(h("summary", null, [
    h("span", { class: "file-name", text: tail.path }),
    h("span", { class: "file-meta", text: t("fileBytes", { size: tail.size }) + " · " + clock(tail.mtimeMs) })
  ]));
  if (isInbox(tail.path)) {
    var raw = state.rawFiles.has(tail.path);
    details.appendChild(h("button", { type: "button", class: "raw-toggle", "aria-pressed": raw ? "true" : "false", text: t("showRaw"), onclick: function () {
      if (raw) state.rawFiles.delete(tail.path); else state.rawFiles.add(tail.path);
      var fresh = fileRow(state.files.get(tail.path));
      var old = details.parentNode;
      old.parentNode.replaceChild(fresh, old);
      scrollLinesDown(fresh);
      fresh.querySelector(".raw-toggle").focus();
    } }));
  }
  var lines = h("ol", { class: "lines" });
  if (tail.truncated) lines.appendChild(h("li", { class: "line-note", text: t("fileEarlier") }));
  if (tail.lines.length === 0) lines.appendChild(h("li", { class: "line-note", text: t("fileEmpty") }));
  displayLines(tail).forEach(function (item, i) {
    lines.appendChild(renderLine(item, entry.fresh && entry.fresh[i]));
  });
  details.appendChild(lines);
  return h("li", { "data-path": tail.path }, details);
}

var fileRows = new Map();

function sortedFiles() {
  return Array.from(state.files.values()).sort(function (a, b) {
    return fileRank(a.tail.path) - fileRank(b.tail.path) || (a.tail.path < b.tail.path ? -1 : 1);
  });
}

function renderFiles() {
  var list = byId("file-list");
  list.textContent = "";
  fileRows.clear();
  sortedFiles().forEach(function (entry) { list.appendChild(fileRow(entry)); });
  fileRows.forEach(scrollLinesDown);
  byId("files-empty").hidden = state.files.size > 0;
}

// A row is drawn once with its highlights; later redraws of the panel do not flash it again.
function fileRow(entry) {
  var row = renderFileRow(entry);
  entry.fresh = null;
  entry.changed = false;
  fileRows.set(entry.tail.path, row);
  return row;
}

function scrollLinesDown(row) {
  var lines = row.querySelector(".lines");
  if (lines) lines.scrollTop = lines.scrollHeight;
}

function applyFileTail(tail, live) {
  var prev = state.files.get(tail.path);
  var fresh = live ? freshLines(prev ? displayLines(prev.tail).map(lineKey) : [], displayLines(tail).map(lineKey)) : null;
  var entry = { tail: tail, fresh: fresh, changed: live };
  state.files.set(tail.path, entry);
  if (live && !byId("files").classList.contains("open")) byId("files-toggle").setAttribute("data-news", "");
  if (!live) return;
  var old = fileRows.get(tail.path);
  if (!old) return renderFiles();
  var row = fileRow(entry);
  old.parentNode.replaceChild(row, old);
  scrollLinesDown(row);
}

function removeFile(path) {
  state.files.delete(path);
  renderFiles();
}

function loadFiles() {
  return api("GET", "/files").then(function (data) {
    var wanted = new Set(data.files.map(function (f) { return f.path; }));
    Array.from(state.files.keys()).forEach(function (p) { if (!wanted.has(p)) state.files.delete(p); });
    return Promise.all(data.files.map(function (f) {
      return api("GET", "/files/tail?path=" + encodeURIComponent(f.path)).then(function (tail) {
        var prev = state.files.get(f.path);
        if (!prev || prev.tail.size !== tail.size || prev.tail.mtimeMs !== tail.mtimeMs) applyFileTail(tail, false);
      }, function () { return null; });
    }));
  }).then(renderFiles);
}

function setFilesOpen(open) {
  var panel = byId("files");
  var toggle = byId("files-toggle");
  panel.classList.toggle("open", open);
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
  byId("backdrop").hidden = !open;
  if (open) { toggle.removeAttribute("data-news"); panel.focus(); }
  else if (panel.contains(document.activeElement)) toggle.focus();
}

function setupFiles() {
  byId("files-toggle").addEventListener("click", function () { setFilesOpen(!byId("files").classList.contains("open")); });
  byId("files-close").addEventListener("click", function () { setFilesOpen(false); });
  byId("backdrop").addEventListener("click", function () { setFilesOpen(false); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && byId("files").classList.contains("open")) setFilesOpen(false);
  });
}
`;
