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

  before(async () => {
    ({ dir: fixtures, layout } = await vmLayeredFixture("test/vm-whiteouts:1", [
      [dir("etc"), file("etc/gone"), file("etc/kept"), dir("opq"), file("opq/old-a"), file("opq/old-b"), file("top-gone")],
      [dir("etc"), file("etc/.wh.gone", ""), dir("opq"), file("opq/.wh..wh..opq", ""), file("opq/new"), file(".wh.top-gone", "")],
    ]));
  });

  after(() => {
    rmSync(fixtures, { recursive: true, force: true });
    cleanupIdentities();
  });

  for (const who of identities()) {
    describe(`as ${who.name}`, () => {
      let snap: Snapshot;
      beforeEach(() => (snap = snapshot()));
      afterEach(() => assertNoLeaks(snap, [who]));

      for (const addon of [true, false]) {
        it(`hides what upper layers deleted and what opaque dirs replace${addon ? "" : ", on a host without the native addon"}`, async () => {
          const store = join(who.scratch, `vm-store-${Math.random().toString(16).slice(2)}`);
          mkdirSync(store);
          chownSync(store, who.uid, who.gid);
          // No addon to load (as on macOS): layers are unpacked in the OCI whiteout form.
          const env = { TSBOX_DATA_DIR: store, TSBOX_BACKEND: "vm", ...(addon ? {} : { TSBOX_ADDON: join(store, "no-addon.node") }) };
          const loaded = await tsbox(who, ["load", "-i", layout], { env });
          assert.equal(loaded.code, 0, loaded.stderr);
          const r = await tsbox(who, ["run", "--rm", "test/vm-whiteouts:1", "sh", "-c", "ls /etc; echo --; ls /opq; echo --; ls -d /top-gone 2>&1"], { env });
          // hostname, hosts and resolv.conf are tsbox's, bound over the image as docker's are.
          assert.equal(r.stdout, "group\nhostname\nhosts\nkept\npasswd\nresolv.conf\n--\nnew\n--\nls: /top-gone: No such file or directory\n", r.stderr);
          assert.equal(r.code, 1);
          assert.equal(existsSync(join(store, "layers", "oci")), !addon, "the layers' whiteout form follows the addon");
        });
      }
    });
  }
});
