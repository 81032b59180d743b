import { createHash, randomBytes } from "node:crypto";

/** `n` random lower-case hex characters. */
export function hex(n: number): string {
  return randomBytes(Math.ceil(n / 2))
    .toString("hex")
    .slice(0, n);
}

/** Random alphanumeric text (app secrets, tokens). */
export function alnum(n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(n);
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

/** The id shapes Feishu uses; only the prefixes and rough lengths matter to clients. */
export const newIds = {
  appId: () => `cli_${hex(16)}`,
  appSecret: () => alnum(32),
  chat: () => `oc_${hex(32)}`,
  message: () => `om_${hex(32)}`,
  thread: () => `omt_${hex(16)}`,
  union: () => `on_${hex(32)}`,
  userId: () => hex(8),
  tenantKey: () => hex(16),
  event: () => hex(32),
  tenantToken: () => `t-${hex(40)}`,
  appToken: () => `a-${hex(40)}`,
  cardToken: () => `c-${hex(32)}`,
  imageKey: () => `img_v2_${hex(8)}-${hex(4)}-${hex(4)}-${hex(12)}g`,
  fileKey: () => `file_v2_${hex(8)}-${hex(4)}-${hex(4)}-${hex(12)}g`,
  deviceId: () => hex(20),
  frameMessage: () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
  trace: () => hex(16),
};

/**
 * The open_id an app sees for a principal: stable for the pair, different per app
 * (Feishu's identity trap), derived from a per-emulator salt so runs do not collide.
 */
export function openIdFor(salt: string, appId: string, unionId: string): string {
  const digest = createHash("sha256").update(`${salt}\u0000${appId}\u0000${unionId}`).digest("hex");
  return `ou_${digest.slice(0, 32)}`;
}
