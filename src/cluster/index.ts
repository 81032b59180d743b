// The Redis adapter of several bridge replicas: the store, leases with fencing tokens, the
// replica registry and the roles spread over the replicas.
export * from "./redis-client.js";
export * from "./fence.js";
export * from "./lua-script.js";
export * from "./lease.js";
export * from "./replica-registry.js";
export * from "./assignment.js";
export * from "./roles.js";
export * from "./shared-dedup.js";
export * from "./tail-ledger.js";
export * from "./rate-limiter.js";
export * from "./redis-journal.js";
export * from "./stream-replies.js";
