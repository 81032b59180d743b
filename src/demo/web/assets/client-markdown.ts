/**
 * Client script, part 2: the little of Feishu's card markdown the bridge writes — bold,
 * `<font color>`, `<at id>` mentions, line breaks, numeric entities (how it escapes other
 * people's text). Everything else stays visible as text; nothing becomes markup or a link.
 */
export const CLIENT_MARKDOWN = String.raw`
var TEXT_COLORS = ["grey", "red", "orange", "green", "blue"];
var MD_TOKEN = /<font\s+color\s*=\s*['"]?([\w-]+)['"]?\s*>|<\/font\s*>|<at\s+(?:id|user_id|open_id)\s*=\s*['"]?([\w-]*)['"]?\s*>([^<]*)<\/at\s*>|\*\*|\n/gi;
var ENTITY = /&#(\d{1,7});|&#x([0-9a-f]{1,6});|&(amp|lt|gt|quot|apos|nbsp);/gi;
var NAMED = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function decodeEntities(text) {
  return text.replace(ENTITY, function (whole, dec, hex, name) {
    if (name) return NAMED[name.toLowerCase()];
    var code = dec ? parseInt(dec, 10) : parseInt(hex, 16);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

function renderMarkdown(source) {
  var root = document.createDocumentFragment();
  var stack = [{ el: root, kind: "root" }];
  var top = function () { return stack[stack.length - 1]; };
  var text = function (s) { if (s) top().el.appendChild(document.createTextNode(decodeEntities(s))); };
  var last = 0;
  MD_TOKEN.lastIndex = 0;
  var match;
  while ((match = MD_TOKEN.exec(source)) !== null) {
    text(source.slice(last, match.index));
    last = match.index + match[0].length;
    var token = match[0];
    if (token === "\n") {
      top().el.appendChild(document.createTextNode("\n"));
    } else if (token === "**") {
      if (top().kind === "strong") stack.pop();
      else {
        var strong = document.createElement("strong");
        top().el.appendChild(strong);
        stack.push({ el: strong, kind: "strong" });
      }
    } else if (match[1] !== undefined) {
      var color = match[1].toLowerCase();
      var span = h("span", { class: TEXT_COLORS.indexOf(color) >= 0 ? "tc-" + color : null });
      top().el.appendChild(span);
      stack.push({ el: span, kind: "font" });
    } else if (match[2] !== undefined) {
      var names = (state.world && state.world.names) || {};
      var name = decodeEntities(match[3] || "").trim() || names[match[2]] || match[2] || "?";
      top().el.appendChild(h("span", { class: "mention", text: "@" + name }));
    } else {
      while (stack.length > 1 && top().kind !== "font") stack.pop();
      if (stack.length > 1) stack.pop();
    }
  }
  text(source.slice(last));
  return root;
}
`;
