import { pageText } from "../page-text.js";
import { CLIENT_BASE } from "./client-base.js";
import { CLIENT_CARDS } from "./client-cards.js";
import { CLIENT_CHAT } from "./client-chat.js";
import { CLIENT_COMPOSER } from "./client-composer.js";
import { CLIENT_FILE_LINES } from "./client-file-lines.js";
import { CLIENT_FILES } from "./client-files.js";
import { CLIENT_MAIN } from "./client-main.js";
import { CLIENT_MARKDOWN } from "./client-markdown.js";

/**
 * The page's one script: the text tables (both languages) and the parts, in one strict
 * function scope so nothing leaks into `window`. Built once per process; the browser
 * caches it by version.
 */
export function clientScript(): string {
  return [
    '"use strict";',
    "(function () {",
    `var TEXT = ${JSON.stringify(pageText.catalog)};`,
    CLIENT_BASE,
    CLIENT_MARKDOWN,
    CLIENT_CARDS,
    CLIENT_CHAT,
    CLIENT_COMPOSER,
    CLIENT_FILE_LINES,
    CLIENT_FILES,
    CLIENT_MAIN,
    "})();",
    "",
  ].join("\n");
}
