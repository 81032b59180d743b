import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import {
  ClawbridgeError,
  errnoCode,
  isClawbridgeError,
  literalText,
  stateNewerError,
  systemClock,
  writeFileAtomic,
  type Clock,
  type LocalText,
} from "../core/index.js";
import { gatewayMessages, gatewayText } from "./messages.js";

/**
 * clawbridge's one persistent Ed25519 device key. Gateways pair a device once; a new key
 * from the same computer is refused again, so the key lives in `state.dir/identity/`
 * (mode 0600) and must survive upgrades.
 */
export interface DeviceIdentity {
  /** Hex sha256 of the raw 32-byte public key. */
  deviceId: string;
  /** Raw public key, base64url. */
  publicKey: string;
  sign(payload: string): string;
}

/** The format of `identity/device.json` this release reads and writes; a newer one is refused. */
export const DEVICE_IDENTITY_VERSION = 1;

interface StoredIdentity {
  version: typeof DEVICE_IDENTITY_VERSION;
  deviceId: string;
  publicKey: string;
  privateKeyPem: string;
  createdAt: string;
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (typeof jwk.x !== "string") {
    throw new ClawbridgeError("CB_GATEWAY_IDENTITY", gatewayMessages.text("identityNotEd25519"));
  }
  return Buffer.from(jwk.x, "base64url");
}

export function deviceIdOf(rawKey: Buffer): string {
  return createHash("sha256").update(rawKey).digest("hex");
}

/** Builds the identity from a private key (PEM); exported for tests with a known key. */
export function identityFromPrivateKey(privateKeyPem: string): DeviceIdentity {
  const privateKey = createPrivateKey(privateKeyPem);
  const raw = rawPublicKey(createPublicKey(privateKey));
  return {
    deviceId: deviceIdOf(raw),
    publicKey: raw.toString("base64url"),
    sign: (payload) => sign(null, Buffer.from(payload, "utf8"), privateKey).toString("base64url"),
  };
}

/** Checks a device signature the way a gateway does (used by the fake gateway and tests). */
export function verifyDeviceSignature(
  publicKeyB64Url: string,
  payload: string,
  signatureB64Url: string,
): boolean {
  try {
    const key = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: publicKeyB64Url },
      format: "jwk",
    });
    return verify(null, Buffer.from(payload, "utf8"), key, Buffer.from(signatureB64Url, "base64url"));
  } catch {
    return false;
  }
}

/** The stored identity is there but unusable: never replaced silently (every gateway would need a new pairing). */
function unreadableIdentity(
  file: string,
  reason: LocalText,
  cause?: unknown,
): ClawbridgeError<"CB_GATEWAY_IDENTITY"> {
  return new ClawbridgeError("CB_GATEWAY_IDENTITY", gatewayText("identityUnreadable", { file }, { reason }), {
    fix: gatewayMessages.text("identityFix"),
    details: { file },
    cause,
  });
}

/** Loads `state.dir/identity/device.json`, creating it (0600) on first use; `clock` dates a new one. */
export async function loadOrCreateIdentity(
  stateDir: string,
  options: { clock?: Clock } = {},
): Promise<DeviceIdentity> {
  const dir = path.join(stateDir, "identity");
  const file = path.join(dir, "device.json");
  let stored: StoredIdentity | undefined;
  try {
    stored = JSON.parse(await fs.readFile(file, "utf8")) as StoredIdentity;
  } catch (error) {
    if (errnoCode(error) !== "ENOENT")
      throw unreadableIdentity(file, literalText((error as Error).message), error);
  }
  if (stored) {
    // A newer release's key file may hold the key differently: refused, never replaced.
    const found: unknown = (stored as { version?: unknown }).version;
    if (typeof found === "number" && found > DEVICE_IDENTITY_VERSION) {
      throw stateNewerError(file, found, DEVICE_IDENTITY_VERSION);
    }
    let identity: DeviceIdentity;
    try {
      identity = identityFromPrivateKey(stored.privateKeyPem);
    } catch (error) {
      const reason = isClawbridgeError(error) ? error.text : literalText((error as Error).message);
      throw unreadableIdentity(file, reason, error);
    }
    if (identity.deviceId !== stored.deviceId)
      throw unreadableIdentity(file, gatewayMessages.text("identityIdMismatch"));
    return identity;
  }
  const { privateKey } = generateKeyPairSync("ed25519");
  const privateKeyPem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const identity = identityFromPrivateKey(privateKeyPem);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const record: StoredIdentity = {
    version: DEVICE_IDENTITY_VERSION,
    deviceId: identity.deviceId,
    publicKey: identity.publicKey,
    privateKeyPem,
    createdAt: new Date((options.clock ?? systemClock).now()).toISOString(),
  };
  await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  return identity;
}

/** Lower-cases ASCII letters and trims, as the gateway does for platform and deviceFamily. */
function normalizeMetadata(value: string | undefined): string {
  return (value ?? "").trim().replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The exact string a device signs (`v3|…`), as the gateway rebuilds it. */
export function deviceAuthPayload(params: {
  deviceId: string;
  clientId: string;
  clientMode: string;
  role: string;
  scopes: readonly string[];
  signedAtMs: number;
  token?: string;
  nonce: string;
  platform?: string;
  deviceFamily?: string;
}): string {
  return [
    "v3",
    params.deviceId,
    params.clientId,
    params.clientMode,
    params.role,
    params.scopes.join(","),
    String(params.signedAtMs),
    params.token ?? "",
    params.nonce,
    normalizeMetadata(params.platform),
    normalizeMetadata(params.deviceFamily),
  ].join("|");
}
