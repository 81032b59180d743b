import { defineMessages } from "../core/index.js";

const en = {
  intakeFull: "the shared intake queue is full ({capacity} items waiting)",
  intakeFullFix: "check that the replica holding the tasks role is running and can reach Redis",
  redisMissing: 'state.store is "redis" but state.redis is not set',
  redisUnreachable: "cannot reach Redis at state.redis.url within {ms} ms",
  redisUnreachableFix:
    "check that Redis runs and that the URL's host, port, password and rediss:// (TLS) are right; clawbridge doctor checks the connection",
} as const;

export type ReplicaMessageKey = keyof typeof en;

const zhCN: Record<ReplicaMessageKey, string> = {
  intakeFull: "共享的接收队列已满（{capacity} 条在等待）",
  intakeFullFix: "检查持有任务角色的副本是否在运行、能否连接 Redis",
  redisMissing: "state.store 为 “redis”，但没有设置 state.redis",
  redisUnreachable: "{ms} 毫秒内无法连接 state.redis.url 所指的 Redis",
  redisUnreachableFix:
    "请确认 Redis 正在运行，并检查地址中的主机、端口、密码以及 rediss://（TLS）是否正确；clawbridge doctor 会检查连接",
};

/** What the replica module says (the intake forwarded to the "tasks" holder). */
export const replicaMessages = defineMessages("replica", en, zhCN);
