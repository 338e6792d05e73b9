/**
 * The container's file system: an overlay whose writes land in the
 * container's own upper dir, never in the image's layers; --rm, --read-only
 * and volumes, as root and as unprivileged users.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync, chownSync, statSync } from "node:fs";
import { join } from "node:path";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { cliPath, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, removersDone, type Snapshot } from "./helpers/leaks.js";

after(cleanupIdentities);

/** Every file path under dir (relative), following no symlinks. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(join(rel, e.name));
      if (e.isDirectory()) walk(join(d, e.name), join(rel, e.name));
    }
  };
  if (existsSync(dir)) walk(dir, "");
  return out.sort();
}

for (const who of identities()) {
  describe(`filesystem as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("writes go to the container's upper dir, never to the image layers", async () => {
      // Warm the layer cache, then record the layers exactly.
      assert.equal((await tsbox(who, ["run", "--rm", "busybox", "true"])).code, 0);
      const layersBefore = tree(join(who.dataDir, "layers"));
      assert.ok(layersBefore.some((p) => p.endsWith("bin/busybox")), "the busybox layer is unpacked");

      const r = await tsbox(who, [
        "run", "--name", "writer", "busybox", "sh", "-c",
        "echo hi > /made-here && rm /bin/ls && mkdir -p /var/lib/x && echo ok",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(tree(join(who.dataDir, "layers")), layersBefore, "image layers unchanged");

      const containers = readdirSync(join(who.dataDir, "containers"));
      assert.equal(containers.length, 1);
      const upper = join(who.dataDir, "containers", containers[0]!, "upper");
      assert.equal(readFileSync(join(upper, "made-here"), "utf8"), "hi\n");
      assert.ok(existsSync(join(upper, "var/lib/x")));

      // The next container still has /bin/ls: the deletion was only a whiteout in the upper dir.
      const again = await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", "test -e /bin/ls && ! test -e /made-here && echo clean"]);
      assert.equal(again.stdout.trim(), "clean", again.stderr);

      const rm = await tsbox(who, ["rm", "writer"]);
      assert.equal(rm.code, 0, rm.stderr);
      await removersDone(who);
      assert.deepEqual(readdirSync(join(who.dataDir, "containers")), []);
    });

    it("--rm removes the container and its upper dir", async () => {
      const r = await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", "dd if=/dev/zero of=/big bs=1k count=64 2>/dev/null; echo done"]);
      assert.equal(r.stdout.trim(), "done", r.stderr);
      const dir = join(who.dataDir, "containers");
      await removersDone(who);
      assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
    });

    it("--read-only refuses writes to the root file system, and to /etc/hosts, resolv.conf and hostname (docker's)", async () => {
      const r = await tsbox(who, ["run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /nope; echo $?; ls /bin/busybox"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split("\n")[0], "1");
      assert.match(r.stderr, /Read-only file system/);
      // Before, the three were bound read-write: a hardened container could still rewrite its name resolution.
      const etc = "for f in hosts resolv.conf hostname; do echo '# x' >> /etc/$f 2>/dev/null; echo $f=$?; done";
      assert.equal((await tsbox(who, ["run", "--rm", "--read-only", "busybox", "sh", "-c", etc])).stdout, "hosts=1\nresolv.conf=1\nhostname=1\n");
      assert.equal((await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", etc])).stdout, "hosts=0\nresolv.conf=0\nhostname=0\n");
    });

    it("-v mounts a host directory read-write, and :ro read-only", async () => {
      const vol = join(who.scratch, "vol");
      mkdirSync(vol, { recursive: true });
      chownSync(vol, who.uid, who.gid);
      writeFileSync(join(vol, "from-host"), "host data\n");
      chownSync(join(vol, "from-host"), who.uid, who.gid);

      const rw = await tsbox(who, ["run", "--rm", "-v", `${vol}:/data`, "busybox", "sh", "-c", "cat /data/from-host; echo written > /data/from-container"]);
      assert.equal(rw.code, 0, rw.stderr);
      assert.equal(rw.stdout, "host data\n");
      assert.equal(readFileSync(join(vol, "from-container"), "utf8"), "written\n");

      const ro = await tsbox(who, ["run", "--rm", "-v", `${vol}:/data:ro`, "busybox", "sh", "-c", "cat /data/from-host; echo x > /data/nope"]);
      assert.notEqual(ro.code, 0);
      assert.equal(ro.stdout, "host data\n");
      assert.match(ro.stderr, /Read-only file system/);
      assert.ok(!existsSync(join(vol, "nope")));
    });

    it("creates a volume's missing mount point inside the container", async () => {
      const vol = join(who.scratch, "vol2");
      mkdirSync(vol, { recursive: true });
      chownSync(vol, who.uid, who.gid);
      const r = await tsbox(who, ["run", "--rm", "-v", `${vol}:/deep/new/dir`, "busybox", "sh", "-c", "touch /deep/new/dir/ok && ls /deep/new/dir"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "ok");
      assert.ok(existsSync(join(vol, "ok")));
    });

    it("the caller's umask (077) reaches neither the container's files nor its processes; the data dir is its owner's only", async () => {
      // As a user who keeps umask 077: / was 0700, /etc/hosts 0600, volumes 0700 and the process's umask 0077.
      // (A single-id user's container has one id: nobody else to switch to.)
      const nobody = who.name === "single" ? "echo nobody-reads" : "su -s /bin/sh nobody -c 'cat /etc/hosts >/dev/null && ls /bin >/dev/null && echo nobody-reads'";
      const script = `umask; stat -c '%a %n' / /etc /etc/hosts /v; ${nobody}`;
      const argv = ["/bin/sh", "-c", `umask 077 && exec "$0" "$@"`, process.execPath, cliPath, "run", "--rm", "-v", "umaskvol:/v", "busybox", "sh", "-c", script];
      const r = await tsbox(who, [], { argv });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "0022\n755 /\n755 /etc\n644 /etc/hosts\n755 /v\nnobody-reads\n");
      assert.equal((await tsbox(who, ["volume", "rm", "umaskvol"])).code, 0);
      assert.equal(statSync(who.dataDir).mode & 0o777, 0o700);
    });
  });
}
