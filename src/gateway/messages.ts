import { defineMessages, type LocalText, type Locale, type Params } from "../core/index.js";

const en = {
  onNode: "node {node}: ",
  withReason: "{text} ({reason})",

  // the gateway said no
  requestFailed: "{method} failed: {codes}: {reason}",
  forbiddenFix:
    "approve this device with operator.read and operator.write scopes on {node} (openclaw devices list)",
  pairingRequired: "pairing required — this bridge's device is not approved yet",
  pairingFix: "run `{command}` on {node}'s computer; clawbridge connects by itself once it is approved",
  tokenMismatch: "the gateway refused the token (gateway token mismatch)",
  tokenMismatchDeviceToo:
    "the gateway refused the token (gateway token mismatch); the stored device token was refused too",
  tokenMissing: "the gateway requires a token and none was sent",
  authRefused: "the gateway refused to authenticate this bridge ({code}: {reason})",
  tokenFix:
    "set {where} to that gateway's gateway.auth.token (see `openclaw gateway status` on {node}'s computer) and restart clawbridge",
  tokenWhereEnv: "the environment variable {name}",
  tokenWhereConfig: "nodes[].token for {node}",
  protocolMismatch: "the gateway speaks {theirs}; clawbridge speaks protocol {ours}",
  protocolNumber: "protocol {version}",
  protocolUnknown: "another protocol version",
  protocolFix: "upgrade OpenClaw on {node} (or clawbridge) so both speak gateway protocol {ours}",

  // nobody answered (the link)
  unreachable: "cannot connect to {url}",
  unreachableAfter: "no connection to {url} after {ms} ms",
  unreachableFix:
    'check that the gateway runs on {node} (openclaw gateway status) and is reachable from here (gateway.bind "lan" or a tunnel)',
  badUrl: "bad gateway URL {url}: {reason}",
  badUrlFix: "nodes[].url must look like ws://host:18789",
  socketError: "{reason}",
  socketErrorFix: "check that the gateway on {node} runs and is reachable at {url}",
  handshakeTimeout: "the gateway did not complete the handshake in time",
  badHello: "unexpected hello from the gateway",
  silent: "the gateway went silent (no tick for {ms} ms)",
  closed: "the connection closed ({detail})",
  closedByGateway: "the gateway closed the connection ({code})",
  stopped: "the client was stopped",
  stoppedBeforeRunEnded: "the client was stopped before the run ended",
  sendFailed: "could not send {method}: {reason}",
  requestTimeout: "{method} got no answer in {ms} ms",

  // agent runs
  runTimeout: "the run {runId} did not finish within {ms} ms",
  runFailed: "run {runId} failed",
  runFailedBecause: "run {runId} failed: {reason}",
  runFailedUnknown: "the agent run failed",
  runLost: "the gateway no longer knows run {runId} (it restarted while the run was going)",
  runLostFix: "run the task again",

  // the device identity
  identityUnreadable: "the device identity in {file} cannot be read: {reason}",
  identityFix:
    "restore it from your state backup; deleting it creates a new device that every remote gateway must approve again",
  identityIdMismatch: "deviceId does not match the key",
  identityNotEd25519: "not an Ed25519 public key",
} as const;

export type GatewayMessageKey = keyof typeof en;

const zhCN: Record<GatewayMessageKey, string> = {
  onNode: "节点 {node}：",
  withReason: "{text}（{reason}）",

  requestFailed: "{method} 失败：{codes}：{reason}",
  forbiddenFix: "在 {node} 上批准本设备并授予 operator.read 和 operator.write 权限（openclaw devices list）",
  pairingRequired: "需要配对——本桥的设备尚未获批准",
  pairingFix: "在 {node} 的电脑上运行 `{command}`；批准后 clawbridge 会自动连接",
  tokenMismatch: "网关拒绝了令牌（网关令牌不匹配）",
  tokenMismatchDeviceToo: "网关拒绝了令牌（网关令牌不匹配）；保存的设备令牌也被拒绝",
  tokenMissing: "网关要求令牌，但没有发送令牌",
  authRefused: "网关拒绝了本桥的身份验证（{code}：{reason}）",
  tokenFix:
    "把 {where} 设为该网关的 gateway.auth.token（在 {node} 的电脑上运行 `openclaw gateway status` 可查看），然后重启 clawbridge",
  tokenWhereEnv: "环境变量 {name}",
  tokenWhereConfig: "{node} 的 nodes[].token",
  protocolMismatch: "网关使用{theirs}；clawbridge 使用协议 {ours}",
  protocolNumber: "协议 {version}",
  protocolUnknown: "另一个协议版本",
  protocolFix: "升级 {node} 上的 OpenClaw（或 clawbridge），使双方都使用网关协议 {ours}",

  unreachable: "无法连接 {url}",
  unreachableAfter: "{ms} 毫秒内未能连接 {url}",
  unreachableFix:
    '确认 {node} 上的网关在运行（openclaw gateway status），并且从这里可以访问（gateway.bind "lan" 或隧道）',
  badUrl: "网关地址 {url} 无效：{reason}",
  badUrlFix: "nodes[].url 应形如 ws://host:18789",
  socketError: "{reason}",
  socketErrorFix: "确认 {node} 上的网关在运行，并且可以通过 {url} 访问",
  handshakeTimeout: "网关没有按时完成握手",
  badHello: "网关的 hello 应答格式不符",
  silent: "网关没有响应（{ms} 毫秒内没有 tick）",
  closed: "连接已关闭（{detail}）",
  closedByGateway: "网关关闭了连接（{code}）",
  stopped: "客户端已停止",
  stoppedBeforeRunEnded: "运行结束前客户端已停止",
  sendFailed: "无法发送 {method}：{reason}",
  requestTimeout: "{method} 在 {ms} 毫秒内没有应答",

  runTimeout: "运行 {runId} 未在 {ms} 毫秒内结束",
  runFailed: "运行 {runId} 失败",
  runFailedBecause: "运行 {runId} 失败：{reason}",
  runFailedUnknown: "智能体运行失败",
  runLost: "网关已不知道运行 {runId}（运行期间网关重启了）",
  runLostFix: "重新运行该任务",

  identityUnreadable: "无法读取 {file} 中的设备身份：{reason}",
  identityFix: "从状态备份中恢复它；删除它会生成一个新设备，每个远程网关都必须重新批准",
  identityIdMismatch: "deviceId 与密钥不符",
  identityNotEd25519: "不是 Ed25519 公钥",
};

/** What the gateway module says to people: refusals, link failures, run failures, the device identity. */
export const gatewayMessages = defineMessages("gateway", en, zhCN);

/**
 * A gateway text whose parameters may themselves be texts (a reason, a place): those are
 * rendered in the same language as the sentence around them. `params` keeps their English
 * rendering, so `--json` output and logs still carry every fact.
 */
export function gatewayText(
  key: GatewayMessageKey,
  params: Params = {},
  texts: Record<string, LocalText> = {},
): LocalText {
  const names = Object.keys(texts);
  if (names.length === 0) return gatewayMessages.text(key, params);
  const rendered = (locale: Locale): Params =>
    Object.fromEntries(names.map((name) => [name, texts[name]!.render(locale)]));
  return {
    key: `${gatewayMessages.namespace}.${key}`,
    params: { ...params, ...rendered("en") },
    render: (locale) => gatewayMessages.t(locale)(key, { ...params, ...rendered(locale) }),
  };
}

/** A sentence about one node (`node ai-pc: …`) that still knows the sentence without the node. */
export interface NodeText extends LocalText {
  readonly reason: LocalText;
}

export function nodeText(node: string, reason: LocalText): NodeText {
  return {
    key: reason.key,
    params: { node, ...reason.params },
    reason,
    render: (locale) => gatewayMessages.t(locale)("onNode", { node }) + reason.render(locale),
  };
}

/** The sentence of a node text without its `node …:` prefix; any other text as it is. */
export function reasonOf(text: LocalText): LocalText {
  return "reason" in text && typeof (text as NodeText).reason === "object" ? (text as NodeText).reason : text;
}
