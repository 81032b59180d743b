import type { Locale } from "../../core/index.js";
import type { CardJson } from "../../feishu/index.js";
import type { NodeHealth } from "../../nodes/index.js";
import { CARD_CALLBACKS, DISPATCH_FORM_FIELDS } from "./callbacks.js";
import { card, plainText, type CardElement } from "./card-parts.js";
import { clipHead, foldLine } from "./clip-text.js";
import { taskCardsMessages as m } from "./messages.js";
import { nodeLabel, nodeStatusText } from "./nodes-card.js";

export interface DispatchFormOptions {
  locale: Locale;
  nodes: NodeHealth[];
  /** Tags to offer, without or with the leading `#`. */
  tags: string[];
  /** Prefilled prompt (after an error, what the person had typed). */
  prompt?: string;
  /** Preselected target: "*" (any), "#tag" or a node name (after an error, what was chosen). */
  target?: string;
  /** A line in red above the form ("请填写内容"). */
  error?: string;
}

/** The "any node" option's value: Feishu may refuse an empty option value. */
export const ANY_NODE = "*";

// Feishu's input takes at most 1000 characters; options are capped so the card stays small.
const PROMPT_MAX = 1000;
const MAX_OPTIONS = 100;
const OPTION_CHARS = 60;

/**
 * `/run` without a prompt: a schema 2.0 `form` (at the root of the body, as Feishu requires)
 * with a `select_static` "target" ("*" = any node, "#tag", or a node name), a multi-line
 * `input` "prompt", and a submit button whose value is `{cb: "run.submit"}` — one press
 * sends both fields as `action.form_value`.
 */
export function dispatchFormCard(opts: DispatchFormOptions): CardJson {
  const t = m.t(opts.locale);
  const options: { text: { tag: "plain_text"; content: string }; value: string }[] = [];
  const option = (content: string, value: string) => {
    // Feishu misbehaves when two options share a value; a tag named like a node is offered once.
    if (options.length < MAX_OPTIONS && !options.some((o) => o.value === value)) {
      options.push({ text: { tag: "plain_text", content: foldLine(content, OPTION_CHARS) }, value });
    }
  };
  option(t("formAnyNode"), ANY_NODE);
  for (const tag of opts.tags) {
    const bare = tag.replace(/^#/, "");
    if (bare !== "") option(`#${bare}`, `#${bare}`);
  }
  for (const node of opts.nodes) {
    option(`${nodeLabel(node, opts.locale)} · ${nodeStatusText(node, opts.locale)}`, node.name);
  }
  const chosen = options.findIndex((o) => o.value === (opts.target || ANY_NODE));

  const form: CardElement = {
    tag: "form",
    name: "dispatch",
    elements: [
      plainText(t("formTarget"), { size: "notation", color: "grey" }),
      {
        tag: "select_static",
        name: DISPATCH_FORM_FIELDS.target,
        placeholder: { tag: "plain_text", content: t("formAnyNode") },
        options,
        // 1-based; "any node" (the first) unless the caller preselects another.
        initial_index: chosen >= 0 ? chosen + 1 : 1,
        width: "fill",
      },
      {
        tag: "input",
        name: DISPATCH_FORM_FIELDS.prompt,
        label: { tag: "plain_text", content: t("formPromptLabel") },
        placeholder: { tag: "plain_text", content: t("formPromptPlaceholder") },
        input_type: "multiline_text",
        rows: 3,
        auto_resize: true,
        max_length: PROMPT_MAX,
        required: true,
        width: "fill",
        ...(opts.prompt ? { default_value: clipHead(opts.prompt, PROMPT_MAX) } : {}),
      },
      {
        tag: "button",
        name: DISPATCH_FORM_FIELDS.submit,
        text: { tag: "plain_text", content: t("formSubmit") },
        type: "primary_filled",
        width: "fill",
        form_action_type: "submit",
        behaviors: [{ type: "callback", value: { cb: CARD_CALLBACKS.runSubmit } }],
      },
    ],
  };
  const elements: CardElement[] = [];
  if (opts.error) elements.push(plainText(foldLine(opts.error, 300), { color: "red" }));
  elements.push(form);
  return card(t("formTitle"), "blue", elements);
}
