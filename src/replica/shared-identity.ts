import { generateKeyPairSync } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { RedisStore } from "../cluster/index.js";
import { stateNewerError, systemClock, type Clock } from "../core/index.js";
import {
  DEVICE_IDENTITY_VERSION,
  identityFromPrivateKey,
  type DeviceIdentity,
  type DeviceTokens,
  type StoredToken,
} from "../gateway/index.js";

interface StoredIdentity {
  version: number;
  deviceId: string;
  publicKey: string;
  privateKeyPem: string;
  createdAt: string;
}

/**
 * The replicas' one device identity, kept in Redis: a gateway pairs a device once, and the
 * replica that takes a node over must connect as the device the gateway already approved —
 * a key per replica would need a new approval at every failover. The first replica seeds it
 * from its own `state.dir/identity/device.json` when there is one (a bridge that ran alone
 * and was paired keeps its pairing), else makes a new key. Redis holds the private key from
 * then on: give it a password and TLS as for the messages it carries.
 */
export async function sharedDeviceIdentity(
  store: RedisStore,
  stateDir: string,
  clock: Clock = systemClock,
): Promise<DeviceIdentity> {
  const key = store.key("identity", "device");
  let raw = await store.client.get(key);
  if (raw === null) {
    const seed = (await readLocalIdentity(stateDir)) ?? newIdentity(clock);
    // NX: two replicas starting together agree on whichever came first.
    await store.client.set(key, JSON.stringify(seed), "NX");
    raw = await store.client.get(key);
  }
  const stored = JSON.parse(raw!) as StoredIdentity;
  if (stored.version > DEVICE_IDENTITY_VERSION) {
    throw stateNewerError(`Redis key ${key}`, stored.version, DEVICE_IDENTITY_VERSION);
  }
  return identityFromPrivateKey(stored.privateKeyPem);
}

/** The device tokens gateways hand out, shared the same way (one hash field per node). */
export class SharedDeviceTokens implements DeviceTokens {
  private readonly key: string;

  constructor(
    private readonly store: RedisStore,
    private readonly clock: Clock = systemClock,
  ) {
    this.key = store.key("identity", "device-tokens");
  }

  async get(node: string): Promise<StoredToken | undefined> {
    const raw = await this.store.client.hget(this.key, node);
    return raw === null ? undefined : (JSON.parse(raw) as StoredToken);
  }

  async set(node: string, value: Omit<StoredToken, "issuedAt">): Promise<void> {
    const stored: StoredToken = { ...value, issuedAt: new Date(this.clock.now()).toISOString() };
    await this.store.client.hset(this.key, node, JSON.stringify(stored));
  }
}

async function readLocalIdentity(stateDir: string): Promise<StoredIdentity | undefined> {
  try {
    const stored = JSON.parse(
      await fs.readFile(path.join(stateDir, "identity", "device.json"), "utf8"),
    ) as StoredIdentity;
    return typeof stored.privateKeyPem === "string" ? stored : undefined;
  } catch {
    return undefined;
  }
}

function newIdentity(clock: Clock): StoredIdentity {
  const { privateKey } = generateKeyPairSync("ed25519");
  const privateKeyPem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const identity = identityFromPrivateKey(privateKeyPem);
  return {
    version: DEVICE_IDENTITY_VERSION,
    deviceId: identity.deviceId,
    publicKey: identity.publicKey,
    privateKeyPem,
    createdAt: new Date(clock.now()).toISOString(),
  };
}
