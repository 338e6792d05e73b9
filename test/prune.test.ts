/**
 * `container prune`, `system prune [-a] [--volumes]` and `system df`
 * against real containers, images and volumes, as root and as the
 * unprivileged users: what is in use stays, the rest goes, and the figures
 * add up.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { tsbox, type CliResult } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { removeContainersAndVolumes, tsboxExpect } from "./helpers/cli-cases.js";
import { OCI_FORM_DIR } from "../src/paths.js";

after(cleanupIdentities);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const who of identities()) {
  describe(`prune and df as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      await removeContainersAndVolumes(who);
      await assertNoLeaks(snap, [who]);
    });
    const cli = (args: string[], opts: { stdin?: string } = {}) => tsboxExpect(who, args, opts);
    /** A volume whose record is a FIFO: a run that uses it stops reading it, mid-set-up (its bundle and name made). */
    const heldVolume = async (name: string) => {
      await cli(["volume", "create", name]);
      const meta = join(who.dataDir, "volumes", name, "volume.json");
      const saved = readFileSync(meta);
      rmSync(meta);
      execFileSync("mkfifo", [meta]);
      chownSync(meta, who.uid, who.gid);
      return { meta, saved };
    };
    const names = async () => (await cli(["ps", "-a", "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean).sort();

    it("container prune removes stopped containers only, after a yes", async () => {
      await cli(["run", "--name", "old1", "busybox", "sh", "-c", "echo 12345 > /f"]);
      await cli(["run", "--name", "old2", "-v", "/anon", "busybox", "true"]);
      let livePid = 0;
      const live: Promise<CliResult> = tsbox(who, ["run", "--name", "live", "busybox", "sleep", "30"], { timeoutMs: 60_000, onSpawn: (pid) => (livePid = pid) });
      for (let i = 0; i < 100 && (await tsbox(who, ["ps", "-q"])).stdout === ""; i++) await sleep(100);
      const no = await cli(["container", "prune"], { stdin: "n\n" });
      assert.match(no.stderr, /WARNING! This will remove all stopped containers\.\nAre you sure you want to continue\? \[y\/N\] $/);
      assert.deepEqual(await names(), ["live", "old1", "old2"], "no answer, nothing removed");
      const yes = await cli(["container", "prune"], { stdin: "y\n" });
      assert.match(yes.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}\n\nTotal reclaimed space: \d+B\n$/);
      assert.deepEqual(await names(), ["live"]);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout.split("\n").filter(Boolean).length, 1, "container prune leaves volumes");
      assert.equal((await cli(["container", "ls", "--format", "{{.Names}} {{.State}}"])).stdout, "live running\n", "docker's container ls alias");
      // Its CLI dies (the container with it): `rm -f` racing the CLI's own exit bookkeeping is the lifecycle's business.
      process.kill(livePid, "SIGKILL");
      await live;
    });

    it("prune --filter: until spares what is newer, label= prunes only the labelled, label!= the others (containers, images, system)", async () => {
      await cli(["run", "--name", "lab-a", "-l", "team=a", "busybox", "true"]);
      await cli(["run", "--name", "lab-b", "-l", "team=b", "busybox", "true"]);
      await cli(["run", "--name", "plain", "busybox", "true"]);
      assert.equal((await cli(["container", "prune", "-f", "--filter", "until=1h"])).stdout, "Total reclaimed space: 0B\n", "all newer than an hour");
      const a = await cli(["container", "prune", "-f", "--filter", "label=team=a"]);
      assert.match(a.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\n/);
      assert.deepEqual(await names(), ["lab-b", "plain"]);
      await cli(["container", "prune", "-f", "--filter", "label!=team"]);
      assert.deepEqual(await names(), ["lab-b"]);
      await cli(["commit", "-c", "LABEL tier=scratch", "lab-b", "labelled:1"]);
      await cli(["tag", "busybox", "unlabelled:1"]);
      await cli(["rm", "lab-b"]);
      await cli(["image", "prune", "-a", "-f", "--filter", "label=tier=scratch"]);
      const left = (await cli(["images", "--format", "{{.Repository}}"])).stdout.split("\n").filter(Boolean).sort();
      assert.deepEqual(left, ["busybox", "unlabelled"], "only the labelled image went");
      // (until is an image's own creation time: busybox's is years ago, so it is not the filter to show this with.)
      assert.equal((await cli(["system", "prune", "-a", "-f", "--filter", "label=nothing-has-this"])).stdout, "Total reclaimed space: 0B\n");
      assert.match((await tsbox(who, ["container", "prune", "-f", "--filter", "status=exited"])).stderr, /invalid filter 'status=exited' \(until=TIME, label=KEY\[=VALUE\] or label!=KEY\[=VALUE\]\)/);
      await cli(["rmi", "unlabelled:1"]);
    });

    it("system df adds up; system prune removes unnamed images, -a every unused one, --volumes anonymous volumes", async () => {
      await cli(["run", "--name", "keep", "-v", "named:/n", "-v", "/anon", "busybox", "sh", "-c", "echo data > /n/x; echo y > /made"]);
      const unnamed = (await cli(["commit", "keep"])).stdout.trim();
      await cli(["commit", "keep", "snap:1"]);
      // docker's management command names (management.ts): the same commands.
      assert.match((await cli(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])).stdout, /^snap:1$/m);
      assert.match((await cli(["image", "inspect", "-f", "{{.Id}}", "snap:1"])).stdout, /^sha256:[0-9a-f]{64}\n$/);
      await cli(["image", "tag", "snap:1", "snap:2"]);
      assert.match((await cli(["image", "rm", "snap:2"])).stdout, /snap:2/);
      assert.equal((await cli(["container", "inspect", "-f", "{{.Name}}", "keep"])).stdout, "/keep\n");
      assert.match((await cli(["image", "history", "snap:1"])).stdout, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[0-9a-f]{12}\s/);
      assert.equal((await tsbox(who, ["image", "frobnicate", "snap:1"])).stderr, "tsbox: unknown command: image frobnicate (see tsbox image --help)\n");
      // More names of busybox are not more images (docker counts one summary per image id).
      await cli(["tag", "busybox", "df-a:1"]);
      await cli(["tag", "busybox", "df-b:1"]);
      const df = (await cli(["system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}"])).stdout.trim().split("\n");
      await cli(["rmi", "df-a:1", "df-b:1"]);
      assert.equal(df.length, 4);
      assert.match(df[0]!, /^Images\|3\|1\|[\d.]+[kM]B\|[\d.]+k?B \(\d+%\)$/, "busybox in use, snap:1 and the unnamed one (docker's <none>) not");
      assert.match(df[1]!, /^Containers\|1\|0\|\d+B\|\d+B \(100%\)$/);
      assert.match(df[2]!, /^Local Volumes\|2\|2\|\d+B\|0B \(0%\)$/);
      assert.equal(df[3], "Build Cache|0|0|0B|0B");
      const verbose = (await cli(["system", "df", "-v"])).stdout;
      assert.match(verbose, /Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       CREATED\s+SIZE\s+CONTAINERS\s+PLATFORM\n/);
      // The containers' STATUS as ps words it (docker's), not the bare state.
      assert.match(verbose, /\s Exited \(0\) [^\n]+ ago\s+keep\n/);
      assert.match(verbose, /\nBuild cache usage: 0B\n$/);

      await cli(["rm", "keep"]); // its anonymous volume is now dangling, the named one unused
      const first = await cli(["system", "prune", "--volumes", "-f"]);
      assert.match(first.stdout, /^Deleted Volumes:\n[0-9a-f]{64}\n\nDeleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: /);
      assert.ok(first.stdout.includes(`deleted: ${unnamed}`), "the unnamed image went");
      assert.deepEqual((await cli(["volume", "ls", "-q"])).stdout, "named\n", "named volumes are not pruned");
      assert.match((await cli(["images"])).stdout, /snap\s+1/, "named images are kept without -a");
      const all = await cli(["system", "prune", "-a", "-f"]);
      assert.match(all.stdout, /Deleted Images:\n(untagged: (busybox:latest|snap:1)\n){2}/);
      assert.deepEqual(readdirSync(join(who.dataDir, "blobs", "sha256")), [], "every blob went");
      assert.equal((await cli(["images", "--json"])).stdout.trim(), "[]");
      // The embedded busybox comes back on the next run.
      assert.equal((await cli(["run", "--rm", "busybox", "echo", "back"])).stdout, "back\n");
    });

    it("system prune -a removes layers whose files belong to other ids, and what a killed prune left in its trash", async () => {
      // Rootless, deleting them takes a helper in the user namespace, whose root is busybox's layer: before, the
      // prune that had just removed busybox re-imported it under the index lock it held, waited 60 s on itself and
      // failed ("another tsbox process has held its lock"), the layers left where the user cannot delete them.
      await cli(["run", "--name", "owner", "busybox", "sh", "-c", `mkdir -p /d/e && touch /d/e/f && ${who.name === "single" ? "" : "chown -R 1234 /d && "}chmod 700 /d`]);
      await cli(["commit", "owner", "owned:1"]);
      await cli(["rm", "owner"]);
      await cli(["run", "--rm", "owned:1", "true"]);
      // A prune killed between renaming a layer aside and deleting it: the next one deletes it.
      const dead = execFileSync("sh", ["-c", "sh -c 'echo $$'"], { encoding: "utf8" }).trim();
      const trash = join(who.dataDir, "layers", `.trash-${dead}-Ab12Cd`);
      mkdirSync(join(trash, "x"), { recursive: true });
      writeFileSync(join(trash, "x", "f"), "x".repeat(4096));
      for (const path of [trash, join(trash, "x"), join(trash, "x", "f")]) chownSync(path, who.uid, who.gid);
      const started = Date.now();
      const all = await tsbox(who, ["system", "prune", "-a", "-f"], { timeoutMs: 50_000 });
      assert.equal(all.stderr, "");
      assert.equal(all.code, 0);
      assert.ok(Date.now() - started < 30_000, `it took ${Date.now() - started} ms`);
      assert.match(all.stdout, /untagged: owned:1\n/);
      const layers = [join(who.dataDir, "layers", "sha256"), join(who.dataDir, "layers", OCI_FORM_DIR, "sha256")];
      assert.deepEqual(layers.flatMap((dir) => (existsSync(dir) ? readdirSync(dir) : [])), [], "every layer went");
      assert.deepEqual(readdirSync(join(who.dataDir, "layers")).filter((e) => e.startsWith(".")), [], "nothing left aside");
      assert.equal((await cli(["images", "-q"])).stdout, "", "no image came back (the helper's busybox is no image of the user's)");
    });

    it("system prune sweeps what killed processes left half-made or half-removed, never a live process's", async () => {
      const dead = execFileSync("sh", ["-c", "sh -c 'echo $$'"], { encoding: "utf8" }).trim();
      const live = String(process.pid);
      const made = (path: string, dir: boolean) => {
        if (dir) {
          mkdirSync(path);
          writeFileSync(join(path, "part"), "x".repeat(4096));
        } else writeFileSync(path, "x".repeat(4096));
        chownSync(path, who.uid, who.gid);
        if (dir) chownSync(join(path, "part"), who.uid, who.gid);
        return path;
      };
      // A container whose remover was killed after renaming it aside: its files belong to uid 1000 of the
      // container (rootless: a subordinate id the user cannot delete as itself).
      const id = (await cli(["run", "-d", "--name", "halfgone", "busybox", "sh", "-c", "mkdir -p /d/e && echo x > /d/e/f && chown -R 1000:1000 /d"])).stdout.trim();
      await cli(["wait", "halfgone"]);
      const aside = join(who.dataDir, "containers", `.removing-${id}-${dead}`);
      renameSync(join(who.dataDir, "containers", id), aside);
      const name = join(who.dataDir, "names", "halfgone");
      assert.ok(lstatSync(name, { throwIfNoEntry: false }), "its name was left too");
      const bytesOf = (text: string) => {
        const [, n, unit] = /^([\d.]+)([kMG]?)B/.exec(text)!;
        return Number(n) * 1000 ** ["", "k", "M", "G"].indexOf(unit!);
      };
      const reclaimable = async () => {
        const rows = (await cli(["system", "df", "--format", "{{.Type}}|{{.Reclaimable}}"])).stdout.trim().split("\n").map((l) => l.split("|"));
        const of = (type: string) => bytesOf(rows.find((r) => r[0] === type)![1]!);
        return { images: of("Images"), volumes: of("Local Volumes") };
      };
      mkdirSync(join(who.dataDir, "volumes"), { recursive: true });
      chownSync(join(who.dataDir, "volumes"), who.uid, who.gid);
      const before = await reclaimable();
      const halfMade = (pid: string) => [
        made(join(who.dataDir, "layers", `.unpack-${pid}-0123456789ab-Xy12Ab`), true),
        made(join(who.dataDir, `.load-${pid}-Qw34Er`), true),
        made(join(who.dataDir, `.blob-${pid}-0123abcd.tmp`), false),
      ];
      const abandoned = halfMade(dead);
      const working = halfMade(live);
      // A pull under way: its lease, its download, and a blob it wrote whose name is not published yet (a prune
      // deleted them, and the pull failed with a raw ENOENT); a dead pull's lease and download go.
      const downloads = join(who.dataDir, ".downloads");
      mkdirSync(downloads, { recursive: true });
      chownSync(downloads, who.uid, who.gid);
      const pulling = [made(join(downloads, `lease.${live}.ab12`), false), made(join(downloads, `${"a".repeat(64)}.${live}.cd34.part`), false)];
      const deadPull = [made(join(downloads, `lease.${dead}.ef56`), false), made(join(downloads, `${"b".repeat(64)}.${dead}.0a1b.part`), false)];
      // A killed commit's index.json temp, and a volume a killed `volume rm` was deleting.
      const indexTemp = made(join(who.dataDir, `.index.json.${dead}.0.tmp`), false);
      const deadVolume = made(join(who.dataDir, "volumes", `.rm-${dead}-0a1b2c3d4e5f6a7b`), true);
      // An interrupted download: system df counted none of this (0 B while it held megabytes).
      const partial = join(downloads, `${"e".repeat(64)}.partial`);
      writeFileSync(partial, Buffer.alloc(5_000_000, 1));
      chownSync(partial, who.uid, who.gid);
      const fresh = made(join(who.dataDir, "blobs", "sha256", "c".repeat(64)), false);
      const stale = made(join(who.dataDir, "blobs", "sha256", "d".repeat(64)), false);
      utimesSync(stale, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
      utimesSync(pulling[0]!, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      const after = await reclaimable();
      const grown = after.images - before.images;
      assert.ok(grown > 5_000_000 && grown < 5_100_000, `the Images' reclaimable space grew by ${grown} B`);
      assert.ok(after.volumes - before.volumes >= 4000, "the dead volume rm's files count as the volumes'");
      await cli(["system", "prune", "-f"]);
      for (const path of [...abandoned, aside, ...deadPull, stale, indexTemp, deadVolume, partial]) assert.equal(existsSync(path), false, `left: ${path}`);
      assert.equal(lstatSync(name, { throwIfNoEntry: false }), undefined, "the gone container's name was left");
      for (const path of [...working, ...pulling, fresh]) assert.equal(existsSync(path), true, `a live process's went: ${path}`);
      for (const path of [...working, ...pulling, fresh]) rmSync(path, { recursive: true });
      rmSync(downloads, { recursive: true });
    });

    it("rm removes a container that nested directories deeper than any path names (as its root and as uid 1000)", async () => {
      // Before, rm failed with ENAMETOOLONG: the container gone from ps, its layer left for good, prune blind to it.
      const nest = 'n=$(printf "%0250d" 0); i=0; while [ $i -lt 20 ]; do mkdir $n && cd -P $n || exit 9; i=$((i+1)); done; echo x > f';
      for (const user of who.name === "single" ? ["0"] : ["0", "1000"]) {
        const r = await tsbox(who, ["run", "--name", `deep-${user}`, "-u", user, "-w", "/tmp", "busybox", "sh", "-c", nest]);
        assert.equal(r.code, 0, r.stderr);
        await cli(["rm", `deep-${user}`]);
      }
      assert.deepEqual(readdirSync(join(who.dataDir, "containers")), []);
    });

    it("rm, --rm and a detached --rm remove a container's 100-deep tree made read-only (chmod -R a-w)", async () => {
      // The levels past the walk's 64 open directories are moved up, which writes each one's `..`: the Rust walk
      // (tsbox-runtime's removal) tried that without granting u+w first (EACCES as a user), and left the layer.
      const tree = 'p=/t; i=0; while [ $i -lt 100 ]; do p=$p/d; i=$((i+1)); done; mkdir -p $p && echo x > $p/f && chmod -R a-w /t';
      const r = await tsbox(who, ["run", "--name", "ro-deep", "busybox", "sh", "-c", tree]);
      assert.equal(r.code, 0, r.stderr);
      await cli(["rm", "ro-deep"]);
      const rm = await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", tree]);
      assert.deepEqual([rm.code, rm.stderr], [0, ""]);
      await cli(["run", "-d", "--rm", "--name", "ro-deep-d", "busybox", "sh", "-c", tree]);
      for (let i = 0; i < 400 && readdirSync(join(who.dataDir, "containers")).length > 0; i++) await sleep(25);
      assert.deepEqual(readdirSync(join(who.dataDir, "containers")), [], "every layer is removed fully");
    });

    it("a run killed during its set-up leaves a bundle that holds no name and goes with container prune", async () => {
      const { meta, saved } = await heldVolume("stuck");
      // Reading the volume's record blocks on the FIFO: the run stops there, its bundle and name made, its state not.
      let pid = 0;
      const run = tsbox(who, ["run", "--name", "cut", "-v", "stuck:/data", "busybox", "true"], { onSpawn: (p) => (pid = p) });
      const nameLink = join(who.dataDir, "names", "cut");
      for (let i = 0; i < 400 && !lstatSync(nameLink, { throwIfNoEntry: false }); i++) await sleep(25);
      assert.ok(lstatSync(nameLink, { throwIfNoEntry: false }), "the run reserved its name");
      process.kill(pid, "SIGKILL");
      await run;
      rmSync(meta);
      writeFileSync(meta, saved);
      chownSync(meta, who.uid, who.gid);
      const bundles = () => readdirSync(join(who.dataDir, "containers")).filter((e) => /^[0-9a-f]{64}$/.test(e));
      assert.equal(bundles().length, 1, "the killed run's bundle is there");
      assert.equal((await cli(["ps", "-a", "-q"])).stdout, "");
      // Before, the name stayed taken for good: `rm cut` found no container and `run --name cut` was refused.
      assert.equal((await cli(["run", "--name", "cut", "busybox", "echo", "ran"])).stdout, "ran\n");
      await cli(["rm", "cut"]);
      await cli(["container", "prune", "-f"]);
      assert.deepEqual(bundles(), []);
    });

    it("rmi and prune during a run's set-up keep the layers it is about to mount", async () => {
      const { meta, saved } = await heldVolume("slow");
      // The run stops reading the volume's record: its image's layers looked up, its config.json not written.
      const run = tsbox(who, ["run", "--rm", "--name", "slow", "-v", "slow:/data", "busybox", "sh", "-c", "echo ran; ls /bin/busybox"]);
      const nameLink = join(who.dataDir, "names", "slow");
      for (let i = 0; i < 400 && !lstatSync(nameLink, { throwIfNoEntry: false }); i++) await sleep(25);
      assert.ok(lstatSync(nameLink, { throwIfNoEntry: false }), "the run reserved its name");
      // A container being made uses its image already (docker's conflict, "must force"): untagged by force.
      const refused = await tsbox(who, ["rmi", "busybox"]);
      assert.match(refused.stderr, /\(must force\) - container [0-9a-f]{12} is using its referenced image/);
      assert.match((await cli(["rmi", "-f", "busybox"])).stdout, /Untagged: busybox/);
      await cli(["image", "prune", "-a", "-f"]);
      await cli(["system", "prune", "-a", "-f"]);
      // Let it go on: the FIFO gives the record once, later reads find the file.
      const fifo = `${meta}.fifo`;
      renameSync(meta, fifo);
      writeFileSync(meta, saved);
      chownSync(meta, who.uid, who.gid);
      writeFileSync(fifo, saved);
      rmSync(fifo);
      const result = await run;
      assert.equal(result.stderr, "");
      assert.deepEqual([result.code, result.stdout], [0, "ran\n/bin/busybox\n"], "before, its layers were deleted under it");
      await cli(["system", "prune", "-a", "-f"]);
      const layers = [join(who.dataDir, "layers", "sha256"), join(who.dataDir, "layers", OCI_FORM_DIR, "sha256")];
      assert.deepEqual(layers.flatMap((dir) => (existsSync(dir) ? readdirSync(dir) : [])), [], "once it is gone, so are they");
    });
  });
}
