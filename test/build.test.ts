/**
 * `tsbox build`: real Dockerfiles built into the store and run, as root and
 * as the unprivileged users — stages, ARG/ENV substitution, WORKDIR, COPY's
 * rules (directories, wildcards, .dockerignore, --from, --chown), ADD's
 * archives, RUN's layer with its deletions, the cache, a Dockerfile on
 * stdin, the library API — and what a docker user or a hostile context may
 * throw at it: unknown instructions, failing RUNs, `..` and symlinks out of
 * the context. Every case ends with the leak check.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { createServer } from "node:http";
import { freeBadPort } from "./helpers/registry.js";
import { identities, cleanupIdentities, notAsSingle, type Identity } from "./helpers/identities.js";
import { type CliResult, cliPath, repoRoot, signalSpawned, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { removeContainersAndVolumes, tsboxExpect } from "./helpers/cli-cases.js";
import { TarWriter } from "../src/image/tar-writer.js";
import { readTar } from "../src/image/tar.js";
import { removeStaticTools, staticToolDir } from "./helpers/static-tool.js";
import { secprobeDir } from "./helpers/secprobe.js";
import { holdLock } from "./helpers/hold-lock.js";
import { missingBlobs } from "./helpers/missing-blobs.js";

after(cleanupIdentities);
after(removeStaticTools);

/** A context directory of `files` (path → content; a `{ link }` makes a symlink), owned by `who`. */
function context(who: Identity, name: string, files: Record<string, string | { link: string } | Buffer>): string {
  const dir = join(who.scratch, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    if (typeof content === "object" && !Buffer.isBuffer(content)) symlinkSync(content.link, full);
    else writeFileSync(full, content);
  }
  execFileSync("chown", ["-R", "-h", `${who.uid}:${who.gid}`, dir]);
  return dir;
}

/** The owner (`uid/gid`) `path` has in the newest layer of `image` that holds it, read from `tsbox save`. */
async function layerOwner(who: Identity, image: string, path: string): Promise<string> {
  const dir = join(who.scratch, `saved-${Date.now()}`);
  mkdirSync(dir);
  execFileSync("chown", [`${who.uid}:${who.gid}`, dir]);
  const saved = await tsbox(who, ["save", "-o", join(dir, "image.tar"), image]);
  assert.equal(saved.code, 0, saved.stderr);
  execFileSync("tar", ["-xf", join(dir, "image.tar"), "-C", dir]);
  const manifest = JSON.parse(execFileSync("tar", ["-xOf", join(dir, "image.tar"), "manifest.json"], { encoding: "utf8" })) as { Layers: string[] }[];
  let owner = "";
  for (const layer of manifest[0]!.Layers) {
    const listing = execFileSync("tar", ["-tvzf", join(dir, layer)], { encoding: "utf8" });
    const line = listing.split("\n").find((l) => l.endsWith(` ${path}`));
    if (line) owner = line.split(/\s+/)[1]!;
  }
  rmSync(dir, { recursive: true, force: true });
  return owner;
}

/** The pax records `path` has in the newest layer of `image` that holds it, read from `tsbox save`. */
async function layerPax(who: Identity, image: string, path: string): Promise<Record<string, string>> {
  const dir = join(who.scratch, `saved-${Date.now()}`);
  mkdirSync(dir);
  execFileSync("chown", [`${who.uid}:${who.gid}`, dir]);
  const saved = await tsbox(who, ["save", "-o", join(dir, "image.tar"), image]);
  assert.equal(saved.code, 0, saved.stderr);
  const manifest = JSON.parse(execFileSync("tar", ["-xOf", join(dir, "image.tar"), "manifest.json"], { encoding: "utf8" })) as { Layers: string[] }[];
  let found: Record<string, string> = {};
  for (const layer of manifest[0]!.Layers) {
    const bytes = execFileSync("tar", ["-xOf", join(dir, "image.tar"), layer], { maxBuffer: 1 << 30 });
    const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
    for await (const e of readTar((async function* () { yield plain; })())) {
      if (e.path === path) found = e.pax;
      for await (const _ of e.body);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return found;
}

const MULTI_STAGE = `# syntax=docker/dockerfile:1
# escape=\\
ARG BASE=busybox
FROM $BASE AS build
ARG GREETING=hello
ENV APP_HOME=/srv/app \\
    MODE=prod
WORKDIR $APP_HOME
COPY src/ ./src/
COPY *.txt notes/
RUN echo "$GREETING from $MODE" > greeting && ls src > listing

FROM busybox
LABEL org.example.stage=final "org.example.two words"="a value"
COPY --from=build /srv/app /app
COPY --chown=@ID@:@ID@ owned.txt /home/owned.txt
RUN rm /bin/ls
WORKDIR /app
USER @ID@
EXPOSE 8080/tcp 53/udp
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat greeting listing; echo notes/*; stat -c %u:%g /home/owned.txt; id -u; test -e /bin/ls || echo no-ls; test -e src/secret.key || echo no-key; echo $APP_HOME."]
`;

for (const who of identities()) {
  describe(`build as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      await removeContainersAndVolumes(who);
      await assertNoLeaks(snap, [who]);
    });
    const cli = (args: string[], opts: { stdin?: string; expect?: number } = {}) => tsboxExpect(who, args, opts);
    const build = (args: string[], opts: { stdin?: string | Buffer; env?: Record<string, string> } = {}) => tsbox(who, ["build", ...args], { timeoutMs: 120_000, ...opts });
    // The single-id user's containers have one id, 0: the files and the user are its.
    const id = who.name === "single" ? 0 : 1000;

    it("a Dockerfile's own NAME.dockerignore wins over the context's .dockerignore", async () => {
      const ctx = context(who, "own-ignore", {
        "app.Dockerfile": "FROM busybox\nCOPY . /c\nCMD ls /c\n",
        "app.Dockerfile.dockerignore": "a\n",
        ".dockerignore": "b\n",
        a: "a",
        b: "b",
      });
      const r = await build(["-t", "own-ignore:1", "-f", join(ctx, "app.Dockerfile"), ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await cli(["run", "--rm", "own-ignore:1"])).stdout.trim().split("\n").filter((f) => f === "a" || f === "b"), ["b"]);
      await cli(["rmi", "own-ignore:1"]);
    });

    it("COPY of a context holding names that are not UTF-8 (and a wildcard's match of one) keeps their bytes, and the cache tells two such names apart", async () => {
      // Before: the context walk read names as text (U+FFFD) and failed on them with ENOENT; and two such names hashed alike for the cache.
      const ctx = context(who, "raw-names", { Dockerfile: "FROM busybox\nCOPY . /c\nCOPY r* /g/\nCMD cd /c && find . -print0 | sort -z; cd /g && find . -print0 | sort -z; readlink /c/l*\n" });
      const at = (name: string) => Buffer.from(`${ctx}/${name}`, "latin1");
      mkdirSync(at("r\xe9"));
      writeFileSync(at("r\xe9/f\xff"), "x");
      // A .dockerignore pattern of such bytes matches them.
      writeFileSync(at("r\xe9/ignored\xfc"), "x");
      writeFileSync(at(".dockerignore"), Buffer.from("r\xe9/ignored\xfc\n.dockerignore\n", "latin1"));
      symlinkSync(Buffer.from("t\xfd", "latin1"), at("l\x80"));
      execFileSync("chown", ["-R", "-h", `${who.uid}:${who.gid}`, ctx]);
      const listing = async () => {
        const r = await tsbox(who, [], { argv: ["/bin/sh", "-c", `${process.execPath} ${cliPath} run --rm raw-names:1 | od -An -v -tx1 | tr -d ' \\n'`] });
        return Buffer.from(r.stdout, "hex").toString("latin1");
      };
      const expected = (f: string) => `.\0./Dockerfile\0./l\x80\0./r\xe9\0./r\xe9/${f}\0.\0./${f}\0t\xfd\n`;
      assert.equal((await build(["-t", "raw-names:1", ctx])).code, 0);
      assert.equal(await listing(), expected("f\xff"));
      const first = (await cli(["inspect", "-f", "{{.Id}}", "raw-names:1"])).stdout.trim();
      renameSync(at("r\xe9/f\xff"), at("r\xe9/f\xfe"));
      const again = await build(["-t", "raw-names:1", ctx]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await listing(), expected("f\xfe"), "a new name, not the cached layer of the old one");
      await cli(["rmi", "raw-names:1", first]);
    });

    it("COPY --from follows a symlink named as the source (a file, a directory, an image's /bin/true) and keeps the links below it", async () => {
      const ctx = context(who, "links", {
        Dockerfile: [
          "FROM busybox AS a",
          "RUN mkdir /realdir && echo content > /realdir/file && ln -s file /realdir/inner && ln -s realdir /linkdir && ln -s /realdir/file /linkfile",
          "FROM busybox",
          "COPY --from=a /linkfile /copied-file",
          "COPY --from=a /linkdir /copied-dir",
          "COPY --from=busybox /bin/true /copied-true",
          'CMD cat /copied-file /copied-dir/file; readlink /copied-dir/inner; [ -L /copied-file ] || echo file; [ -s /copied-true ] && [ ! -L /copied-true ] && echo busybox',
        ].join("\n") + "\n",
      });
      const r = await build(["-t", "links:1", ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await cli(["run", "--rm", "links:1"])).stdout, "content\ncontent\nfile\nfile\nbusybox\n");
      await cli(["rmi", "links:1"]);
      // A link to nothing there is a source not found (BuildKit's error), not an empty copy.
      const dangling = context(who, "dangling", { Dockerfile: "FROM busybox AS a\nRUN ln -s /nonexistent /link\nFROM busybox\nCOPY --from=a /link /x\n" });
      const failed = await build(["-t", "dangling:1", dangling]);
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, /^tsbox: line 4: \/link: not found in a \(a symlink to \/nonexistent there\)$/m);
    });

    it("COPY --from's cache key has its sources, --chown and --chmod as expanded: a changed --build-arg copies anew", async () => {
      const ctx = context(who, "from-args", {
        Dockerfile: [
          "FROM busybox AS build",
          "RUN mkdir /out && echo AAA > /out/a && echo BBB > /out/b",
          "FROM busybox",
          "ARG APP=a",
          "ARG OWNER=0",
          "ARG MODE=644",
          "COPY --from=build --chown=${OWNER} --chmod=${MODE} /out/${APP} /app",
          "CMD cat /app; stat -c '%u:%g %a' /app",
        ].join("\n") + "\n",
      });
      const first = await build(["-t", "from-args:1", ctx]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal((await cli(["run", "--rm", "from-args:1"])).stdout, "AAA\n0:0 644\n");
      // Before: the key was the instruction as written (`${APP}`), so this took the first build's layer.
      const changed = await build(["-t", "from-args:2", "--build-arg", "APP=b", "--build-arg", `OWNER=${id}`, "--build-arg", "MODE=600", ctx]);
      assert.equal(changed.code, 0, changed.stderr);
      assert.doesNotMatch(changed.stderr, /COPY --from=build .*\(cached\)/);
      assert.equal((await cli(["run", "--rm", "from-args:2"])).stdout, `BBB\n${id}:${id} 600\n`);
      const again = await build(["-t", "from-args:3", ctx]);
      assert.match(again.stderr, /COPY --from=build .*\(cached\)/, "the same values still find their layer");
      assert.equal((await cli(["inspect", "-f", "{{.Id}}", "from-args:3"])).stdout, (await cli(["inspect", "-f", "{{.Id}}", "from-args:1"])).stdout);
      await cli(["rmi", "from-args:1", "from-args:2", "from-args:3"]);
    });

    it("COPY --from keeps the owners and modes files have in the source stage or image (only --chown changes them); context files are root's", async () => {
      // The single-id user's containers have one id: its files can only be root's.
      const [a, b, c] = who.name === "single" ? [0, 0, 0] : [1000, 33, 7];
      const ctx = context(who, "from-owners", {
        Dockerfile: [
          "FROM busybox AS base",
          `RUN mkdir -p /srv/data/sub && echo x > /srv/data/f && echo y > /srv/data/sub/g && ln -s f /srv/data/l && chown -R -h ${a}:${a} /srv/data && echo z > /one && chown ${b}:${b} /one && chmod 0640 /one`,
          "FROM scratch AS bare",
          "COPY --from=base /one /one",
          "FROM busybox",
          "COPY --from=base /srv/data /data",
          "COPY --from=base /one /one",
          `COPY --from=base --chown=${c}:${c} /one /chowned`,
          "COPY --from=from-owners-base /one /from-image",
          "COPY ctx.txt /ctx.txt",
          "CMD stat -c '%n %u:%g %a' /data/f /data/sub /data/sub/g /one /chowned /from-image /ctx.txt; stat -c '%n %u:%g' /data/l",
        ].join("\n") + "\n",
        "ctx.txt": "c",
      });
      const base = await build(["-q", "--target", "base", "-t", "from-owners-base", ctx]);
      assert.equal(base.code, 0, base.stderr);
      const r = await build(["-q", "-t", "from-owners:1", ctx]);
      assert.equal(r.code, 0, r.stderr);
      // Before: every file copied from a stage or an image was 0:0.
      assert.equal((await cli(["run", "--rm", "from-owners:1"])).stdout, [
        `/data/f ${a}:${a} 644`,
        `/data/sub ${a}:${a} 755`,
        `/data/sub/g ${a}:${a} 644`,
        `/one ${b}:${b} 640`,
        `/chowned ${c}:${c} 640`,
        `/from-image ${b}:${b} 640`,
        "/ctx.txt 0:0 644",
        `/data/l ${a}:${a}`,
        "",
      ].join("\n"));
      // A FROM scratch stage's first COPY is its layer, written without a container: the same owners.
      const bare = await build(["-q", "--target", "bare", "-t", "from-owners-bare", ctx]);
      assert.equal(bare.code, 0, bare.stderr);
      assert.equal(await layerOwner(who, "from-owners-bare", "one"), `${b}/${b}`);
      await cli(["rmi", "from-owners:1", "from-owners-base", "from-owners-bare"]);
    });

    it("COPY --from with wildcards copies what matches in that stage's files (BuildKit's rules); no match, or several onto a non-directory, is refused", async () => {
      const stage = "FROM busybox AS b\nRUN mkdir -p /dist/sub /dist/dir.js && echo 1 > /dist/a.js && echo 2 > /dist/b.js && echo 3 > /dist/c.css && echo 4 > /dist/sub/d.js && echo 5 > /dist/dir.js/e && ln -s a.js /dist/l.js\nFROM busybox\n";
      const ctx = context(who, "from-glob", {
        Dockerfile: stage + [
          "COPY --from=b /dist/*.js /srv/",
          "COPY --from=b /d?st/s[t-v]b /sub/",
          "COPY --from=b /dist/*.css /one.css",
          "COPY --from=b /dist/*/*.js /deep/",
          "CMD cd / && find srv sub one.css deep | sort && cat srv/l.js && [ ! -L srv/l.js ] && echo followed",
        ].join("\n") + "\n",
      });
      const r = await build(["-t", "from-glob:1", ctx]);
      // Before: "wildcards in COPY --from are not supported by tsbox build".
      assert.equal(r.code, 0, r.stderr);
      // `*.js` matches the directory dir.js too, whose contents a directory source copies, and the link l.js, followed.
      assert.equal((await cli(["run", "--rm", "from-glob:1"])).stdout, [
        "deep", "deep/d.js", "one.css", "srv", "srv/a.js", "srv/b.js", "srv/e", "srv/l.js", "sub", "sub/d.js", "1", "followed", "",
      ].join("\n"));
      await cli(["rmi", "from-glob:1"]);
      const none = await build(["-q", "-"], { stdin: stage + "COPY --from=b /dist/*.txt /srv/\n" });
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^tsbox: line 4: no source files were specified: nothing in b matches \/dist\/\*\.txt$/m);
      const several = await build(["-q", "-"], { stdin: stage + "COPY --from=b /dist/[ab].js /srv\n" });
      assert.equal(several.code, 1);
      assert.match(several.stderr, /^tsbox: line 4: when using COPY with more than one source file, the destination must be a directory and end with a \/$/m);
    });

    it("builds a multi-stage Dockerfile — ARG, ENV, WORKDIR, COPY of directories and wildcards, .dockerignore, --from, --chown, RUN's deletions — and the image runs as built", async () => {
      const ctx = context(who, "app", {
        Dockerfile: MULTI_STAGE.replaceAll("@ID@", String(id)),
        ".dockerignore": "**/*.key\nignored/\n",
        "src/a.js": "a",
        "src/lib/b.js": "b",
        "src/secret.key": "k",
        "one.txt": "1",
        "two.txt": "2",
        "owned.txt": "mine",
        "ignored/x": "x",
      });
      const r = await build(["--build-arg", "GREETING=hi", "-t", "app:1", "-t", "app:latest", ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /\[1\/\d+\] FROM \$BASE AS build/);
      assert.match(r.stderr, /Successfully built [0-9a-f]{12}/);
      const run = await cli(["run", "--rm", "app:1"]);
      assert.equal(run.stdout, ["hi from prod", "a.js", "lib", "notes/one.txt notes/owned.txt notes/two.txt", `${id}:${id}`, String(id), "no-ls", "no-key", "."].join("\n") + "\n");
      assert.equal(await layerOwner(who, "app:1", "home/owned.txt"), `${id}/${id}`);
      const info = await cli(["inspect", "-f", "{{.Config.WorkingDir}}|{{.Config.User}}|{{json .Config.Entrypoint}}|{{index .Config.Labels \"org.example.stage\"}}|{{index .Config.Labels \"org.example.two words\"}}|{{json .Config.ExposedPorts}}|{{len .RootFS.Layers}}", "app:latest"]);
      assert.equal(info.stdout.trim(), `/app|${id}|["/bin/sh","-c"]|final|a value|{"53/udp":{},"8080/tcp":{}}|5`);
      // Both names are the same image; its history names every step, newest first.
      assert.equal((await cli(["inspect", "-f", "{{.Id}}", "app:1"])).stdout, (await cli(["inspect", "-f", "{{.Id}}", "app:latest"])).stdout);
      const history = (await cli(["history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "app:1"])).stdout.trim().split("\n");
      assert.match(history[0]!, /^sha256:[0-9a-f]{64}\|CMD \["cat greeting/);
      assert.ok(history.some((h) => h === "<missing>|RUN /bin/sh -c rm /bin/ls # tsbox build"), history.join("\n"));
      assert.ok(history.some((h) => h.startsWith(`<missing>|COPY --chown=${id}:${id} owned.txt /home/owned.txt`)), history.join("\n"));
      // The intermediate steps are not listed as images; only the names are.
      const names = (await cli(["images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout.trim().split("\n").sort();
      assert.deepEqual(names, ["app:1", "app:latest", "busybox:latest"]);
      await cli(["rmi", "app:1", "app:latest"]);
    });

    it("RUN rm -rf removes a directory from which an earlier step deleted a file (rootless whiteouts are 0/0 devices)", async () => {
      const ctx = context(who, "rm-lower", {
        Dockerfile: "FROM busybox\nRUN mkdir -p /etc/app && echo a > /etc/app/a && echo b > /etc/app/b\nRUN rm /etc/app/a\nRUN rm -rf /etc/app && echo removed\n" +
          // The step's upper dir becomes a layer, then goes: nothing syncs it when the step ends.
          "RUN grep ' / / ' /proc/self/mountinfo | grep -q volatile && echo volatile-layer\n",
      });
      const r = await build(["-t", "rm-lower:1", ctx]);
      // Rootless xattr whiteouts made it fail "Directory not empty": overlayfs counts them in rmdir's emptiness check.
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout + r.stderr, /\nremoved\n/);
      assert.match(r.stdout + r.stderr, /\nvolatile-layer\n/);
      assert.equal((await cli(["run", "--rm", "rm-lower:1", "sh", "-c", "test -e /etc/app || echo gone"])).stdout, "gone\n");
      await cli(["rmi", "rm-lower:1"]);
    });

    it("WORKDIR makes its directory as BuildKit does (mkdir -p, 0755, owned by USER), so USER can write in it; COPY keeps that owner", async () => {
      const ctx = context(who, "workdir", {
        Dockerfile: [
          "FROM busybox",
          `RUN echo "node:x:${id}:${id}::/home/node:/bin/sh" >> /etc/passwd && echo "node:x:${id}:" >> /etc/group && mkdir -p /home/node && chown node:node /home/node`,
          "USER node",
          "WORKDIR /home/node/app",
          "RUN touch x",
          "COPY f.txt .",
          "WORKDIR /made/by/workdir",
          "WORKDIR /tmp",
          "USER root",
          "WORKDIR /rootdir",
          "",
        ].join("\n"),
        "f.txt": "f",
      });
      const r = await build(["-q", "-t", "workdir", ctx]);
      assert.equal(r.code, 0, r.stderr);
      const stat = "stat -c '%n %u:%g %a' /home/node/app /home/node/app/x /home/node/app/f.txt /made /made/by/workdir /tmp /rootdir";
      assert.equal((await cli(["run", "--rm", "workdir", "sh", "-c", stat])).stdout, [
        `/home/node/app ${id}:${id} 755`,
        `/home/node/app/x ${id}:${id} 644`,
        "/home/node/app/f.txt 0:0 644",
        `/made ${id}:${id} 755`,
        `/made/by/workdir ${id}:${id} 755`,
        "/tmp 0:0 1777",
        "/rootdir 0:0 755",
        "",
      ].join("\n"), "an existing directory (/tmp) is left as it is");
      const history = (await cli(["history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "workdir"])).stdout;
      assert.match(history, /^WORKDIR \/home\/node\/app\|/m);
      assert.match((await build(["-t", "workdir", ctx])).stderr, /WORKDIR \/home\/node\/app \(cached\)/);
      await cli(["rmi", "workdir"]);
    });

    it("HEALTHCHECK's flags are part of the cache key and the history; EXPOSE ranges and VOLUME's JSON form are docker's", async () => {
      const hc = async (flags: string) => {
        const r = await build(["-q", "-"], { stdin: `FROM busybox\nHEALTHCHECK ${flags} CMD true\n` });
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim();
      };
      const a = await hc("--interval=30s");
      const b = await hc("--interval=5s --retries=2");
      assert.notEqual(a, b, "a changed --interval is a new image");
      assert.equal((await cli(["inspect", "-f", "{{json .Config.Healthcheck}}", b])).stdout.trim(), '{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2}');
      assert.match((await cli(["history", "--no-trunc", "--format", "{{.CreatedBy}}", b])).stdout, /^HEALTHCHECK --interval=5s --retries=2 CMD true$/m);
      const r = await build(["-q", "-"], { stdin: 'FROM busybox\nENV DATA=/var/data\nVOLUME ["${DATA}", "/static"]\nEXPOSE 8000-8002 53/UDP 9000\n' });
      assert.equal(r.code, 0, r.stderr);
      const image = r.stdout.trim();
      assert.equal((await cli(["inspect", "-f", "{{json .Config.Volumes}}|{{json .Config.ExposedPorts}}", image])).stdout.trim(), '{"/static":{},"/var/data":{}}|{"53/udp":{},"8000/tcp":{},"8001/tcp":{},"8002/tcp":{},"9000/tcp":{}}');
      await cli(["rmi", a, b, image]);
    });

    it("a RUN step's xattrs (setcap, user.*) are in its layer and the next step sees them, as docker's and buildah's builds keep them", async () => {
      const CAP_NET_RAW = "0100000200200000000000000000000000000000";
      const tool = readFileSync(join(staticToolDir("xattr-tool"), "xattr-tool"));
      const dir = context(who, "xattrs", { "xattr-tool": tool, Dockerfile: [
        "FROM busybox",
        "COPY xattr-tool /xattr-tool",
        `RUN cp /bin/busybox /bin/myping && /xattr-tool set /bin/myping security.capability ${CAP_NET_RAW} && /xattr-tool set /bin/myping user.k 76`,
        'RUN echo "next step: $(/xattr-tool get /bin/myping security.capability) $(/xattr-tool get /bin/myping user.k)"',
        "",
      ].join("\n") });
      chmodSync(join(dir, "xattr-tool"), 0o755);
      const r = await build(["--no-cache", "--progress=plain", "-t", "caps:1", dir]);
      assert.equal(r.code, 0, r.stderr);
      // Rootless too: root of the user's namespace sets it as the layer unpacks (docs/security.md), and in the
      // container it reads back as the v2 capability.
      assert.match(r.stdout + r.stderr, new RegExp(`next step: ${CAP_NET_RAW} 76`));
      const layer = await layerPax(who, "caps:1", "bin/myping");
      assert.equal(Buffer.from(layer["SCHILY.xattr.security.capability"] ?? "", "latin1").toString("hex"), CAP_NET_RAW, "the layer holds docker's v2 capability, rootless too");
      await cli(["rmi", "caps:1"]);
    });

    it("RUN steps run without no_new_privs, as BuildKit's: a setuid-root program run after USER gets euid 0; capabilities and seccomp stay run's defaults", async () => {
      // Before: every RUN step had no_new_privs, so `USER app` then `RUN sudo …` never worked (euid stayed 1000).
      const dir = context(who, "setuid", { secprobe: readFileSync(join(secprobeDir(), "secprobe")), Dockerfile: [
        "FROM busybox",
        "COPY secprobe /secprobe",
        "RUN chmod 4755 /secprobe",
        `USER ${id}`,
        'RUN echo "step: $(/secprobe ids) $(grep -E \'^(NoNewPrivs|Seccomp|CapBnd):\' /proc/self/status | tr -s \'\\t\\n\' \'  \')"',
        "",
      ].join("\n") });
      const r = await build(["--no-cache", "--progress=plain", "-t", "setuid:1", dir]);
      assert.equal(r.code, 0, r.stderr);
      // The single-id user has only id 0 to run as; the other identities' steps run as 1000.
      assert.match(r.stdout + r.stderr, new RegExp(`step: ruid=${id} euid=0 CapBnd: 00000000a80425fb NoNewPrivs: 0 Seccomp: 2 `));
      // `run` keeps its default.
      assert.match((await cli(["run", "--rm", "setuid:1", "sh", "-c", "/secprobe ids; grep NoNewPrivs: /proc/self/status"])).stdout, new RegExp(`^ruid=${id} euid=${id}\nNoNewPrivs:\t1\n$`));
      await cli(["rmi", "setuid:1"]);
    });

    it("COPY --from=${ARG} builds the stage the variable names (a global ARG's or the stage's own); an empty name is refused as such", async () => {
      const dockerfile = "ARG SRC=assets\nFROM busybox AS assets\nRUN echo asset > /asset\nFROM busybox\nARG SRC\nCOPY --from=${SRC} /asset /asset\n";
      const r = await build(["-q", "-t", "from-arg", "-"], { stdin: dockerfile });
      // Before: the stage was skipped as unused, then "stage assets has no files (FROM scratch with nothing added)".
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await cli(["run", "--rm", "from-arg", "cat", "/asset"])).stdout, "asset\n");
      // A name only the stage's own ARG gives is built when the COPY needs it (before: "stage assets was not built").
      const own = await build(["-q", "-t", "from-arg", "-"], { stdin: "FROM busybox AS assets\nRUN echo own > /asset\nFROM busybox\nARG SRC=assets\nCOPY --from=$SRC /asset /asset\n" });
      assert.equal(own.code, 0, own.stderr);
      assert.equal((await cli(["run", "--rm", "from-arg", "cat", "/asset"])).stdout, "own\n");
      const empty = await build(["-q", "-"], { stdin: "FROM busybox AS assets\nFROM busybox\nCOPY --from=${NOPE} /asset /asset\n" });
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /^tsbox: line 3: COPY --from=\$\{NOPE\}: no stage or image found with that name \(it is empty\)$/m);
      await cli(["rmi", "from-arg"]);
    });

    it("takes unchanged steps from the cache, runs again what a changed file touches, and --no-cache runs everything", notAsSingle(who), async () => {
      const ctx = context(who, "cached", {
        Dockerfile: "FROM busybox\nARG V=1\nCOPY data.txt /data.txt\nRUN cat /data.txt > /copy.txt\nCMD [\"cat\", \"/copy.txt\"]\n",
        "data.txt": "first",
      });
      const first = await build(["-q", "-t", "cached", ctx]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^sha256:[0-9a-f]{64}\n$/, "-q prints the id alone");
      assert.equal(first.stderr, "", "-q prints no progress");
      const again = await build(["-t", "cached", ctx]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /COPY data\.txt \/data\.txt \(cached\)/);
      assert.match(again.stderr, /RUN cat \/data\.txt > \/copy\.txt \(cached\)/);
      assert.equal((await cli(["inspect", "-f", "{{.Id}}", "cached"])).stdout.trim(), first.stdout.trim(), "the same steps make the same image");
      // A build arg the RUN sees is part of its key.
      const arg = await build(["--build-arg", "V=2", "-t", "cached", ctx]);
      assert.match(arg.stderr, /COPY data\.txt \/data\.txt \(cached\)/, arg.stderr);
      assert.doesNotMatch(arg.stderr, /RUN cat .*\(cached\)/, "a new ARG value misses the cache where it is used");
      writeFileSync(join(ctx, "data.txt"), "second");
      const changed = await build(["-t", "cached", ctx]);
      assert.equal(changed.code, 0, changed.stderr);
      assert.doesNotMatch(changed.stderr, /\(cached\)/, "a changed source runs its COPY and every step after it");
      assert.equal((await cli(["run", "--rm", "cached"])).stdout, "second");
      const fresh = await build(["--no-cache", "-t", "cached", ctx]);
      assert.doesNotMatch(fresh.stderr, /\(cached\)/);
      // `image prune` drops the cache with the dangling images; the named image its last step made stays, and is
      // not reported deleted.
      const named = (await cli(["inspect", "-f", "{{.Id}}", "cached"])).stdout.trim();
      const pruned0 = await cli(["image", "prune", "-f"]);
      assert.match(pruned0.stdout, /^Deleted Images:\n(deleted: sha256:[0-9a-f]{64}\n)+\nTotal reclaimed space: /);
      assert.ok(!pruned0.stdout.includes(named), pruned0.stdout);
      assert.equal((await cli(["inspect", "-f", "{{.Id}}", "cached"])).stdout.trim(), named);
      await cli(["rmi", "cached"]);
      await cli(["image", "prune", "-f"]);
      const cold = await build(["-t", "cached", ctx]);
      assert.doesNotMatch(cold.stderr, /\(cached\)/);
      // docker's `builder prune`: the cache only; the named image stays and runs, an unnamed commit stays.
      await cli(["run", "--name", "committed", "busybox", "true"]);
      const unnamed = (await cli(["commit", "committed"])).stdout.trim();
      const pruned = await cli(["builder", "prune", "-f"]);
      assert.match(pruned.stdout, /^Deleted build cache objects:\n(sha256:[0-9a-f]{64}\n)+\nTotal reclaimed space: /);
      assert.equal((await cli(["run", "--rm", "cached"])).stdout, "second");
      await cli(["image", "inspect", unnamed]);
      await cli(["rm", "committed"]);
      await cli(["rmi", unnamed]);
      assert.doesNotMatch((await build(["-t", "cached", ctx])).stderr, /\(cached\)/);
      await cli(["rmi", "cached"]);
    });

    it("COPY --chown and an ADDed tar's owners past the user namespace's ids fail the step, naming the id, the file and the range (as root they are kept)", async () => {
      // Before: lchown's EINVAL was dropped and the files were silently root's. buildah and rootless BuildKit fail the step.
      const tar = new TarWriter();
      tar.add({ path: "z", type: "file", mode: 0o644, uid: 70000, gid: 70000, mtime: 0, data: Buffer.from("z\n") });
      const ctx = context(who, "past-range", { f: "f\n", "hi.tar": tar.finish(), Dockerfile: "FROM busybox\nCOPY --chown=70000:70000 f /f\n", "add.Dockerfile": "FROM busybox\nADD hi.tar /h/\n" });
      const copied = await build(["-q", "--no-cache", "-t", "past-range:1", ctx]);
      const added = await build(["-q", "--no-cache", "-t", "past-range:2", "-f", join(ctx, "add.Dockerfile"), ctx]);
      if (who.name === "root") {
        assert.equal(copied.code, 0, copied.stderr);
        assert.equal(added.code, 0, added.stderr);
        assert.equal(await layerOwner(who, "past-range:1", "f"), "70000/70000");
        assert.equal(await layerOwner(who, "past-range:2", "h/z"), "70000/70000");
        await cli(["rmi", "past-range:1", "past-range:2"]);
        return;
      }
      const range =
        who.name === "single"
          ? "which has uid 0 only \\(this user has no /etc/subuid and /etc/subgid range: `tsbox info` names a free one"
          : "whose uids are 0-\\d+ \\(host uids \\d+, \\d+-\\d+\\): rootless, a container's ids past 0 are the user's /etc/subuid and /etc/subgid range, which must be wider for this one";
      for (const [r, path] of [[copied, "/f"], [added, "/h/z"]] as const) {
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`^tsbox: line 2: cannot give ${path} the owner 70000:70000: uid 70000 is not mapped in the container's user namespace, ${range}`, "m"));
      }
      assert.equal((await cli(["images", "-q", "--filter", "reference=past-range"])).stdout, "", "no image");
    });

    it("history shows an image's control characters escaped, never raw", async () => {
      const ctx = context(who, "hist-esc", { Dockerfile: "FROM busybox\nRUN true # \x1b]0;PWNED\x07\x1b[31mRED\n" });
      assert.equal((await build(["-q", "-t", "hist-esc:1", ctx])).code, 0);
      // Before: the raw bytes reached the terminal (a title change, colours; any escape sequence an image chose).
      const shown = (await cli(["history", "--no-trunc", "--format", "{{.CreatedBy}}", "hist-esc:1"])).stdout.split("\n")[0]!;
      assert.equal(shown, "RUN /bin/sh -c true # \\x1b]0;PWNED\\x07\\x1b[31mRED # tsbox build");
      assert.doesNotMatch((await cli(["history", "hist-esc:1"])).stdout, /\x1b/);
      await cli(["rmi", "hist-esc:1"]);
    });

    it("MAINTAINER is the base image's or the earlier stage's until a stage's own; --iidfile into no directory is refused before the build", async () => {
      const ctx = context(who, "author", { Dockerfile: "FROM busybox\nMAINTAINER bob\nCMD [\"x\"]\n" });
      assert.equal((await build(["-q", "-t", "author:base", ctx])).code, 0);
      const child = context(who, "author-child", { Dockerfile: "FROM author:base AS a\nRUN true\nFROM a AS mid\nRUN echo other\nFROM a\nMAINTAINER eve\n" });
      assert.equal((await build(["-q", "--no-cache", "--target", "mid", "-t", "author:child", child])).code, 0);
      assert.equal((await build(["-q", "--no-cache", "-t", "author:own", child])).code, 0);
      const authors = await Promise.all(["author:base", "author:child", "author:own"].map(async (i) => (await cli(["inspect", "-f", "{{.Author}}", i])).stdout.trim()));
      // Before: the child images had none (a step image from the cache could have had bob).
      assert.deepEqual(authors, ["bob", "bob", "eve"]);
      const lost = await build(["-q", "--iidfile", join(who.scratch, "no-such-dir", "iid"), ctx]);
      assert.equal(lost.code, 125, lost.stderr);
      assert.match(lost.stderr, /^tsbox: --iidfile \S+: no such directory \S+no-such-dir$/m);
      assert.doesNotMatch(lost.stderr, /\[1\/\d\]/, "refused before any step");
      await cli(["rmi", "author:base", "author:child", "author:own"]);
    });

    it("ADD of a local tar with an entry outside its root fails the step with one line, writing nothing outside", async () => {
      const tar = new TarWriter();
      tar.add({ path: "../../../../escaped-by-add", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, data: Buffer.from("x\n") });
      const ctx = context(who, "add-escape", { "evil.tar": tar.finish(), Dockerfile: "FROM busybox\nADD evil.tar /a/\n" });
      const r = await build(["-q", "-t", "add-escape:1", ctx]);
      // Before: the refusal reached a stream nobody listened on, and Node's "Unhandled 'error' event" ended the CLI.
      assert.deepEqual([r.code, r.stderr], [1, "tsbox: line 2: ADD evil.tar: the archive has an entry outside its root: ../../../../escaped-by-add\n"]);
      assert.equal((await cli(["images", "-q", "--filter", "reference=add-escape"])).stdout, "", "no image");
    });

    it("builds a Dockerfile from stdin without a context, from -f elsewhere, and ADD unpacks a local tar.gz", async () => {
      const fromStdin = await build(["-q", "-t", "stdin:1", "-"], { stdin: 'FROM busybox\nRUN echo made > /made\nCMD ["cat", "/made"]\n' });
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      assert.equal((await cli(["run", "--rm", "stdin:1"])).stdout, "made\n");
      // docker's predefined proxy ARGs: RUN sees them without an ARG line, the image keeps none of them.
      const proxied = await build(["-q", "-t", "proxied", "--build-arg", "HTTP_PROXY=http://proxy.example:3128", "--build-arg", "no_proxy=.internal", "-"], { stdin: 'FROM busybox\nRUN echo "$HTTP_PROXY $no_proxy" > /p\n' });
      assert.equal(proxied.code, 0, proxied.stderr);
      assert.equal((await cli(["run", "--rm", "proxied", "cat", "/p"])).stdout, "http://proxy.example:3128 .internal\n");
      assert.doesNotMatch((await cli(["inspect", "-f", "{{.Config.Env}}", "proxied"])).stdout, /proxy/i);
      await cli(["rmi", "proxied"]);
      const tar = new TarWriter();
      tar.add({ path: "inner/", type: "directory", mode: 0o755, mtime: 0 });
      tar.add({ path: "inner/file", type: "file", mode: 0o640, uid: who.name === "single" ? 0 : 7, gid: who.name === "single" ? 0 : 8, mtime: 0, data: Buffer.from("unpacked\n") });
      const ctx = context(who, "addctx", { "bundle.tar.gz": gzipSync(tar.finish()), "build/app.Dockerfile": "FROM busybox\nADD bundle.tar.gz /opt/\nADD bundle.tar.gz /kept/as-file.tgz\n" });
      const r = await tsbox(who, ["build", "-f", "addctx/build/app.Dockerfile", "-t", "added", ctx], { timeoutMs: 120_000, cwd: who.scratch });
      assert.equal((await build(["-f", "build/app.Dockerfile", ctx])).code, 1, "-f is the current directory's, not the context's");
      assert.equal(r.code, 0, r.stderr);
      const out = await cli(["run", "--rm", "added", "sh", "-c", "cat /opt/inner/file; stat -c %a:%u:%g /opt/inner/file; ls /kept/as-file.tgz/inner"]);
      const owner = who.name === "single" ? "0:0" : "7:8";
      assert.equal(out.stdout, `unpacked\n640:${owner}\nfile\n`, "an archive is unpacked, whatever the destination's name");
      assert.equal(await layerOwner(who, "added", "opt/inner/file"), who.name === "single" ? "0/0" : "7/8", "with its owners");
      await cli(["rmi", "stdin:1", "added"]);
      // ADD of a URL: streamed to a file in the data dir (held in memory, 1.5 GiB took 6.4 GB), 0600 and dated by
      // Last-Modified as docker's, and the file gone with the step.
      let version = 0;
      const server = createServer((_req, res) => {
        res.writeHead(200, { "content-length": String(8 * 1024 * 1024), "last-modified": "Tue, 01 Jan 2030 00:00:00 GMT" });
        for (let i = 0; i < 128; i++) res.write(Buffer.alloc(65536, i + version));
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/data/big.bin`;
        const fromUrl = await build(["-q", "-t", "from-url", "-"], { stdin: `FROM busybox\nADD ${url} /dl/\n` });
        assert.equal(fromUrl.code, 0, fromUrl.stderr);
        const got = await cli(["run", "--rm", "from-url", "sh", "-c", "stat -c '%s %a %Y' /dl/big.bin; tail -c 1 /dl/big.bin | od -An -tu1"]);
        assert.equal(got.stdout.replace(/ +/g, " "), "8388608 600 1893456000\n 127\n");
        assert.deepEqual(readdirSync(who.dataDir).filter((n) => n.startsWith(".add-")), [], "the download is gone with its step");
        await cli(["rmi", "from-url"]);
        // The steps after it are keyed on what it fetched: the same download keeps them cached, a changed one runs
        // them again (before, they came from the cache and the image held what the old download made).
        const then = `FROM busybox\nADD ${url} /dl/\nRUN tail -c 1 /dl/big.bin | od -An -tu1 > /last\n`;
        const last = async () => (await cli(["run", "--rm", "url-then", "cat", "/last"])).stdout.trim();
        assert.equal((await build(["-q", "-t", "url-then", "-"], { stdin: then })).code, 0);
        assert.equal(await last(), "127");
        const same = await build(["-t", "url-then", "-"], { stdin: then });
        assert.match(same.stderr + same.stdout, /RUN tail .* \(cached\)/);
        version = 1;
        assert.equal((await build(["-q", "-t", "url-then", "-"], { stdin: then })).code, 0);
        assert.equal(await last(), "128");
        await cli(["rmi", "url-then"]);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      // A server on a port Node's fetch refuses (the fetch spec's bad ports; docker's Go client has no such list).
      const blockedPort = await freeBadPort();
      const small = createServer((_req, res) => res.end("from a blocked port\n"));
      await new Promise<void>((resolve) => small.listen(blockedPort, "127.0.0.1", resolve));
      try {
        const fromBlocked = await build(["-q", "-t", "from-blocked", "-"], { stdin: `FROM busybox\nADD http://127.0.0.1:${blockedPort}/note.txt /note.txt\n` });
        assert.equal(fromBlocked.code, 0, fromBlocked.stderr);
        assert.equal((await cli(["run", "--rm", "from-blocked", "cat", "/note.txt"])).stdout, "from a blocked port\n");
        await cli(["rmi", "from-blocked"]);
      } finally {
        small.closeAllConnections();
        await new Promise<void>((resolve) => small.close(() => resolve()));
      }
    });

    it("ADD unpacks local tar archives compressed with gzip, bzip2, xz or zstd, and v7 tars; a gzip'd file that is no tar is copied", async () => {
      const ctx = context(who, "add-kinds", { "dir/f": "hi\n", "plain.txt": "plain\n" });
      const sh = (script: string) => execFileSync("sh", ["-c", script], { cwd: ctx });
      sh("T='tar --owner=0 --group=0 --numeric-owner' && $T -cJf a.txz dir && $T -cjf a.tbz dir && $T -cf - dir | zstd -q > a.tzst && $T --format=v7 -cf v7.tar dir && gzip -c plain.txt > plain.gz && chown -R " + `${who.uid}:${who.gid} .`);
      writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nADD a.txz /xz/\nADD a.tbz /bz/\nADD a.tzst /zst/\nADD v7.tar /v7/\nADD plain.gz /gz/\n");
      const r = await build(["-q", "-t", "add-kinds", ctx]);
      assert.equal(r.code, 0, r.stderr);
      // Before: the xz, bzip2 and zstd archives were copied as files, and the gzip'd text failed the build ("truncated tar archive").
      assert.equal((await cli(["run", "--rm", "add-kinds", "sh", "-c", "cat /xz/dir/f /bz/dir/f /zst/dir/f /v7/dir/f; zcat /gz/plain.gz"])).stdout, "hi\nhi\nhi\nhi\nplain\n");
      await cli(["rmi", "add-kinds"]);
      if (who.name === "root") {
        // Without the xz tool the archive cannot be read: a clear error, not a silent copy of the compressed file.
        const bin = join(who.scratch, "no-xz-bin");
        mkdirSync(bin, { recursive: true });
        for (const dir of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
          for (const name of existsSync(dir) ? readdirSync(dir) : []) if (name !== "xz" && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
        }
        const refused = await build(["--no-cache", "-f", "-", ctx], { stdin: "FROM busybox\nADD a.txz /xz/\n", env: { PATH: bin } });
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(refused.stderr, /^tsbox: line 2: ADD a\.txz: unpacking xz-compressed archives needs the xz tool, which is not installed: install xz-utils/m);
        rmSync(bin, { recursive: true, force: true });
      }
    });

    it("builds a tar archive on stdin as the context (gzip, xz, bzip2, zstd too, -f inside it), and refuses one that climbs out", notAsSingle(who), async () => {
      const file = (path: string, text: string) => ({ path, type: "file" as const, mode: 0o644, mtime: 0, data: Buffer.from(text) });
      const tar = new TarWriter();
      tar.add(file("Dockerfile", 'FROM busybox\nCOPY data.txt /data.txt\nCMD ["cat", "/data.txt"]\n'));
      tar.add(file("data.txt", "from the archive\n"));
      tar.add({ path: "sub/", type: "directory", mode: 0o755, mtime: 0 });
      tar.add(file("sub/Alt", "FROM busybox\nCOPY sub/ /s/\n"));
      const archive = tar.finish();
      // What killed builds left (a stdin context, a download: pids that no longer run) goes with the next build.
      const dead = Number(execFileSync("sh", ["-c", "echo $$"]).toString().trim());
      const left = [`.build-stdin-${dead}-abc`, `.add-${dead}-def`].map((n) => join(who.dataDir, n));
      for (const dir of left) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "body"), "left");
        execFileSync("chown", ["-R", `${who.uid}:${who.gid}`, dir]);
      }
      const plain = await build(["-q", "-t", "tarctx:1", "-"], { stdin: archive });
      assert.equal(plain.code, 0, plain.stderr);
      assert.deepEqual(left.filter((d) => existsSync(d)), [], "swept");
      assert.deepEqual(readdirSync(who.dataDir).filter((n) => n.startsWith(".build-stdin-")), [], "its own context is gone with it");
      assert.equal((await cli(["run", "--rm", "tarctx:1"])).stdout, "from the archive\n");
      const alt = await build(["-q", "-t", "tarctx:2", "-f", "sub/Alt", "-"], { stdin: gzipSync(archive) });
      assert.equal(alt.code, 0, alt.stderr);
      assert.equal((await cli(["run", "--rm", "tarctx:2", "ls", "/s"])).stdout, "Alt\n");
      // xz, bzip2 and zstd too, as docker's (moby archive.DecompressStream). Before: xz and bzip2 were read as a
      // Dockerfile ("unknown instruction: \xfd7zXZ…"), zstd refused.
      for (const tool of ["xz", "bzip2", "zstd"]) {
        const packed = await build(["-q", "-t", `tarctx:${tool}`, "-"], { stdin: execFileSync(tool, ["-c", "-q"], { input: archive }) });
        assert.equal(packed.code, 0, `${tool}: ${packed.stderr}`);
        assert.equal((await cli(["run", "--rm", `tarctx:${tool}`])).stdout, "from the archive\n");
      }
      const broken = await build(["-t", "evil", "-"], { stdin: execFileSync("xz", ["-c", "-q"], { input: archive }).subarray(0, 40) });
      assert.equal(broken.code, 1);
      assert.match(broken.stderr, /^tsbox: cannot read the context archive on stdin: /);
      await cli(["rmi", "tarctx:1", "tarctx:2", "tarctx:xz", "tarctx:bzip2", "tarctx:zstd"]);

      const climbing = new TarWriter();
      climbing.add(file("Dockerfile", "FROM busybox\n"));
      climbing.add(file("../escaped", "x"));
      const refused = await build(["-t", "evil", "-"], { stdin: climbing.finish() });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^tsbox: cannot read the context archive on stdin: .*escaped/);
      assert.ok(!existsSync(join(tmpdir(), "escaped")), "nothing lands beside the unpacked context");
      // A Dockerfile that is a link (here to a host file) is not followed.
      const linked = new TarWriter();
      linked.add({ path: "Dockerfile", type: "symlink", mode: 0o777, mtime: 0, linkname: "/etc/passwd" });
      const notFollowed = await build(["-t", "evil", "-"], { stdin: linked.finish() });
      assert.equal(notFollowed.code, 1);
      assert.match(notFollowed.stderr, /^tsbox: Dockerfile in the context archive is not a regular file/);
      assert.equal((await build(["-f", "../Dockerfile", "-"], { stdin: archive })).code, 125, "-f must stay inside the archive");
    });

    it("builds here-documents and RUN --mount (a cache kept between builds, a read-only bind of the context, a tmpfs), none of it in the layer", async () => {
      const ctx = context(who, "modern", { "src/data.txt": "from the context\n" });
      const dockerfile = [
        "FROM busybox",
        "ARG WHO=world",
        "RUN <<EOF",
        "echo \"script $WHO\" > /script",
        "EOF",
        "RUN cat > /piped <<'EOF' && echo after >> /piped",
        "piped $WHO",
        "EOF",
        "COPY <<EOF <<'RAW' /docs/",
        "hello $WHO",
        "EOF",
        "raw $WHO",
        "RAW",
        "RUN --mount=type=cache,target=/var/cache/app echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /runs",
        "RUN --mount=type=bind,source=src,target=/src --mount=type=tmpfs,target=/scratch cp /src/data.txt /copied && touch /scratch/x && ! touch /src/new",
        // A cache mount's mode is the one asked, not less the umask: how a non-root USER writes there (was 0755).
        // (A single-id user's containers have no uid but root.)
        ...(who.name === "single" ? [] : ["USER nobody", "RUN --mount=type=cache,target=/shared,mode=0777,id=open-cache touch /shared/by-nobody", "USER root"]),
        "",
      ].join("\n");
      writeFileSync(join(ctx, "Dockerfile"), dockerfile);
      const first = await build(["-q", "-t", "modern:1", ctx]);
      assert.equal(first.code, 0, first.stderr);
      // (The mount points the runtime made are not in the image either: the test below.)
      const show = "cat /script /piped /docs/EOF /docs/RAW /runs /copied; for p in /var/cache/app /scratch /src; do test -e $p && echo $p; done; echo .";
      assert.equal((await cli(["run", "--rm", "modern:1", "sh", "-c", show])).stdout, "script world\npiped $WHO\nafter\nhello world\nraw $WHO\n1\nfrom the context\n.\n");
      // The cache mount outlives the build: a build without the layer cache finds what the last one left there.
      const again = await build(["-q", "--no-cache", "-t", "modern:2", ctx]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await cli(["run", "--rm", "modern:2", "cat", "/runs"])).stdout, "2\n");
      // The build cache counts the step images builds keep and the cache mount (`builder prune` removes both).
      assert.match((await cli(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"])).stdout, /^Build Cache ([2-9]|\d{2,})$/m);
      const cacheSize = /^Build Cache (\S+)$/m.exec((await cli(["system", "df", "--format", "{{.Type}} {{.Size}}"])).stdout)![1];
      assert.notEqual(cacheSize, "0B");
      assert.match((await cli(["system", "df", "-v"])).stdout, new RegExp(`\nBuild cache usage: ${cacheSize!.replace(".", "\\.")}\n$`), "-v says what the summary says");
      assert.match((await cli(["system", "prune", "-f"])).stdout, /^Deleted build cache objects:\n[0-9a-f]{32}\n/m);
      assert.match((await cli(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"])).stdout, /^Build Cache 0$/m);
      await cli(["rmi", "modern:1", "modern:2"]);
    });

    it("RUN --mount's targets and the parents made for them stay out of the layer unless the step filled them", async () => {
      // Before: an empty /in/b.txt, /src, /scratch and /deep/a/b/cache were in the image (BuildKit and buildah remove such stubs).
      const ctx = context(who, "stubs", {
        "b.txt": "bound\n",
        Dockerfile: [
          "FROM busybox",
          "RUN --mount=type=bind,source=b.txt,target=/in/b.txt cat /in/b.txt > /got",
          "RUN --mount=type=bind,target=/src --mount=type=tmpfs,target=/scratch --mount=type=cache,target=/deep/a/b/cache mkdir -p /deep/a/kept /src-sibling",
          "RUN --mount=type=tmpfs,target=/filled/t mkdir /filled/mine",
          "",
        ].join("\n"),
      });
      const r = await build(["-t", "stubs:1", ctx]);
      assert.equal(r.code, 0, r.stderr);
      const present = "for p in /got /in /in/b.txt /src /scratch /deep /deep/a /deep/a/kept /deep/a/b /src-sibling /filled /filled/t /filled/mine; do test -e $p && echo $p; done";
      assert.equal((await cli(["run", "--rm", "stubs:1", "sh", "-c", present])).stdout, "/got\n/deep\n/deep/a\n/deep/a/kept\n/src-sibling\n/filled\n/filled/mine\n");
      await cli(["rmi", "stubs:1"]);
    });

    it("builds what docker's parser takes: <<WORD inside quotes, a blank line in a continuation (warned), WORKDIR with blanks", async () => {
      const ctx = context(who, "syntax", {
        Dockerfile: [
          "FROM busybox",
          'RUN echo "url=<<API_URL>>" > /app.conf && sed -i "s|<<API_URL>>|http://api|" /app.conf',
          "RUN echo a > /cont \\",
          "",
          "    && echo b >> /cont",
          'ARG SUB="two words"',
          "WORKDIR /my dir/$SUB",
          'WORKDIR "quoted dir"',
          "RUN pwd > /pwd",
          "",
        ].join("\n"),
      });
      const r = await build(["-t", "syntax:1", ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^\[warning\] line 4: empty continuation line/m);
      assert.equal((await cli(["run", "--rm", "syntax:1", "sh", "-c", "cat /app.conf /cont /pwd"])).stdout, "url=http://api\na\nb\n/my dir/two words/quoted dir\n");
      assert.equal((await cli(["inspect", "-f", "{{.Config.WorkingDir}}", "syntax:1"])).stdout, "/my dir/two words/quoted dir\n");
      await cli(["rmi", "syntax:1"]);
    });

    it("RUN --mount=type=bind shows the context as .dockerignore filters it, also to a base image's ONBUILD", async () => {
      const base = context(who, "onbuild-base", { Dockerfile: 'FROM busybox\nONBUILD RUN --mount=type=bind,target=/ctx sh -c "ls -A /ctx /ctx/app > /loot; cat /ctx/.env /ctx/.git/credentials >> /loot 2>&1; true"\n' });
      assert.equal((await build(["-q", "-t", "onbuild-base", base])).code, 0);
      const ctx = context(who, "ignored-secrets", {
        ".dockerignore": ".env\n.git\n**/*.key\n",
        ".env": "SECRET=hunter2\n",
        ".git/credentials": "token\n",
        "app/main.txt": "kept\n",
        "app/server.key": "private\n",
        "app/link": { link: "/etc/passwd" },
        Dockerfile: "FROM onbuild-base\nRUN --mount=type=bind,source=app,target=/app sh -c 'ls -A /app > /own; cat /app/main.txt >> /own; readlink /app/link >> /own; ! touch /app/new'\n",
      });
      const r = await build(["-q", "--no-cache", "-t", "victim", ctx]);
      assert.equal(r.code, 0, r.stderr);
      const loot = (await cli(["run", "--rm", "victim", "cat", "/loot", "/own"])).stdout;
      assert.doesNotMatch(loot, /hunter2|token|private|server\.key/, "before, the bind showed the directory on disk");
      assert.match(loot, /^\/ctx:\n\.dockerignore\nDockerfile\napp\n\n\/ctx\/app:\nlink\nmain\.txt\n/);
      assert.match(loot, /\nlink\nmain\.txt\nkept\n\/etc\/passwd\n$/, "files and links as they are; the bind read-only");
      assert.deepEqual(readdirSync(who.dataDir).filter((n) => n.startsWith(".bind-")), [], "the step's snapshots are gone");
      assert.equal(readFileSync(join(ctx, ".env"), "utf8"), "SECRET=hunter2\n");
      await cli(["rmi", "victim", "onbuild-base"]);
    });

    it("ONBUILD triggers run in a later stage FROM the stage that declares them, as FROM its image would; the child does not inherit them", notAsSingle(who), async () => {
      // Before: a stage inheriting a stage skipped the triggers and kept them in its config (BuildKit #5490 runs them).
      const ctx = context(who, "onbuild-stage", {
        Dockerfile: [
          "FROM busybox AS data",
          "RUN echo data > /data",
          "FROM busybox AS base",
          "ONBUILD RUN echo trig >> /trig",
          // The stage a trigger copies from is built though nothing else names it (BuildKit's dockerfile 1.11).
          "ONBUILD COPY --from=data /data /data",
          "FROM base AS one",
          "RUN cat /trig > /one",
          "FROM base AS two",
          "FROM two",
          "COPY --from=one /one /one",
          'RUN test "$(cat /trig)" = trig && cat /one /data',
          "",
        ].join("\n"),
      });
      const r = await build(["-t", "onbuild-stage:final", ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr + r.stdout, /running the base image's ONBUILD RUN echo trig >> \/trig/);
      const onBuild = async (image: string) => (await cli(["inspect", "-f", "{{json .Config.OnBuild}}", image])).stdout.trim();
      assert.equal(await onBuild("onbuild-stage:final"), "null");
      assert.equal((await cli(["run", "--rm", "onbuild-stage:final", "cat", "/trig", "/one", "/data"])).stdout, "trig\ntrig\ndata\n");
      // The declaring stage built as the target keeps its triggers, and an image FROM it runs them once.
      assert.equal((await build(["-q", "-t", "onbuild-stage:base", "--target", "base", ctx])).code, 0);
      assert.equal(await onBuild("onbuild-stage:base"), '["RUN echo trig >> /trig","COPY --from=data /data /data"]');
      writeFileSync(join(ctx, "Child"), "FROM busybox AS data\nRUN echo child > /data\nFROM onbuild-stage:base\nRUN cat /trig\n");
      const child = await build(["-q", "-t", "onbuild-stage:child", "-f", join(ctx, "Child"), ctx]);
      assert.equal(child.code, 0, child.stderr);
      // The image's trigger's --from=data is the child Dockerfile's stage, built when the trigger needs it.
      assert.equal((await cli(["run", "--rm", "onbuild-stage:child", "cat", "/trig", "/data"])).stdout, "trig\nchild\n");
      await cli(["rmi", "onbuild-stage:final", "onbuild-stage:base", "onbuild-stage:child"]);
    });

    it("a symlink to what .dockerignore leaves out leads nowhere for COPY, its wildcards, RUN --mount=type=bind and a base image's ONBUILD; a linked directory is copied as the rules filter it", notAsSingle(who), async () => {
      const files = {
        ".dockerignore": ".git\nsecrets\n.env\nsrc/secret.txt\n",
        ".git/config": "token\n",
        "secrets/id_rsa": "private\n",
        ".env": "SECRET=hunter2\n",
        "src/a.js": "kept\n",
        "src/secret.txt": "hidden\n",
        keys: { link: "secrets" },
        gitcfg: { link: ".git/config" },
        envalias: { link: ".env" },
        srclink: { link: "src" },
        all: { link: "." },
      };
      const ctx = context(who, "ignored-links", files);
      // Before: each of these read the ignored file or directory into the layer or the bind (the rules were matched
      // against the link's name, never where it leads).
      for (const [dockerfile, error] of [
        ["FROM busybox\nCOPY keys /k\nRUN cat /k/id_rsa\n", /^tsbox: line 2: keys: not found in the build context \(a symlink that leads nowhere\)$/m],
        ["FROM busybox\nCOPY gitc* /g/\n", /^tsbox: line 2: gitcfg: not found in the build context \(a symlink that leads nowhere\)$/m],
        ["FROM busybox\nADD keys/id_rsa /k\n", /^tsbox: line 2: keys\/id_rsa: not found in the build context \(a symlink that leads nowhere\)$/m],
        ["FROM busybox\nRUN --mount=type=bind,source=envalias,target=/m cat /m\n", /^tsbox: line 2: RUN --mount=type=bind,source=envalias,target=\/m: source envalias is not in the build context$/m],
      ] as const) {
        const r = await build(["--no-cache", "-t", "leak", "-f", "-", ctx], { stdin: dockerfile });
        assert.equal(r.code, 1, `${dockerfile}: ${r.stderr}`);
        assert.match(r.stderr, error, dockerfile);
        assert.doesNotMatch(r.stdout + r.stderr, /private|token|hunter2/, dockerfile);
      }
      // A hostile base image guesses a link's name in an ONBUILD trigger: the child's build fails as for a missing file.
      const evil = context(who, "evil-base", { Dockerfile: "FROM busybox\nONBUILD RUN --mount=type=bind,source=keys,target=/k cat /k/id_rsa\n" });
      assert.equal((await build(["-q", "-t", "evil-base", evil])).code, 0);
      const child = await build(["--no-cache", "-t", "leak", "-f", "-", ctx], { stdin: "FROM evil-base\nRUN true\n" });
      assert.equal(child.code, 1, child.stderr);
      assert.match(child.stderr, /running the base image's ONBUILD RUN --mount=type=bind,source=keys/);
      assert.match(child.stderr, /^tsbox: line 1: RUN --mount=type=bind,source=keys,target=\/k: source keys is not in the build context$/m);
      assert.doesNotMatch(child.stdout + child.stderr, /private/);
      // A link to the context itself, or to a directory with an ignored child, gives what the rules leave of it.
      const base = context(who, "filter-base", { Dockerfile: 'FROM busybox\nONBUILD COPY all /c\nONBUILD RUN --mount=type=bind,source=all,target=/m sh -c "cd /m && find . | sort > /bound"\n' });
      assert.equal((await build(["-q", "-t", "filter-base", base])).code, 0);
      const ok = await build(["--no-cache", "-t", "filtered", "-f", "-", ctx], { stdin: "FROM filter-base\nCOPY srclink /s\n" });
      assert.equal(ok.code, 0, ok.stderr);
      const listing = [".", "./.dockerignore", "./all", "./envalias", "./gitcfg", "./keys", "./src", "./src/a.js", "./srclink"].join("\n") + "\n";
      const seen = await cli(["run", "--rm", "filtered", "sh", "-c", "cd /c && find . | sort; cat /bound; cd /s && find . | sort; cat /s/a.js"]);
      assert.equal(seen.stdout, `${listing}${listing}.\n./a.js\nkept\n`);
      assert.deepEqual(readdirSync(who.dataDir).filter((n) => n.startsWith(".bind-")), [], "the step's snapshots are gone");
      await cli(["rmi", "filtered", "filter-base", "evil-base"]);
    });

    it("refuses bad Dockerfiles and contexts that reach out, with the line, exit 1, and no container or image left", notAsSingle(who), async () => {
      const outside = join(who.scratch, "outside-secret");
      writeFileSync(outside, "secret");
      const ctx = context(who, "bad", {
        "ok.txt": "ok",
        "escape": { link: "/etc" },
        "escape-file": { link: outside },
        "tree/inner-link": { link: outside },
      });
      const closing = createServer();
      await new Promise<void>((resolve) => closing.listen(0, "127.0.0.1", resolve));
      const closedPort = (closing.address() as { port: number }).port;
      await new Promise<void>((resolve) => closing.close(() => resolve()));
      const cases: [string, RegExp][] = [
        ["FROM busybox\nFOO bar\n", /line 2: unknown instruction: FOO/],
        ["RUN true\n", /no build stage in current context \(RUN before the first FROM\)/],
        ["# nothing\n", /no FROM instruction/],
        ["FROM busybox\n\nRUN exit 3\n", /line 3: process "\/bin\/sh -c exit 3" did not complete successfully: exit code: 3/],
        ["FROM busybox\nUSER nosuchuser\nRUN true\n", /line 3: unable to find user nosuchuser/],
        // A step that cannot start: exit 1 as any failed step, and its container (recorded as a failed start, code 127) goes too.
        ['FROM busybox\nRUN ["/nonexistent"]\n', /line 2: process "\/nonexistent" did not complete successfully: no such file or directory: \/nonexistent/],
        ["FROM busybox\nCOPY ../outside-secret /x\n", /forbidden path outside the build context: \.\.\/outside-secret/],
        ["FROM busybox\nCOPY escape/passwd /x\n", /forbidden path outside the build context: escape\/passwd/],
        ["FROM busybox\nCOPY escape-file /x\n", /forbidden path outside the build context/],
        ["FROM busybox\nCOPY missing.txt /x\n", /missing\.txt: not found in the build context/],
        ["FROM busybox\nCOPY --bogus=1 ok.txt /x\n", /line 2: unknown flag: --bogus/],
        ["FROM busybox\nCOPY ok.txt ok.txt /x\n", /destination must be a directory and end with a \//],
        ["FROM busybox AS one\nFROM one AS one\n", /duplicate stage name "one"/],
        ["FROM busybox\nRUN --mount=type=secret,id=x true\n", /line 2: RUN --mount=type=secret,id=x: type=secret is not supported by tsbox build/],
        ["FROM busybox\nRUN --mount=type=bind,source=escape,target=/e true\n", /source escape leads outside the build context/],
        ["FROM busybox\nRUN --mount=type=bind,source=ok.txt,target=/o,rw true\n", /rw \(writes thrown away after the step\) is not supported/],
        ["FROM busybox\nRUN --mount=type=cache true\n", /target is required/],
        // sandbox, BuildKit's default, is built (below); insecure is refused by name (before: any --security was).
        ["FROM busybox\nRUN --security=insecure true\n", /^tsbox: line 2: RUN --security=insecure is not supported by tsbox build$/m],
        ["FROM busybox\nRUN --security=loose true\n", /^tsbox: line 2: RUN --security=loose: expected sandbox or insecure$/m],
        ["FROM busybox\nRUN <<EOF\ntrue\n", /line 2: unterminated heredoc/],
        ["FROM scratch\nRUN true\n", /RUN has nothing to run/],
        ["FROM busybox\nENV\n", /ENV requires at least one argument/],
        // Refused at build as docker does, not stored to break every run of the image.
        ["FROM busybox\nSTOPSIGNAL SIGFOO\n", /^tsbox: line 2: Invalid signal: SIGFOO$/m],
        ["FROM busybox\nHEALTHCHECK --retries=abc CMD true\n", /line 2: HEALTHCHECK --retries=abc: expected a whole number/],
        ["FROM busybox\nHEALTHCHECK --retries=-1 CMD true\n", /line 2: HEALTHCHECK --retries cannot be negative \(-1\)/],
        ["FROM busybox\nHEALTHCHECK --interval=0.5ms CMD true\n", /line 2: HEALTHCHECK --interval=0\.5ms: Interval "interval" cannot be less than 1ms/],
        ["FROM busybox\nEXPOSE 8002-8000\n", /line 2: invalid port "8002-8000" in EXPOSE/],
        ["FROM 127.0.0.1:1/nothing:1\n", /line 1: unable to find image 127\.0\.0\.1:1\/nothing:1 locally/],
        // A stage naming itself is BuildKit's circular dependency (before: the name was pulled as an image).
        ["FROM busybox AS one\nFROM one AS two\nCOPY --from=two /etc/hostname /x\n", /^tsbox: circular dependency detected on stage: two$/m],
        // The cause, not fetch's bare "fetch failed".
        [`FROM busybox\nADD http://127.0.0.1:${closedPort}/x /x\n`, /^tsbox: line 2: ADD http:\/\/127\.0\.0\.1:\d+\/x: fetch failed: ECONNREFUSED$/m],
        [`FROM busybox\nRUN true\n${"\0".repeat(5000)}\n`, /^tsbox: dockerfile parse error on line 3: unknown instruction: (\\x00){40}… \(5000 characters\)$/m],
      ];
      for (const [dockerfile, error] of cases) {
        const r = await build(["-t", "bad:1", "-f", "-", ctx], { stdin: dockerfile });
        assert.equal(r.code, 1, `${dockerfile}: ${r.stderr}`);
        assert.match(r.stderr, error, dockerfile);
      }
      assert.doesNotMatch((await cli(["images"])).stdout, /^bad\s/m, "a failed build names nothing");
      // -q hides the progress, not why a step failed: its output comes before the error.
      const quiet = await build(["-q", "-f", "-", ctx], { stdin: "FROM busybox\nRUN echo before\nRUN echo some-output; echo err >&2; exit 2\n" });
      assert.equal(quiet.code, 1);
      assert.equal(quiet.stdout, "");
      assert.deepEqual(quiet.stderr.split("\n").slice(0, 2).sort(), ["err", "some-output"], "the failing step's output, not the earlier step's");
      assert.match(quiet.stderr, /\ntsbox: line 3: process .* exit code: 2\n$/);
      assert.equal((await cli(["ps", "-aq"])).stdout, "", "no step container is left");
      // A symlink inside a copied directory is copied as a link, never followed to the host.
      const ok = await build(["-t", "links", "-f", "-", ctx], { stdin: "FROM busybox\nCOPY tree /tree\nRUN --security=sandbox true\n" });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((await cli(["run", "--rm", "links", "sh", "-c", "readlink /tree/inner-link; cat /tree/inner-link 2>/dev/null || echo not-there"])).stdout, `${outside}\nnot-there\n`);
      await cli(["rmi", "links"]);
      // Two steps that change nothing both make the empty layer: the image has it twice, and builds and runs on.
      const twice = await build(["-q", "-t", "twice", "-f", "-", ctx], { stdin: "FROM busybox\nRUN true\nRUN true\nRUN echo x > /x\n" });
      assert.equal(twice.code, 0, twice.stderr);
      assert.equal((await cli(["run", "--rm", "twice", "cat", "/x"])).stdout, "x\n");
      await cli(["rmi", "twice"]);
      // A build killed in a RUN cannot remove its step container: whoever lists containers next removes it (BuildKit's
      // are never in docker ps; this one stayed in ps -a, exited, until the next build).
      let pid = 0;
      const killed = tsbox(who, ["build", "-f", "-", ctx], { stdin: "FROM busybox\nRUN sleep 60\n", timeoutMs: 60_000, onSpawn: (p) => (pid = p) });
      const running = async () => /^tsbox-build-\d+-[0-9a-f]{8}$/m.test((await cli(["ps", "--format", "{{.Names}}"])).stdout);
      for (let i = 0; i < 300 && !(await running()); i++) await new Promise((r) => setTimeout(r, 100));
      const steps = () => readdirSync(join(who.dataDir, "containers")).filter((e) => /^[0-9a-f]{64}$/.test(e));
      const step = steps();
      assert.equal(step.length, 1);
      signalSpawned(pid, "SIGKILL");
      await killed;
      assert.deepEqual(steps(), step, "left by the killed build");
      assert.equal((await cli(["ps", "-a", "--format", "{{.Names}}"])).stdout, "", "ps -a lists no step of a build that is gone");
      assert.deepEqual(steps(), [], "and removed it");
      const usage = await build([]);
      assert.equal(usage.code, 125);
      assert.match(usage.stderr, /requires exactly 1 argument/);
      for (const [args, error] of [
        [["-f", "-", "-"], /^tsbox: can't use stdin for both build context and dockerfile$/m],
        [["--label", "=x", ctx], /^tsbox: invalid label "=x": empty name$/m],
        // A bad -t is a flag error, as docker's, found before the context (before: exit 1, after the Dockerfile).
        [["-t", "BAD TAG", join(ctx, "no-such-dir")], /^tsbox: invalid tag "BAD TAG": expected NAME\[:TAG\]$/m],
      ] as const) {
        const r = await build([...args], { stdin: "FROM busybox\n" });
        assert.equal(r.code, 125, r.stderr);
        assert.match(r.stderr, error);
      }
      // A context's Dockerfile or .dockerignore that leads out of it is not read (a parse error printed the
      // environment through /proc/self/environ); one that names a device is not read for ever; a link that stays
      // inside the context is followed.
      for (const [files, error] of [
        [{ Dockerfile: { link: "/proc/self/environ" } }, /^tsbox: the Dockerfile Dockerfile is a symlink that leads out of the build context \(to \/proc\/\d+\/environ\)\n$/],
        [{ Dockerfile: { link: outside } }, /the Dockerfile Dockerfile is a symlink that leads out of the build context/],
        [{ Dockerfile: "FROM busybox\n", ".dockerignore": { link: "/dev/zero" } }, /^tsbox: the \.dockerignore \.dockerignore is a symlink that leads out of the build context \(to \/dev\/zero\)\n$/],
        [{ Dockerfile: "FROM busybox\n", "dev-zero": { link: "/dev/zero" } }, null],
      ] as const) {
        const linked = context(who, `linked-${Math.random().toString(16).slice(2, 8)}`, files);
        const r = await build(["-q", linked], { env: { SECRET_TOKEN: "s3cr3t" } });
        if (error === null) {
          assert.equal(r.code, 0, r.stderr);
          await cli(["rmi", r.stdout.trim()]);
          continue;
        }
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, error);
        assert.doesNotMatch(r.stderr, /s3cr3t/);
      }
      const inside = context(who, "linked-inside", { "docker/Dockerfile.prod": "FROM busybox\nCMD echo prod\n", Dockerfile: { link: "docker/Dockerfile.prod" } });
      const prod = await build(["-q", "-t", "linked-inside", inside]);
      assert.equal(prod.code, 0, prod.stderr);
      assert.equal((await cli(["run", "--rm", "linked-inside"])).stdout, "prod\n");
      await cli(["rmi", "linked-inside"]);
      // A missing Dockerfile is named by the path looked for (before: "-f x: no such file in CONTEXT" for a path
      // outside the context).
      const bare = context(who, "no-dockerfile", { "ok.txt": "ok" });
      const elsewhere = join(who.scratch, "nope.Dockerfile");
      for (const [args, path] of [[[bare], join(bare, "Dockerfile")], [["-f", elsewhere, bare], elsewhere]] as const) {
        const r = await build([...args]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr, `tsbox: failed to read the Dockerfile: ${path}: no such file or directory\n`);
      }
      // A context file or directory the user cannot read (root's 0600 / 0700) fails its step by line and path
      // (before: Node's bare "EACCES: permission denied, open '/abs/path'"); root reads them, as docker's daemon does.
      const locked = context(who, "locked", { Dockerfile: "FROM busybox\nCOPY . /c/\n", "ok.txt": "ok", "dir/inner": "x", "secret.key": "k" });
      execFileSync("chown", ["0:0", join(locked, "secret.key"), join(locked, "dir")]);
      chmodSync(join(locked, "secret.key"), 0o600);
      chmodSync(join(locked, "dir"), 0o700);
      const copyAll = await build(["-q", "-t", "locked", locked]);
      if (who.name === "root") {
        assert.equal(copyAll.code, 0, copyAll.stderr);
        await cli(["rmi", "locked"]);
      } else {
        assert.equal(copyAll.code, 1);
        assert.match(copyAll.stderr, /^tsbox: line 2: cannot read dir in the build context: permission denied$/m);
        writeFileSync(join(locked, "Dockerfile"), "FROM busybox\nCOPY ok.txt /\nCOPY secret.key /\n");
        const one = await build(["-q", "-t", "locked", locked]);
        assert.equal(one.code, 1);
        assert.match(one.stderr, /^tsbox: line 3: cannot read secret\.key in the build context: permission denied$/m);
        // Named behind the 0700 directory (before: "not found").
        writeFileSync(join(locked, "Dockerfile"), "FROM busybox\nCOPY dir/inner /\n");
        const behind = await build(["-q", "-t", "locked", locked]);
        assert.equal(behind.code, 1);
        assert.match(behind.stderr, /^tsbox: line 2: cannot read dir\/inner in the build context: permission denied$/m);
      }
    });

    it("Ctrl-C or SIGTERM while a RUN step's large layer is written exits 130 or 143 at once, with no temp blob, image or step container left", async () => {
      // Before: the layer write did not take the build's signal; the command died of the signal 3 s later,
      // leaving .blob-<pid>-….tmp until a prune.
      const ctx = context(who, "big-layer", { Dockerfile: "FROM busybox\nRUN head -c 60000000 /dev/urandom > /big\n" });
      const blobTemps = () => readdirSync(who.dataDir).filter((e) => /^\.blob-.*\.tmp$/.test(e));
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        let pid = 0;
        const run = tsbox(who, ["build", "-q", "--no-cache", "-t", "big-layer:1", ctx], { timeoutMs: 120_000, onSpawn: (p) => (pid = p) });
        for (let i = 0; i < 12000 && blobTemps().length === 0; i++) await new Promise((r) => setTimeout(r, 5));
        assert.ok(blobTemps().length > 0, "caught the build writing its layer");
        signalSpawned(pid, signal);
        const r = await run;
        assert.deepEqual([r.code, r.stderr], [signal === "SIGINT" ? 130 : 143, "tsbox: build interrupted\n"], signal);
        assert.deepEqual(blobTemps(), [], `${signal} left the temp blob`);
        assert.equal((await cli(["images", "-q", "big-layer"])).stdout, "", "no image is stored");
        assert.equal((await cli(["ps", "-aq"])).stdout, "", "no step container is left");
      }
    });

    it("a prune while a build step names its image keeps the step's blobs (the build's lease, as a pull's): the build succeeds and no index entry dangles", notAsSingle(who), async () => {
      // The test holds the index lock while the first RUN's container runs: the step then writes its blobs and
      // waits to name them, a prune waits beside it, and the lock's release lets either go first. Before, a prune
      // first deleted the blobs, the step's cache entry dangled and the next step failed with a raw "blob … is
      // missing from <data dir>".
      assert.equal((await tsbox(who, ["run", "--rm", "busybox", "true"])).code, 0);
      const blobs = join(who.dataDir, "blobs", "sha256");
      for (let i = 0; i < 3; i++) {
        const before = readdirSync(blobs).length;
        const mark = `${Date.now()}-${Math.random()}`;
        const building = build(["-t", "pruned:1", "-"], { stdin: `FROM busybox\nRUN sleep 1; echo ${mark} > /one\nRUN echo three > /three\n` });
        const stepRuns = async () => (await tsbox(who, ["ps", "-q", "--filter", "name=tsbox-build-"])).stdout.trim() !== "";
        for (let j = 0; j < 600 && !(await stepRuns()); j++) await new Promise((r) => setTimeout(r, 10));
        const release = await holdLock(who, join(who.dataDir, ".index.lock"), (argv) => tsbox(who, [], { argv }));
        let pruned: Promise<{ code: number; stderr: string }> | undefined;
        try {
          // layer, config, manifest: the step waits for the lock to name them.
          for (let j = 0; j < 1000 && readdirSync(blobs).length < before + 3; j++) await new Promise((r) => setTimeout(r, 10));
          pruned = tsbox(who, ["image", "prune", "-af"]);
          await new Promise((r) => setTimeout(r, 300)); // (lets the prune start waiting too; its order is the kernel's)
        } finally {
          await release();
        }
        assert.equal((await pruned!).code, 0);
        const built = await building;
        assert.equal(built.code, 0, built.stderr);
        assert.deepEqual(missingBlobs(who.dataDir), [], "every blob an index entry reaches is in the store");
        // (the prune may take the finished image itself, as docker's -a takes any image no container uses)
        await tsbox(who, ["rmi", "pruned:1"]);
      }
    });

    it("a prune while a build goes on from cached steps keeps their blobs: the build's lease covers what it reuses", notAsSingle(who), async () => {
      // The cached steps' image is unnamed and its blobs old: the lease, which spares what was written since it was
      // taken, did not cover them, and a prune between the cache lookup and the naming deleted them (the build
      // named an image whose layers were gone). The test holds the index lock before the build: the lookup (under
      // that lock now) and the prune both wait for it, and either may go first.
      const dockerfile = `FROM busybox\nRUN echo ${Date.now()} > /cached\nLABEL pruned=yes\n`;
      assert.equal((await build(["-t", "cached-prune:1", "-"], { stdin: dockerfile })).code, 0);
      await cli(["rmi", "cached-prune:1"]);
      const blobs = join(who.dataDir, "blobs", "sha256");
      for (let i = 0; i < 3; i++) {
        // Made an hour ago, as a cache is: what the build's lease, taken now, would not cover by itself.
        const anHourAgo = new Date(Date.now() - 3_600_000);
        for (const b of readdirSync(blobs)) utimesSync(join(blobs, b), anHourAgo, anHourAgo);
        const release = await holdLock(who, join(who.dataDir, ".index.lock"), (argv) => tsbox(who, [], { argv }));
        let building: Promise<CliResult> | undefined;
        let pruned: Promise<CliResult> | undefined;
        try {
          building = build(["-t", "cached-prune:1", "-"], { stdin: dockerfile });
          await new Promise((r) => setTimeout(r, 500)); // (the build reaches its first step's lookup)
          pruned = tsbox(who, ["builder", "prune", "-af"]);
          await new Promise((r) => setTimeout(r, 300));
        } finally {
          await release();
        }
        assert.equal((await pruned!).code, 0);
        const built = await building!;
        assert.equal(built.code, 0, built.stderr);
        assert.deepEqual(missingBlobs(who.dataDir), [], "every blob an index entry reaches is in the store");
        assert.match((await cli(["run", "--rm", "cached-prune:1", "cat", "/cached"])).stdout, /^\d+\n$/);
        await cli(["rmi", "cached-prune:1"]);
      }
    });

    it("builds through the library API (Runtime.build)", async () => {
      const ctx = context(who, "lib", { "hello.txt": "from the library" });
      const script = `
        const { Runtime } = await import(${JSON.stringify(new URL("../src/index.ts", import.meta.url).pathname)});
        const rt = new Runtime();
        const lines = [];
        const built = await rt.build({ context: ${JSON.stringify(ctx)}, dockerfileText: 'FROM busybox\\nCOPY hello.txt /\\nCMD ["cat", "/hello.txt"]\\n', tags: ["lib:1"], onOutput: (t) => lines.push(t) });
        const out = await (await rt.run({ image: "lib:1", remove: true })).output();
        console.log(JSON.stringify({ id: built.id, tags: built.tags, stdout: out.stdout, progress: lines.join("") }));`;
      const r = await tsbox(who, [], { argv: [process.execPath, "--import", "tsx", "--input-type=module", "-e", script], cwd: repoRoot, timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout) as { id: string; tags: string[]; stdout: string; progress: string };
      assert.match(res.id, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(res.tags, ["docker.io/library/lib:1"]);
      assert.equal(res.stdout, "from the library");
      assert.match(res.progress, /\[2\/3\] COPY hello\.txt \//);
      await cli(["rmi", "lib:1"]);
    });
  });
}
