/**
 * The node pool's public surface: health from gateways, liveness from status files, task
 * load and node selection. Other modules import from here only.
 */
export {
  computeNodeHealth,
  mailboxLiveWindowMs,
  DEFAULT_MAILBOX_LIVE_WINDOW_MS,
  NODE_PROBLEM_CODES,
  nodeProblem,
  renderProblem,
  type NodeHealth,
  type NodeHealthInput,
  type NodeKind,
  type NodeStatus,
  type NodeProblem,
  type MailboxObservation,
  type PoolNodeConfig,
} from "./node-health.js";
export {
  selectNode,
  normalizeTag,
  hasTag,
  type SelectQuery,
  type Selection,
  type SelectFailure,
} from "./node-selection.js";
export {
  NodePool,
  type NodePoolOptions,
  type Lease,
  type NodeChange,
  type NodeChangeListener,
} from "./node-pool.js";
export { nodesMessages, type NodesMessageKey } from "./messages.js";
