import { promises as fs } from "node:fs";
import path from "node:path";
import { systemClock, writeFileAtomic, type Clock } from "../core/index.js";

export interface StoredToken {
  token: string;
  scopes?: string[];
  url: string;
  issuedAt: string;
}

/** Where device tokens are kept: `DeviceTokenStore` (a file), or the replicas' shared store. */
export interface DeviceTokens {
  get(node: string): Promise<StoredToken | undefined>;
  set(node: string, value: Omit<StoredToken, "issuedAt">): Promise<void>;
}

/**
 * The device tokens gateways hand out in `hello-ok`, per node, in
 * `state.dir/identity/device-tokens.json` (0600). Tried when a shared token stops matching.
 */
export class DeviceTokenStore implements DeviceTokens {
  private readonly file: string;
  private cache: Record<string, StoredToken> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    stateDir: string,
    private readonly clock: Clock = systemClock,
  ) {
    this.file = path.join(stateDir, "identity", "device-tokens.json");
  }

  private async all(): Promise<Record<string, StoredToken>> {
    if (this.cache) return this.cache;
    try {
      this.cache = JSON.parse(await fs.readFile(this.file, "utf8")) as Record<string, StoredToken>;
    } catch {
      this.cache = {};
    }
    return this.cache;
  }

  async get(node: string): Promise<StoredToken | undefined> {
    return (await this.all())[node];
  }

  async set(node: string, value: Omit<StoredToken, "issuedAt">): Promise<void> {
    const all = await this.all();
    if (all[node]?.token === value.token) return;
    all[node] = { ...value, issuedAt: new Date(this.clock.now()).toISOString() };
    this.writing = this.writing.then(async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.file, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    });
    await this.writing;
  }
}
