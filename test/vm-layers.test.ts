/**
 * Multi-layer images on the vm backend: the guest's overlayfs must honour
 * the layers' whiteouts and opaque dirs however the host unpacked them —
 * as root (0/0 character devices, trusted xattrs) or rootless
 * (`user.overlay.*` xattrs, which the 9p server presents in overlay's root
 * form, src/backends/vm/node/p9/overlay-markers.ts) — and where the host has
 * no native addon (macOS, Windows: the layer keeps its `.wh.` files, which
 * the 9p server presents the same way, node/p9/oci-whiteouts.ts).
 */
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import type { TarWriteEntry } from "../src/image/tar-writer.js";
import { tsbox } from "./helpers/cli.js";
import { cleanupIdentities, identities } from "./helpers/identities.js";
import { vmLayeredFixture } from "./helpers/images.js";
import { assertNoLeaks, type Snapshot, snapshot } from "./helpers/leaks.js";
import { vmSkip } from "./helpers/vm.js";

const file = (path: string, data = "x"): TarWriteEntry => ({ path, type: "file", mode: 0o644, mtime: 0, data: Buffer.from(data) });
const dir = (path: string): TarWriteEntry => ({ path, type: "directory", mode: 0o755, mtime: 0 });

describe("vm backend: layered images", { skip: vmSkip }, () => {
  let fixtures: string;
  let layout: string;
  let ownedFixtures: string;
  let ownedLayout: string;
  let manyFixtures: string;
  let manyLayout: string;

  before(async () => {
    ({ dir: fixtures, layout } = await vmLayeredFixture("test/vm-whiteouts:1", [
      [dir("etc"), file("etc/gone"), file("etc/kept"), dir("opq"), file("opq/old-a"), file("opq/old-b"), file("top-gone")],
      [dir("etc"), file("etc/.wh.gone", ""), dir("opq"), file("opq/.wh..wh..opq", ""), file("opq/new"), file(".wh.top-gone", "")],
    ]));
    ({ dir: ownedFixtures, layout: ownedLayout } = await vmLayeredFixture("test/vm-owners:1", [
      [
        dir("etc"),
        file("etc/kept"),
        dir("home"),
        { ...dir("home/app"), mode: 0o700, uid: 1000, gid: 1000 },
        { ...file("home/app/data", "mine\n"), mode: 0o600, uid: 1000, gid: 1000 },
        { ...dir("www"), uid: 33, gid: 44 },
        { ...file("sbin/su"), mode: 0o4755 },
      ],
    ]));
    // 119 layers over busybox (docker allows 127): more /mnt/host/l-… lower dirs than a page of mount data holds.
    ({ dir: manyFixtures, layout: manyLayout } = await vmLayeredFixture(
      "test/vm-many:1",
      Array.from({ length: 119 }, (_, i) => [dir("l"), file(`l/f${String(i).padStart(3, "0")}`, String(i))]),
    ));
  });

  after(() => {
    rmSync(fixtures, { recursive: true, force: true });
    rmSync(ownedFixtures, { recursive: true, force: true });
    rmSync(manyFixtures, { recursive: true, force: true });
    cleanupIdentities();
  });

  for (const who of identities()) {
    describe(`as ${who.name}`, () => {
      let snap: Snapshot;
      beforeEach(() => (snap = snapshot()));
      afterEach(() => assertNoLeaks(snap, [who]));

      /** A fresh store of `who` with `image` loaded; without the addon (as on macOS) layers are unpacked in the OCI whiteout form. */
      const loadedStore = async (image: string, addon: boolean) => {
        const store = join(who.scratch, `vm-store-${Math.random().toString(16).slice(2)}`);
        mkdirSync(store);
        chownSync(store, who.uid, who.gid);
        const env = { TSBOX_DATA_DIR: store, TSBOX_BACKEND: "vm", ...(addon ? {} : { TSBOX_ADDON: join(store, "no-addon.node") }) };
        const loaded = await tsbox(who, ["load", "-i", image], { env });
        assert.equal(loaded.code, 0, loaded.stderr);
        return { store, env };
      };

      for (const addon of [true, false]) {
        it(`hides what upper layers deleted and what opaque dirs replace${addon ? "" : ", on a host without the native addon"}`, async () => {
          const { store, env } = await loadedStore(layout, addon);
          const r = await tsbox(who, ["run", "--rm", "test/vm-whiteouts:1", "sh", "-c", "ls /etc; echo --; ls /opq; echo --; ls -d /top-gone 2>&1"], { env });
          // hostname, hosts and resolv.conf are tsbox's, bound over the image as docker's are.
          assert.equal(r.stdout, "group\nhostname\nhosts\nkept\npasswd\nresolv.conf\n--\nnew\n--\nls: /top-gone: No such file or directory\n", r.stderr);
          assert.equal(r.code, 1);
          assert.equal(existsSync(join(store, "layers", "oci")), !addon, "the layers' whiteout form follows the addon");
        });
      }

      for (const addon of [true, false]) {
        it(`keeps the owners and modes the image gives its files, and its users can write there${addon ? "" : ", on a host without the native addon"}`, async () => {
          const { env } = await loadedStore(ownedLayout, addon);
          const r = await tsbox(who, ["run", "--rm", "test/vm-owners:1", "sh", "-c", "stat -c '%u:%g %a %n' /home/app /home/app/data /www /sbin/su /etc/kept; echo changed >> /etc/kept && cat /etc/kept"], { env });
          assert.equal(r.stdout, "1000:1000 700 /home/app\n1000:1000 600 /home/app/data\n33:44 755 /www\n0:0 4755 /sbin/su\n0:0 644 /etc/kept\nxchanged\n", r.stderr);
          assert.equal(r.code, 0);
          // The image's user, in its own 0700 directory: reads, writes (a copy-up keeps the owner) and creates.
          const app = await tsbox(who, ["run", "--rm", "-u", "1000:1000", "test/vm-owners:1", "sh", "-c", "cat /home/app/data && echo more >> /home/app/data && touch /home/app/new && stat -c '%u:%g %n' /home/app/data /home/app/new"], { env });
          assert.equal(app.stdout, "mine\n1000:1000 /home/app/data\n1000:1000 /home/app/new\n", app.stderr);
          assert.equal(app.code, 0);
          const denied = await tsbox(who, ["run", "--rm", "-u", "33", "test/vm-owners:1", "cat", "/home/app/data"], { env });
          assert.match(denied.stderr, /Permission denied/);
          assert.equal(denied.code, 1);
        });
      }

      // The guest's mount data, the same for every caller (the layers' owners are the cases above): once.
      it("runs an image of 120 layers: more lower dirs than a page of the guest's overlay data holds", { skip: who.name !== "user" && "the guest's overlay data, the same for every caller: run as user" }, async () => {
        // Before, the agent wrote every /mnt/host/l-… path into the data, the kernel cut it at its page, and the run
        // failed "mounting the image's overlay …: No such file or directory" (the native backend's fix, 14806a8,
        // had not reached the guest).
        const { env } = await loadedStore(manyLayout, true);
        // Slow in the emulator (~25 s: 120 9p exports, an overlay lookup through each), not stuck.
        const r = await tsbox(who, ["run", "--rm", "test/vm-many:1", "sh", "-c", "ls /l | wc -l; cat /l/f000 /l/f118"], { env, timeoutMs: 240_000 });
        assert.deepEqual([r.code, r.stdout, r.stderr], [0, "119\n0118", ""]);
      });
    });
  }
});
