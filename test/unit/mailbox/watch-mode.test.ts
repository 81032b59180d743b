import { describe, expect, it } from "vitest";
import { decideWatchMode, fsTypeFromMounts } from "../../../src/mailbox/index.js";
import { tempDir } from "../../helpers/temp.js";

const MOUNTS = [
  "overlay / overlay rw,relatime 0 0",
  "tmpfs /tmp tmpfs rw,nosuid 0 0",
  "//192.168.1.39/Share /mnt/共享\\040盘 cifs rw,vers=3.0,iocharset=utf8 0 0",
  "nas:/export /srv/nfs nfs4 rw 0 0",
].join("\n");

describe("watch mode", () => {
  it("finds the filesystem of the longest mount point, unescaping /proc/mounts", () => {
    expect(fsTypeFromMounts(MOUNTS, "/mnt/共享 盘/Openclaw-Shared")).toBe("cifs");
    expect(fsTypeFromMounts(MOUNTS, "/srv/nfs/x")).toBe("nfs4");
    expect(fsTypeFromMounts(MOUNTS, "/tmp/a")).toBe("tmpfs");
    expect(fsTypeFromMounts(MOUNTS, "/tmpx")).toBe("overlay");
  });

  it("honours an explicit setting and says why", async () => {
    const dir = tempDir();
    expect(await decideWatchMode(dir, "poll")).toMatchObject({
      mode: "poll",
      reason: "watch: poll (configured)",
    });
    expect(await decideWatchMode(dir, "native")).toMatchObject({ mode: "native" });
    const auto = await decideWatchMode(dir, "auto");
    // The test machine's temp folder is local: auto picks native events and names the filesystem.
    expect(auto.mode).toBe("native");
    expect(auto.reason).toMatch(/auto → native/);
  });
});
