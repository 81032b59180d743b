/**
 * One replica among several (the Redis store, README "Running more than one bridge"): the
 * roles it may hold and what each does, what the replicas share, the task layer's intake
 * from the others, and a node's gateway seen from a replica that does not hold it.
 */
export { GatewayHost, type GatewayHostOptions } from "./gateway-host.js";
export { RemoteGatewayClient, type RemoteGatewayClientOptions } from "./remote-gateway.js";
export { IntakeForwarder, type IntakeItem, type IntakeHandlers } from "./intake-forwarder.js";
export { FencedMailbox } from "./fenced-mailbox.js";
export {
  ReplicaRoles,
  nodeRole,
  roleGroups,
  FOLDER_ROLE,
  INBOXES_ROLE,
  CHAT_ROLE,
  TASKS_ROLE,
  type RolePart,
  type ReplicaRolesOptions,
} from "./replica-roles.js";
export { rolePart, type RolePartsOptions } from "./role-parts.js";
export { openSharedState, type SharedState } from "./shared-state.js";
export { sharedDeviceIdentity, SharedDeviceTokens } from "./shared-identity.js";
export { replicaMessages, type ReplicaMessageKey } from "./messages.js";
