import { promises as fs } from "node:fs";
import path from "node:path";

export type WatchSetting = "auto" | "native" | "poll";
export type WatchMode = "native" | "poll";

export interface WatchDecision {
  mode: WatchMode;
  /** The filesystem type found (`ext4`, `cifs` …), when known. */
  fsType?: string;
  /** Why this mode, in words for the log and `doctor`. */
  reason: string;
}

// Network filesystems deliver no (or unreliable) change notifications to a client.
const NETWORK_FS = new Set([
  "cifs",
  "smb",
  "smb2",
  "smb3",
  "smbfs",
  "nfs",
  "nfs4",
  "afs",
  "9p",
  "fuse.sshfs",
  "fuse.rclone",
  "davfs",
  "fuse.davfs2",
  "webdav",
]);

// statfs f_type magic numbers (Linux) for the same, in case /proc/mounts is unavailable.
const NETWORK_MAGIC = new Map<number, string>([
  [0xff534d42, "cifs"],
  [0xfe534d42, "smb2"],
  [0x517b, "smb"],
  [0x6969, "nfs"],
  [0x5346414f, "afs"],
  [0x01021997, "9p"],
]);

/** Chooses how to notice changes under `root`: native events where they work, polling on network mounts. */
export async function decideWatchMode(root: string, setting: WatchSetting): Promise<WatchDecision> {
  const fsType = await filesystemType(root);
  if (setting === "native") return { mode: "native", fsType, reason: "watch: native (configured)" };
  if (setting === "poll") return { mode: "poll", fsType, reason: "watch: poll (configured)" };
  if (fsType && NETWORK_FS.has(fsType)) {
    return {
      mode: "poll",
      fsType,
      reason: `watch: auto → poll, because ${root} is on a network filesystem (${fsType}) that sends no change events`,
    };
  }
  return {
    mode: "native",
    fsType,
    reason: `watch: auto → native change events (${fsType ?? "local filesystem"})`,
  };
}

export async function filesystemType(dir: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await fs.realpath(dir);
  } catch {
    return undefined;
  }
  const fromMounts = await typeFromProcMounts(real);
  if (fromMounts) return fromMounts;
  try {
    const stats = await fs.statfs(real);
    return NETWORK_MAGIC.get(Number(stats.type));
  } catch {
    return undefined;
  }
}

/** The type of the longest mount point that contains `dir` (Linux; undefined elsewhere). */
async function typeFromProcMounts(dir: string): Promise<string | undefined> {
  try {
    return fsTypeFromMounts(await fs.readFile("/proc/self/mounts", "utf8"), dir);
  } catch {
    return undefined;
  }
}

/** Parses `/proc/mounts` text: the type of the longest mount point containing `dir`. */
export function fsTypeFromMounts(mounts: string, dir: string): string | undefined {
  let best: { mountPoint: string; type: string } | undefined;
  for (const line of mounts.split("\n")) {
    const [, rawMountPoint, type] = line.split(" ");
    if (!rawMountPoint || !type) continue;
    // /proc/mounts escapes spaces and other bytes as octal (\040).
    const mountPoint = rawMountPoint.replace(/\\([0-7]{3})/g, (_m, octal: string) =>
      String.fromCharCode(parseInt(octal, 8)),
    );
    const inside = mountPoint === "/" || dir === mountPoint || dir.startsWith(mountPoint + path.sep);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, type };
  }
  return best?.type;
}
