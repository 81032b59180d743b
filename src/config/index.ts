/**
 * The config module's public surface: the schema (the reference for every key), the loader,
 * and the pieces `doctor` and the composition root need. Other modules import from here only.
 */
export {
  configSchema,
  feishuSchema,
  nodeSchema,
  mailboxSchema,
  AGENT_ID_PATTERN,
  TAG_PATTERN,
  type Config,
  type ConfigInput,
  type NodeConfig,
  type MailboxConfig,
  type FeishuConfig,
} from "./schema.js";
export {
  loadConfig,
  parseConfigText,
  findConfigFile,
  CONFIG_FILE_CANDIDATES,
  type LoadConfigOptions,
  type ParseConfigOptions,
  type FindConfigOptions,
  type LoadedConfig,
  type ParsedConfig,
} from "./load.js";
export { ConfigError, isConfigError, type ConfigErrorCode, type ConfigErrorOptions } from "./config-error.js";
export { formatIssue, dottedKey, issuesFromZod, type ConfigIssue } from "./issues.js";
export {
  interpolateEnv,
  interpolateString,
  readEnvFile,
  type EnvVars,
  type EnvFile,
  type InterpolateOptions,
  type InterpolationResult,
  type StringInterpolation,
} from "./env.js";
export { SECRET_CONFIG_KEYS, findLiteralSecrets, isSecretPath } from "./secrets.js";
export { listSchemaKeys, type SchemaKey } from "./schema-walk.js";
export { configMessages, EXAMPLE_CONFIG, type ConfigMessageKey } from "./messages.js";
