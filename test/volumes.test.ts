/**
 * Named and anonymous volumes, docker's way: created on first use, filled
 * with the image's content when new, kept across containers, refused for
 * removal while a container holds them, deleted by `rm -v`, `--rm` and
 * prune; --mount and --tmpfs. As root and as the unprivileged users.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { removeContainersAndVolumes, tsboxExpect } from "./helpers/cli-cases.js";

after(cleanupIdentities);

for (const who of identities()) {
  describe(`volumes as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      await removeContainersAndVolumes(who);
      await assertNoLeaks(snap, [who]);
    });
    const cli = (args: string[], expect = 0) => tsboxExpect(who, args, { expect });

    it("a named volume is created on first use, filled from the image, and outlives its containers", async () => {
      const first = await cli(["run", "--name", "writer", "-v", "cfg:/etc", "busybox", "sh", "-c", "cat /etc/passwd | head -1; echo kept > /etc/note"]);
      assert.equal(first.stdout, "root:x:0:0:root:/root:/bin/sh\n", "the image's /etc was copied into the new volume");
      const ls = await cli(["volume", "ls", "--format", "{{.Driver}} {{.Name}} {{.Links}}"]);
      assert.equal(ls.stdout, "local cfg 1\n");
      const info = JSON.parse((await cli(["volume", "inspect", "cfg"])).stdout) as Record<string, unknown>[];
      assert.equal(info.length, 1);
      assert.deepEqual(Object.keys(info[0]!).sort(), ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]);
      assert.equal(info[0]!.Mountpoint, join(who.dataDir, "volumes", "cfg", "_data"));
      assert.equal(readFileSync(join(info[0]!.Mountpoint as string, "note"), "utf8"), "kept\n");
      // What holds an image's files as they are (setuid binaries, device nodes, owners) is no other user's to reach.
      for (const dir of ["volumes", "layers"]) assert.equal(statSync(join(who.dataDir, dir)).mode & 0o777, 0o700, dir);

      // A second container sees what the first wrote; an existing volume is not refilled.
      const second = await cli(["run", "--rm", "-v", "cfg:/etc:ro", "busybox", "sh", "-c", "cat /etc/note; rm /etc/group 2>&1 | sed 's/.*: //'"]);
      assert.equal(second.stdout, "kept\nRead-only file system\n");
      const inUse = await tsbox(who, ["volume", "rm", "cfg"]);
      assert.notEqual(inUse.code, 0);
      assert.match(inUse.stderr, /^tsbox: remove cfg: volume is in use - \[[0-9a-f]{64}\]\n$/);
      await cli(["rm", "writer"]);
      assert.equal((await cli(["volume", "rm", "cfg"])).stdout, "cfg\n");
      assert.ok(!existsSync(join(who.dataDir, "volumes", "cfg")));
      assert.match((await tsbox(who, ["volume", "inspect", "cfg"])).stderr, /no such volume: cfg/);
    });

    it("a volume over /etc still gets the container's hostname, hosts and resolv.conf (docker's order: the parent first)", async () => {
      const r = await cli(["run", "--rm", "--hostname", "etc-over", "-v", "etcvol:/etc", "busybox", "sh", "-c", "cat /etc/hostname; grep -c localhost /etc/hosts; test -f /etc/resolv.conf && echo resolv; ls /etc | tr '\\n' ' '"]);
      // Before stop 40 the volume was mounted over them: no hosts, no resolv.conf.
      assert.match(r.stdout, /^etc-over\n[1-9]\nresolv\ngroup hostname hosts passwd resolv\.conf $/);
      await cli(["volume", "rm", "etcvol"]);
    });

    it("anonymous volumes go with rm -v and --rm; prune takes only unused anonymous ones unless -a", async () => {
      await cli(["volume", "create", "--label", "keep=yes", "named"]);
      await cli(["run", "--name", "anon", "-v", "/data", "busybox", "sh", "-c", "echo x > /data/f"]);
      const volumes = () => readdirSync(join(who.dataDir, "volumes")).filter((n) => !n.startsWith(".")).sort();
      const anon = volumes().find((n) => /^[0-9a-f]{64}$/.test(n));
      assert.ok(anon, "an anonymous volume with a 64-hex name");
      const labels = JSON.parse((await cli(["volume", "inspect", "-f", "{{json .Labels}}", anon])).stdout) as Record<string, string>;
      assert.deepEqual(labels, { "com.docker.volume.anonymous": "" });
      assert.equal((await cli(["ps", "-a", "--filter", `volume=${anon}`, "--format", "{{.Names}} {{.LocalVolumes}}"])).stdout, "anon 1\n");
      await cli(["rm", "-v", "anon"]);
      assert.deepEqual(volumes(), ["named"], "rm -v removed the anonymous volume");

      await cli(["run", "--rm", "-v", "/data", "busybox", "true"]);
      assert.deepEqual(volumes(), ["named"], "--rm removed it too");
      // So does the removal a --rm container's monitor makes (run -d --rm, create --rm + start, a stop), the image's
      // VOLUMEs too: before, each left its volumes behind (a `run -d --rm postgres` a data volume each time).
      const listed = async () => (await cli(["volume", "ls", "-q"])).stdout.split("\n").filter(Boolean).sort();
      const gone = async (id: string) => {
        for (let i = 0; i < 200 && (await tsbox(who, ["inspect", id])).code === 0; i++) await new Promise((r) => setTimeout(r, 50));
      };
      assert.equal((await tsbox(who, ["build", "-q", "-t", "rmvol", "-"], { stdin: "FROM busybox\nVOLUME /data\n", timeoutMs: 60_000 })).code, 0);
      await gone((await cli(["run", "-d", "--rm", "-v", "/x", "rmvol", "true"])).stdout.trim());
      const waited = (await cli(["run", "-d", "--rm", "-v", "/y", "busybox", "sleep", "600"])).stdout.trim();
      await cli(["stop", "-t", "0", waited]);
      await gone(waited);
      const created = (await cli(["create", "--rm", "-v", "/z", "busybox", "true"])).stdout.trim();
      await cli(["start", "-a", created]);
      await gone(created);
      assert.deepEqual(await listed(), ["named"], "the monitor's removals took theirs");
      assert.deepEqual(volumes(), ["named"]);

      await cli(["run", "--name", "left", "-v", "/data", "busybox", "true"]);
      await cli(["rm", "left"]);
      assert.equal(volumes().length, 2, "plain rm leaves it dangling");
      assert.equal((await cli(["volume", "ls", "-q", "--filter", "dangling=true", "--filter", "label=keep"])).stdout, "named\n");
      assert.equal((await cli(["inspect", "-f", "{{.Name}} {{.Driver}}", "named"])).stdout, "named local\n", "untyped inspect finds a volume, as docker's");
      // name= is a regular expression (moby's filters.Match): `^named$` the exact test; driver= as docker's.
      assert.equal((await cli(["volume", "ls", "-q", "--filter", "name=^named$"])).stdout, "named\n");
      assert.equal((await cli(["volume", "ls", "-q", "--filter", "name=^name$"])).stdout, "");
      assert.equal((await cli(["volume", "ls", "-q", "--filter", "name=^nam", "--filter", "driver=local"])).stdout, "named\n");
      assert.equal((await cli(["volume", "ls", "-q", "--filter", "driver=other"])).stdout, "");
      const pruned = await cli(["volume", "prune", "-f"]);
      assert.match(pruned.stdout, /^Deleted Volumes:\n[0-9a-f]{64}\n\nTotal reclaimed space: 0B\n$/);
      assert.deepEqual(volumes(), ["named"], "prune keeps named volumes");
      assert.match((await cli(["volume", "prune", "-a", "-f"])).stdout, /^Deleted Volumes:\nnamed\n/);
      assert.deepEqual(volumes(), []);
    });

    it("--volumes-from takes another container's volumes and bind mounts at their paths (not its tmpfs), read-only as there or as asked", async () => {
      const bind = join(who.scratch, "vf-bind");
      mkdirSync(bind, { recursive: true });
      chownSync(bind, who.uid, who.gid);
      await cli(["run", "--name", "vf-src", "-v", "vf-named:/named", "-v", "/anon", "-v", `${bind}:/bound:ro`, "--tmpfs", "/t", "busybox", "sh", "-c", "echo n > /named/f; echo a > /anon/f"]);
      const probe = "cat /named/f /anon/f; [ -d /bound ] && echo bound; [ -d /t ] || echo no-tmpfs; touch /bound/x 2>/dev/null || echo bound-ro; touch /named/x 2>/dev/null && echo named-rw || echo named-ro";
      assert.equal((await cli(["run", "--rm", "--volumes-from", "vf-src", "busybox", "sh", "-c", probe])).stdout, "n\na\nbound\nno-tmpfs\nbound-ro\nnamed-rw\n");
      // (its anonymous volume is vf-src's: the --rm run before did not take it)
      assert.equal((await cli(["run", "--rm", "--volumes-from", "vf-src:ro", "busybox", "sh", "-c", probe])).stdout, "n\na\nbound\nno-tmpfs\nbound-ro\nnamed-ro\n");
      // `rw` keeps writable what is writable there, and never makes its read-only bind writable (before stop 66 it did).
      assert.equal((await cli(["run", "--rm", "--volumes-from", "vf-src:rw", "busybox", "sh", "-c", probe])).stdout, "n\na\nbound\nno-tmpfs\nbound-ro\nnamed-rw\n");
      // A path the run mounts itself keeps its own.
      assert.equal((await cli(["run", "--rm", "--volumes-from", "vf-src", "-v", "/named", "busybox", "sh", "-c", "ls /named | wc -l"])).stdout.trim(), "0");
      assert.equal((await tsbox(who, ["run", "--rm", "--volumes-from", "no-such-ctr", "busybox", "true"])).stderr, "tsbox: no such container: no-such-ctr\n");
      await cli(["rm", "-v", "vf-src"]);
      await cli(["volume", "rm", "vf-named"]);
      // docker's data-container idiom, removed the other way round: the anonymous volume stays anonymous in the
      // container that took it, so the last `rm -v` removes it (before, it was kept for good as a named one).
      const before = (await cli(["volume", "ls", "-q"])).stdout;
      await cli(["create", "--name", "vf-store", "-v", "/data", "busybox", "true"]);
      await cli(["create", "--name", "vf-user", "--volumes-from", "vf-store", "busybox", "true"]);
      const anon = (await cli(["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "vf-store"])).stdout.trim();
      await cli(["rm", "-v", "vf-store"]);
      assert.match((await cli(["volume", "ls", "-q"])).stdout, new RegExp(`^${anon}$`, "m"), "kept while vf-user uses it");
      await cli(["rm", "-v", "vf-user"]);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, before);
    });

    it("an image's VOLUMEs get anonymous volumes filled from the image (or tmpfs, or none); a -v at the path wins", async () => {
      // The build writes under the VOLUME path after declaring it: kept in the image (BuildKit's rule).
      const built = await tsbox(who, ["build", "-q", "-t", "withvol", "-"], { stdin: "FROM busybox\nRUN mkdir /data && echo seed > /data/seed && ln /data/seed /data/hard\nVOLUME /data\nRUN echo after > /data/after\n", timeoutMs: 60_000 });
      assert.equal(built.code, 0, built.stderr);
      await cli(["run", "--name", "db", "--read-only", "withvol", "sh", "-c", "cat /data/seed /data/after; echo mine > /data/mine"]);
      const mounts = (await cli(["inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Destination}} {{.Name}}{{end}}", "db"])).stdout.trim();
      const volume = /^volume \/data ([0-9a-f]{64})$/.exec(mounts)?.[1];
      assert.ok(volume, mounts);
      assert.equal(readFileSync(join(who.dataDir, "volumes", volume, "_data", "mine"), "utf8"), "mine\n", "written to the volume, though the root is read-only");
      assert.equal((await cli(["inspect", "-f", "{{json .Config.Volumes}}", "db"])).stdout.trim(), '{"/data":{}}');
      assert.equal((await cli(["diff", "db"])).stdout, "", "nothing in the container's own layer");
      await cli(["rm", "db"]);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, `${volume}\n`, "rm without -v leaves the anonymous volume");
      await cli(["run", "--rm", "withvol", "true"]);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, `${volume}\n`, "--rm removes its own");
      assert.equal((await cli(["run", "--rm", "-v", "mine:/data", "--read-only", "withvol", "sh", "-c", "cat /data/seed; grep -c ' /data ' /proc/mounts"])).stdout, "seed\n1\n", "a named volume there takes the place of the anonymous one");
      // The image's hard link stays one file of two names in the volume (it became two copies).
      const [seed, hard] = (await cli(["run", "--rm", "-v", "mine:/data", "withvol", "stat", "-c", "%i %h", "/data/seed", "/data/hard"])).stdout.trim().split("\n");
      assert.deepEqual([seed, seed?.endsWith(" 2")], [hard, true]);
      assert.match((await cli(["run", "--rm", "--image-volume", "tmpfs", "withvol", "sh", "-c", "ls /data; grep ' /data ' /proc/mounts"])).stdout, /^tmpfs \/data tmpfs /m);
      const ignored = await tsbox(who, ["run", "--rm", "--read-only", "--image-volume", "ignore", "withvol", "sh", "-c", "echo x > /data/x"]);
      assert.notEqual(ignored.code, 0, "ignored: /data is the read-only image's");
      assert.equal((await tsbox(who, ["run", "--rm", "--image-volume", "bogus", "withvol", "true"])).code, 125);
      await cli(["rmi", "withvol"]);
    });

    it("a filled volume keeps the image's owners, so the image's USER can write in its VOLUME (jenkins, grafana)", { skip: who.name === "single" && "one id: no user 1000 in its containers" }, async () => {
      const dockerfile = "FROM busybox\nRUN mkdir -p /home/app/data/cache && echo seed > /home/app/data/seed && chown -R 1000:1000 /home/app/data\nVOLUME /home/app/data\nUSER 1000\n";
      const built = await tsbox(who, ["build", "-q", "-t", "uservol", "-"], { stdin: dockerfile, timeoutMs: 60_000 });
      assert.equal(built.code, 0, built.stderr);
      const expected = "1000:1000 /home/app/data\n1000:1000 /home/app/data/cache\n1000:1000 /home/app/data/seed\nwrote\n";
      const script = "stat -c '%u:%g %n' /home/app/data /home/app/data/cache /home/app/data/seed && echo x > /home/app/data/cache/new && echo wrote";
      assert.equal((await cli(["run", "--rm", "-v", "appdata:/home/app/data", "uservol", "sh", "-c", script])).stdout, expected, "a named volume");
      assert.equal((await cli(["run", "--rm", "uservol", "sh", "-c", script])).stdout, expected, "the image's anonymous one");
      await cli(["rmi", "uservol"]);
    });

    it("a volume is filled with the files and directories only the image's user may read (rootless: in the user's namespace)", { skip: who.name === "single" && "one id: no user 1234 in its containers" }, async () => {
      // Before, rootless with subordinate ids: the 0600 file failed every run with EACCES (and a data-dir hint),
      // the 0750 directory became an empty volume, and each failed run left its anonymous volume behind.
      const dockerfile =
        "FROM busybox\nRUN mkdir -p /cfg/sub /b && echo secret > /cfg/key && echo deep > /cfg/sub/f && echo b > /b/f && chown -R 1234:1234 /cfg /b && chmod 600 /cfg/key && chmod 700 /cfg/sub && chmod 750 /b\nVOLUME /cfg\nUSER 1234\n";
      const built = await tsbox(who, ["build", "-q", "-t", "ownvol", "-"], { stdin: dockerfile, timeoutMs: 60_000 });
      assert.equal(built.code, 0, built.stderr);
      const script = "stat -c '%u:%g %a %n' /cfg /cfg/key /cfg/sub /cfg/sub/f /b /b/f && cat /cfg/key /cfg/sub/f /b/f";
      const expected = "1234:1234 755 /cfg\n1234:1234 600 /cfg/key\n1234:1234 700 /cfg/sub\n1234:1234 644 /cfg/sub/f\n1234:1234 750 /b\n1234:1234 644 /b/f\nsecret\ndeep\nb\n";
      assert.equal((await cli(["run", "--rm", "-v", "ownb:/b", "ownvol", "sh", "-c", script])).stdout, expected);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, "ownb\n", "the anonymous volume went with --rm");
      await cli(["volume", "rm", "ownb"]);
      await cli(["rmi", "ownvol"]);
    });

    it("a fill that cannot read what the image has fails naming the file and why, and leaves no volume", { skip: who.name !== "single" && "its fill reads as the container's root" }, async () => {
      // One id: the layers' files are the user's own, and the fill reads them as the user: a mode 000 file or
      // directory (root of the container reads it) is unreadable to the fill. Before: EACCES with the data-dir
      // hint and a leaked anonymous volume each run; the directory silently became an empty volume.
      const built = await tsbox(who, ["build", "-q", "-t", "lockedvol", "-"], { stdin: "FROM busybox\nRUN mkdir -p /cfg /d/in && echo s > /cfg/key && chmod 000 /cfg/key /d/in\nVOLUME /cfg\n", timeoutMs: 60_000 });
      assert.equal(built.code, 0, built.stderr);
      const file = await tsbox(who, ["run", "--rm", "lockedvol", "true"]);
      assert.equal(file.code, 125, file.stderr);
      assert.match(file.stderr, /^tsbox: cannot fill the volume at \/cfg from the image: \/cfg\/key \(uid 0, mode 0000 in the image\) is unreadable to this user outside its user namespace\n$/);
      const dir = await tsbox(who, ["run", "--rm", "--image-volume", "ignore", "-v", "dvol:/d", "lockedvol", "true"]);
      assert.equal(dir.code, 125, dir.stderr);
      assert.match(dir.stderr, /^tsbox: cannot fill the volume at \/d from the image: \/d\/in \(uid 0, mode 0000 in the image\) is unreadable to this user outside its user namespace\n$/);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, "dvol\n", "no anonymous volume left; the named one stays, empty");
      await cli(["volume", "rm", "dvol"]);
      await cli(["rmi", "lockedvol"]);
    });

    it("filling a volume never follows a symlink a container plants in it meanwhile", async () => {
      // The image has /data/d0…d149, each with a world-writable file; a running container with the same (empty)
      // volume swaps each dN for a symlink to a host dir the moment it appears (inotify + RENAME_EXCHANGE,
      // fixtures/volume-racer.c). The fill must touch nothing there.
      const marker = join(who.scratch, "host-marker");
      mkdirSync(marker, { recursive: true });
      writeFileSync(join(marker, "f"), "host\n", { mode: 0o600 });
      chownSync(marker, who.uid, who.gid);
      const dockerfile = "FROM busybox\nRUN for i in $(seq 0 149); do mkdir -p /data/d$i && for j in 1 2 3 4 5 6 7 8; do echo x > /data/d$i/f$j; done; chmod 666 /data/d$i/*; done\n";
      const built = await tsbox(who, ["build", "-q", "-t", "manydirs", "-"], { stdin: dockerfile, timeoutMs: 60_000 });
      assert.equal(built.code, 0, built.stderr);
      await cli(["volume", "create", "raced"]);
      const racer = join(who.scratch, "volume-racer");
      execFileSync("gcc", ["-static", "-O2", "-o", racer, fileURLToPath(new URL("fixtures/volume-racer.c", import.meta.url))]);
      chownSync(racer, who.uid, who.gid);
      await cli(["run", "-d", "--name", "racer", "-v", "raced:/vol", "-v", `${racer}:/racer:ro`, "busybox", "/racer", marker]);
      for (let i = 0; i < 100 && !(await cli(["logs", "racer"])).stdout.includes("ready"); i++) await new Promise((r) => setTimeout(r, 50));
      await cli(["run", "--rm", "-v", "raced:/data", "manydirs", "true"]);
      assert.deepEqual(readdirSync(marker), ["f"], "nothing written into the host dir");
      assert.match((await cli(["logs", "racer"])).stdout, /^ready\n/);
      assert.equal(statSync(join(marker, "f")).mode & 0o777, 0o600, "nor its file's mode changed");
      assert.equal(readFileSync(join(marker, "f"), "utf8"), "host\n");
      await cli(["rm", "-f", "racer"]);
      await cli(["volume", "rm", "raced"]);
      await cli(["rmi", "manydirs"]);
    });

    it("nothing but the kernel's procfs goes on /proc: an image's VOLUME /proc, a bind or tmpfs over /proc/sys (runc's rule)", async () => {
      const hostile = await tsbox(who, ["build", "-q", "-t", "procvol", "-"], { stdin: "FROM busybox\nVOLUME /proc\n", timeoutMs: 60_000 });
      assert.equal(hostile.code, 0, hostile.stderr);
      for (const args of [["procvol", "true"], ["-v", `${who.scratch}:/proc/sys`, "busybox", "true"], ["--tmpfs", "/proc/sys/kernel", "busybox", "true"]]) {
        const r = await tsbox(who, ["run", "--rm", ...args]);
        assert.equal(r.code, 125, args.join(" "));
        assert.match(r.stderr, /^tsbox: cannot mount \S+ on \/proc(\/sys(\/kernel)?)?: only the kernel's \/proc goes there/, args.join(" "));
      }
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, "", "the refused run's anonymous volume went with it");
      // runc's list of /proc files a bind may replace (lxcfs' per-container views).
      const cpuinfo = join(who.scratch, "cpuinfo");
      writeFileSync(cpuinfo, "processor : 0\n");
      assert.equal((await cli(["run", "--rm", "-v", `${cpuinfo}:/proc/cpuinfo:ro`, "busybox", "cat", "/proc/cpuinfo"])).stdout, "processor : 0\n");
      await cli(["rmi", "procvol"]);
    });

    it("a volume holding files of other container users is still removed", async () => {
      // Rootless with subordinate ids, uid 1000 in the container is a subuid the user cannot delete files of.
      const chown = who.name === "single" ? "true" : "chown -R 1000:1000 /d/x && chmod 700 /d/x";
      await cli(["run", "--rm", "-v", "owned:/d", "busybox", "sh", "-c", `mkdir -p /d/x/y && echo s > /d/x/y/f && ${chown}`]);
      await cli(["volume", "rm", "owned"]);
      assert.ok(!existsSync(join(who.dataDir, "volumes", "owned")));
    });

    it("a volume whose record was deleted (rm -rf of the volumes leaves files of other ids) is still a volume: listed, reused, pruned", async () => {
      // Before, `volume create` and `run -v` of its name failed with a raw ENOTEMPTY, and nothing listed or removed it.
      const volumes = join(who.dataDir, "volumes");
      const chown = who.name === "single" ? "true" : "chown -R 1000:1000 /d/x && chmod 700 /d/x";
      await cli(["run", "--rm", "-v", "kept:/d", "busybox", "sh", "-c", `mkdir -p /d/x/y && echo s > /d/x/y/f && echo t > /d/top && ${chown}`]);
      // What the user's own `rm -rf` of the volumes leaves (as root, or for one id, nothing: that too is checked).
      spawnSync("rm", ["-rf", volumes], { uid: who.uid, gid: who.gid });
      const left = existsSync(join(volumes, "kept", "_data"));
      assert.equal(left, who.name === "user", "only subordinate ids' files stay");
      assert.equal(existsSync(join(volumes, "kept", "volume.json")), false);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, left ? "kept\n" : "");
      assert.equal((await cli(["volume", "create", "kept"])).stdout, "kept\n");
      assert.equal((await cli(["run", "--rm", "-v", "kept:/d", "busybox", "sh", "-c", "cat /d/x/y/f 2>&1; ls /d"])).stdout, left ? "s\nx\n" : "cat: can't open '/d/x/y/f': No such file or directory\n");
      await cli(["volume", "prune", "-a", "-f"]);
      assert.deepEqual(readdirSync(volumes).filter((e) => e !== ".lock"), [], "prune -a took it, files of other ids too");
      // A directory there that is no volume at all: refused, naming it, not an errno.
      mkdirSync(join(volumes, "junk", "other"), { recursive: true });
      const junk = await tsbox(who, ["volume", "create", "junk"]);
      assert.deepEqual([junk.code, junk.stderr], [1, `tsbox: create junk: ${join(volumes, "junk")} is in the way: it is no volume (no _data directory in it); move or delete it\n`]);
      rmSync(join(volumes, "junk"), { recursive: true });
    });

    it("volume rm interrupted: SIGTERM lets it finish; what a killed one left goes with volume prune and system prune", async () => {
      // Before, the volume's files stayed hidden in volumes/.rm-<hex> for good: no prune removed them, df counted them nowhere.
      const volumes = join(who.dataDir, "volumes");
      // The signal must land between the rename and the end of the delete: watched for until the rm ends, and
      // tried again when it ended first (a loaded machine, a fast file system).
      let result: Awaited<ReturnType<typeof tsbox>> | undefined;
      for (let attempt = 0; attempt < 5 && !result; attempt++) {
        await cli(["run", "--rm", "-v", "big:/v", "busybox", "sh", "-c", "i=0; while [ $i -lt 4000 ]; do echo $i > /v/f$i; i=$((i+1)); done"]);
        let pid = 0;
        let ended = false;
        const rm = tsbox(who, ["volume", "rm", "big"], { onSpawn: (p) => (pid = p) });
        void rm.finally(() => (ended = true));
        let seen = false;
        while (!seen && !ended) {
          seen = readdirSync(volumes).some((e) => e.startsWith(".rm-"));
          if (!seen) await new Promise((r) => setImmediate(r));
        }
        try {
          if (seen) process.kill(pid, "SIGTERM");
        } catch {
          seen = false; // it had just ended
        }
        const done = await rm;
        if (seen) result = done;
      }
      assert.ok(result, "caught the volume renamed aside in one of five tries");
      assert.equal(result.signal, "SIGTERM", "it still dies of the signal");
      assert.deepEqual(readdirSync(volumes).filter((e) => e.startsWith(".") && e !== ".lock"), [], "the volume's files went");
      // A SIGKILLed one (its pid gone), a killed create, and one a tsbox before stop 43 left (no pid in its name).
      const dead = execFileSync("sh", ["-c", "sh -c 'echo $$'"], { encoding: "utf8" }).trim();
      // And a run killed while it filled a new volume from the image: its copy beside the volume's _data (before,
      // no prune took it, nor did df count it).
      await cli(["volume", "create", "filling"]);
      const leftovers = (extra: string) => {
        const fills = [`.fill-${dead}-abcdef${extra}`, `.fill-kHKx2${extra}`].map((n) => join(volumes, "filling", n));
        const dirs = [`.rm-${dead}-0a1b2c3d4e5f6a7b${extra}`, `.new-${dead}-0a1b2c3d${extra}`, `.rm-0a1b2c3d4e5f6a${extra}b`].map((n) => join(volumes, n)).concat(fills);
        for (const dir of dirs) {
          mkdirSync(join(dir, "_data"), { recursive: true });
          writeFileSync(join(dir, "_data", "f"), "x".repeat(5000));
          for (const path of [dir, join(dir, "_data"), join(dir, "_data", "f")]) chownSync(path, who.uid, who.gid);
        }
        return dirs;
      };
      const live = join(volumes, `.rm-${process.pid}-0a1b2c3d4e5f6a7b`);
      const liveFill = join(volumes, "filling", `.fill-${process.pid}-abcdef`);
      for (const dir of [live, liveFill]) {
        mkdirSync(dir);
        chownSync(dir, who.uid, who.gid);
      }
      const first = leftovers("0");
      assert.match((await cli(["system", "df"])).stdout, /^Local Volumes +1 +0 +25kB +25kB /m);
      assert.match((await cli(["volume", "prune", "-f"])).stdout, /^Total reclaimed space: 25kB\n$/);
      for (const dir of first) assert.equal(existsSync(dir), false, `left: ${dir}`);
      const second = leftovers("1");
      await cli(["system", "prune", "-f"]);
      for (const dir of second) assert.equal(existsSync(dir), false, `left: ${dir}`);
      assert.ok(existsSync(live) && existsSync(liveFill), "a live process's stay");
      execFileSync("rmdir", [live, liveFill]);
      assert.deepEqual(readdirSync(join(volumes, "filling")).sort(), ["_data", "volume.json"]);
      await cli(["volume", "rm", "filling"]);
    });

    it("docker's local driver options: a volume bound to a host directory, a tmpfs volume (volume create -o, --mount volume-opt); others refused", async () => {
      const host = join(who.scratch, `bound-${Math.random().toString(16).slice(2)}`);
      mkdirSync(host);
      if (who.uid !== 0) chownSync(host, who.uid, who.gid);
      const bind = `volume-opt=type=none,volume-opt=o=bind,volume-opt=device=${host}`;
      // --mount: the volume is made with them, and the data lands in the host directory.
      await cli(["run", "--rm", "--mount", `type=volume,src=bound,dst=/v,${bind}`, "busybox", "sh", "-c", "echo important > /v/file"]);
      assert.equal(readFileSync(join(host, "file"), "utf8"), "important\n");
      assert.equal((await cli(["volume", "inspect", "-f", "{{.Mountpoint}} {{json .Options}}", "bound"])).stdout, `${host} {"device":"${host}","o":"bind","type":"none"}\n`);
      // volume create -o: the same, kept in its record; -v uses it as it is.
      await cli(["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", `device=${host}`, "bound2"]);
      assert.equal((await cli(["run", "--rm", "-v", "bound2:/w", "busybox", "cat", "/w/file"])).stdout, "important\n");
      // Removing the volumes leaves the host directory's files.
      await cli(["volume", "rm", "bound", "bound2"]);
      assert.equal(readFileSync(join(host, "file"), "utf8"), "important\n");
      // A tmpfs volume: a tmpfs with its options in the container, nothing in the data directory.
      await cli(["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,mode=1770", "tv"]);
      assert.equal((await cli(["volume", "inspect", "-f", "{{json .Options}}", "tv"])).stdout, '{"device":"tmpfs","o":"size=1m,mode=1770","type":"tmpfs"}\n');
      const t = await cli(["run", "--rm", "-v", "tv:/t", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts | cut -d' ' -f3; stat -c %a /t; echo x > /t/f"]);
      assert.equal(t.stdout, "tmpfs\n1770\n");
      assert.deepEqual(readdirSync(join(who.dataDir, "volumes", "tv", "_data")), []);
      const tm = await cli(["run", "--rm", "--mount", "type=volume,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts | cut -d' ' -f3-4"]);
      assert.match(tm.stdout, /^tmpfs rw,.*size=2048k/);
      // An existing volume asked for with other options is an error, not silently the old one.
      const other = await tsbox(who, ["run", "--rm", "--mount", "type=volume,src=tv,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs", "busybox", "true"]);
      assert.deepEqual([other.code, other.stderr], [125, "tsbox: volume tv already exists with options device=tmpfs,o=size=1m,mode=1770,type=tmpfs, not device=tmpfs,type=tmpfs: remove it first, or use it without options\n"]);
      // What tsbox cannot apply is refused the same way in both places; a bound directory must exist (docker's rule).
      const nfs = "tsbox: invalid volume options (device=:/x,type=nfs): type=nfs is not supported; tsbox's local driver takes type=none,o=bind,device=DIR (a host directory) or type=tmpfs,device=tmpfs[,o=size=…,mode=…,uid=…,gid=…]\n";
      for (const args of [["volume", "create", "-o", "type=nfs", "-o", "device=:/x", "nf"], ["run", "--rm", "--mount", "type=volume,src=nf,dst=/n,volume-opt=type=nfs,volume-opt=device=:/x", "busybox", "true"]]) {
        assert.deepEqual(await tsbox(who, args).then((r) => [r.code, r.stderr]), [125, nfs], args.join(" "));
      }
      const missing = await tsbox(who, ["run", "--rm", "--mount", `type=volume,src=gone,dst=/g,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=${host}-not-there`, "busybox", "true"]);
      assert.equal(missing.code, 125);
      assert.match(missing.stderr, /^tsbox: error while mounting volume gone: its device \S+-not-there is not an existing directory/);
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, "gone\ntv\n", "only the ones asked for well (docker keeps one whose mount failed)");
    });

    it("labels and driver options: one K=V rule for volume create, run and --mount (docker refuses a label with no name)", async () => {
      for (const [args, message] of [
        [["volume", "create", "--label", "=x", "lv"], 'tsbox: invalid label "=x": empty name\n'],
        [["volume", "create", "-l", "=", "lv"], 'tsbox: invalid label "=": empty name\n'],
        [["run", "--rm", "--label", "=x", "busybox", "true"], 'tsbox: invalid label "=x": empty name\n'],
        [["run", "--rm", "--mount", "type=volume,src=lv,dst=/v,volume-label==x", "busybox", "true"], 'tsbox: invalid label "=x": empty name\n'],
        [["volume", "create", "-o", "=x", "lv"], 'tsbox: invalid option "=x" for -o: expected KEY=VALUE (e.g. type=tmpfs)\n'],
        [["run", "--rm", "--mount", "type=volume,src=lv,dst=/v,volume-opt==x", "busybox", "true"], "tsbox: invalid --mount type=volume,src=lv,dst=/v,volume-opt==x: volume-opt needs K=V\n"],
      ] as const) {
        assert.deepEqual(await tsbox(who, [...args]).then((r) => [r.code, r.stderr]), [125, message], args.join(" "));
      }
      assert.equal((await cli(["volume", "ls", "-q"])).stdout, "", "nothing was made");
      await cli(["volume", "create", "-l", "team", "-l", "a=b=c", "lv"]);
      assert.equal((await cli(["volume", "inspect", "-f", "[{{.Labels.team}}] [{{.Labels.a}}]", "lv"])).stdout, "[] [b=c]\n");
      await cli(["volume", "rm", "lv"]);
    });

    it("--mount volume/bind/tmpfs and --tmpfs", async () => {
      const r = await cli([
        "run", "--rm",
        "--mount", "type=volume,source=m1,target=/m1,volume-label=team=x",
        "--mount", "type=volume,src=m2,dst=/etc,volume-nocopy,readonly",
        "--mount", `type=bind,source=${who.scratch},target=/host,readonly`,
        // (tmpfs-mode with a leading 0, as docker's strconv takes it: before, "must be octal")
        "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=01770",
        "--tmpfs", "/run:size=2m",
        "busybox", "sh", "-c",
        "ls -A /etc | wc -l; touch /m1/ok && echo m1-rw; touch /host/x 2>/dev/null || echo host-ro; " +
          "grep -E ' /(t|run) ' /proc/mounts | cut -d' ' -f2-4 | sort; stat -c %a /t",
      ]);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines[0], "0", "volume-nocopy leaves the new volume empty");
      assert.deepEqual(lines.slice(1, 3), ["m1-rw", "host-ro"]);
      assert.match(lines[3]!, /^\/run tmpfs rw,nosuid,nodev,noexec,.*size=2048k/);
      assert.match(lines[4]!, /^\/t tmpfs rw,nosuid,nodev,.*size=1024k/);
      assert.equal(lines[5], "1770");
      assert.equal((await cli(["volume", "inspect", "-f", "{{.Labels.team}}", "m1"])).stdout, "x\n");
      // docker 23+: a relative bind source is from the current directory (the CLI's: here the identity's scratch dir).
      writeFileSync(join(who.scratch, "rel-marker"), "rel\n");
      const rel = await cli(["run", "--rm", "--mount", "type=bind,src=.,dst=/here,readonly", "--mount", "type=bind,source=./rel-marker,target=/m", "busybox", "cat", "/here/rel-marker", "/m"]);
      assert.equal(rel.stdout, "rel\nrel\n");
      const dup = await tsbox(who, ["run", "--rm", "-v", "a:/x", "--tmpfs", "/x", "busybox", "true"]);
      assert.equal(dup.code, 125);
      assert.match(dup.stderr, /^tsbox: Duplicate mount point: \/x\n$/);
      // A bad tmpfs option is named, not the kernel's bare "Invalid argument".
      for (const [option, why] of [["size=abc", "size takes bytes"], ["bogus", "not a tmpfs option"], ["mode=999", "mode takes octal"]]) {
        const r = await tsbox(who, ["run", "--rm", "--tmpfs", `/t:${option}`, "busybox", "true"]);
        assert.ok(r.stderr.startsWith(`tsbox: invalid tmpfs option "${option}" in --tmpfs /t:${option}: ${why}`), r.stderr);
        assert.equal(r.stderr.split("\n").length, 2, r.stderr);
        assert.equal(r.code, 125);
      }
      const bad = await tsbox(who, ["run", "--rm", "-v", "no/such:/x", "busybox", "true"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /host path no\/such must be absolute/);
    });

    // The host mounts below a bind's source are made by the test (root) and unmounted before the leak check.
    const hostMounts = process.getuid!() === 0 ? false : "the host mounts below a source need root";
    const mount = (...args: string[]) => execFileSync("mount", args);
    const unmountAll = (dirs: string[]) => dirs.reverse().forEach((d) => spawnSync("umount", ["-l", d]));

    it("a read-only bind is read-only with every mount below its source (docker 25's rro); bind-recursive as docker's", { skip: hostMounts }, async () => {
      const src = join(who.scratch, "rro");
      mkdirSync(join(src, "sub"), { recursive: true });
      mount("-t", "tmpfs", "-o", `size=1m,uid=${who.uid},gid=${who.gid}`, "tmpfs", join(src, "sub"));
      try {
        const write = "touch /p/sub/x 2>&1 | sed 's/.*: //'; touch /p/top 2>&1 | sed 's/.*: //'";
        // Before: the top read-only, the tmpfs below it written on the host.
        // (`-v …:rro`, docker 25's short form of bind-recursive=readonly: before, refused as an unknown option.)
        for (const how of [["-v", `${src}:/p:ro`], ["-v", `${src}:/p:rro`], ["--mount", `type=bind,src=${src},dst=/p,readonly`], ["--mount", `type=bind,src=${src},dst=/p,readonly,bind-recursive=readonly,bind-propagation=rprivate`]]) {
          assert.equal((await cli(["run", "--rm", ...how, "busybox", "sh", "-c", write])).stdout, "Read-only file system\nRead-only file system\n", how.join(" "));
        }
        assert.deepEqual(readdirSync(join(src, "sub")), []);
        // docker 24's read-only bind, asked for: the mounts below stay writable.
        const writable = await cli(["run", "--rm", "--mount", `type=bind,src=${src},dst=/p,readonly,bind-recursive=writable`, "busybox", "sh", "-c", write]);
        assert.equal(writable.stdout, "Read-only file system\n");
        assert.deepEqual(readdirSync(join(src, "sub")), ["x"]);
        for (const [option, message] of [
          ["bind-recursive=bogus", 'invalid value for bind-recursive: bogus (must be "enabled", "disabled", "writable", or "readonly")'],
          ["bind-recursive=writable", "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"],
          ["readonly,bind-recursive=readonly", "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction"],
        ]) {
          const r = await tsbox(who, ["run", "--rm", "--mount", `type=bind,src=${src},dst=/p,${option}`, "busybox", "true"]);
          assert.equal(r.code, 125, r.stderr);
          assert.ok(r.stderr.endsWith(`: ${message}\n`), r.stderr);
        }
        // docker's invalid mode: one option of each kind (before, `ro,rw` gave a writable bind: the last won).
        const conflicting = await tsbox(who, ["run", "--rm", "-v", `${src}:/p:ro,rw`, "busybox", "true"]);
        assert.deepEqual([conflicting.code, conflicting.stderr.split("\n").length], [125, 2], conflicting.stderr);
        assert.match(conflicting.stderr, /^tsbox: invalid volume \S+: invalid mode: ro,rw \(at most one option of each kind: /);
      } finally {
        unmountAll([join(src, "sub")]);
      }
    });

    it("bind propagation: rslave gets the host's later mounts, nothing mounted in the container reaches the host, a private source is refused (docker's words)", { skip: hostMounts }, async () => {
      const shared = join(who.scratch, "shared");
      const quiet = join(who.scratch, "private");
      mkdirSync(join(shared, "later"), { recursive: true });
      mkdirSync(join(shared, "inner"), { recursive: true });
      mkdirSync(quiet, { recursive: true });
      // A systemd host's mounts are shared; this one's are private: make one of each.
      mount("--bind", shared, shared);
      mount("--make-shared", shared);
      mount("--bind", quiet, quiet);
      mount("--make-private", quiet);
      const mounted: string[] = [shared, quiet];
      try {
        await cli(["run", "-d", "--name", "slave", "-v", `${shared}:/p:rslave`, "busybox", "sleep", "600"]);
        await cli(["run", "-d", "--name", "plain", "-v", `${shared}:/p`, "busybox", "sleep", "600"]);
        mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", join(shared, "later"));
        mounted.push(join(shared, "later"));
        writeFileSync(join(shared, "later", "marker"), "from the host\n");
        assert.equal((await cli(["exec", "slave", "cat", "/p/later/marker"])).stdout, "from the host\n");
        assert.deepEqual(JSON.parse((await cli(["inspect", "-f", "{{json .HostConfig.Binds}}", "slave"])).stdout), [`${shared}:/p:rslave`]);
        // A plain bind is rprivate, as docker's: it does not get them.
        assert.equal((await cli(["exec", "plain", "ls", "/p/later"])).stdout, "");

        // Mounted in the container, under a shared bind even: never on the host (docker's rshared would propagate it).
        const inside = await cli(["run", "--rm", "--privileged", "-v", `${shared}:/p:rshared`, "busybox", "sh", "-c", "mount -t tmpfs tmpfs /p/inner && touch /p/inner/x && grep -c ' /p/inner ' /proc/self/mountinfo"]);
        assert.equal(inside.stdout, "1\n");
        assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(join(shared, "inner")), "the container's mount is not the host's");
        assert.deepEqual(readdirSync(join(shared, "inner")), []);

        for (const [mode, kind] of [["rslave", "shared or slave"], ["slave", "shared or slave"], ["rshared", "shared"], ["shared", "shared"]]) {
          const r = await tsbox(who, ["run", "--rm", "-v", `${quiet}:/p:${mode}`, "busybox", "true"]);
          assert.equal(r.code, 125, r.stderr);
          assert.ok(r.stderr.endsWith(`: path ${quiet} is mounted on ${quiet} but it is not a ${kind} mount\n`), r.stderr);
        }
        await cli(["rm", "-f", "slave", "plain"]);
      } finally {
        unmountAll(mounted);
      }
    });
  });
}
