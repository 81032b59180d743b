/**
 * Card renderers for tasks and nodes: pure functions from plain data to Feishu card JSON
 * (schema 2.0, `update_multi`), sized for the phone app and for Feishu's 30 KiB limit.
 * Agents' and people's text only ever reaches a card as `plain_text` or escaped markdown.
 */
export { taskCard, taskHeaderText, type TaskCardOptions } from "./task-card.js";
export { taskFinalText } from "./task-final-text.js";
export { taskStateLabel, taskStateText, TASK_STATE_COLORS } from "./task-state.js";
export {
  nodesCard,
  nodeStatusText,
  nodeLabel,
  MAX_NODE_BLOCKS,
  type NodesCardOptions,
} from "./nodes-card.js";
export { dispatchFormCard, ANY_NODE, type DispatchFormOptions } from "./dispatch-form-card.js";
export { pairingCard } from "./pairing-card.js";
export { watchCard, MAX_WATCH_ITEMS, type WatchItem, type WatchCardOptions } from "./watch-card.js";
export { textCard } from "./text-card.js";
export { CARD_CALLBACKS, DISPATCH_FORM_FIELDS } from "./callbacks.js";
export { formatDuration, formatClock, relativeAge, timeAgo } from "./durations.js";
export { escapeMarkdown } from "./escape-markdown.js";
export { cardBytes, CARD_BUDGET_BYTES, type HeaderColor, type ButtonValue } from "./card-parts.js";
export { taskCardsMessages, type TaskCardsMessageKey } from "./messages.js";
