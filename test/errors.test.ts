/**
 * Bad input gets one clear line on stderr and docker's exit codes: 125 for a
 * tsbox error of run/create (or a usage error), 126 when the command cannot be
 * executed, 127 when it is not found, 1 for other commands' errors. Nothing is
 * left behind.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { identities, cleanupIdentities, notAsSingle } from "./helpers/identities.js";
import { runJsonScript, tsbox, type CliResult } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { TestNetns } from "./helpers/netns.js";
import { errorHint } from "../src/cli/error-hints.js";
import { readFileSync } from "node:fs";
import { CONTAINER_ERROR_REASONS, ContainerError } from "../src/errors.js";
import { build } from "esbuild";
import { tmpdir } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";

after(cleanupIdentities);

const dataDirScript = fileURLToPath(new URL("./helpers/data-dir-error-script.ts", import.meta.url));

it("names the vm's cache where it cannot be made, with the variables that move it (a CI's read-only HOME)", () => {
  const err = Object.assign(new Error("EACCES: permission denied, mkdir '/ro/.cache/tsbox/vm'"), { code: "EACCES", path: "/ro/.cache/tsbox/vm" });
  assert.equal(errorHint(err, { HOME: "/ro", TSBOX_DATA_DIR: "/data" }), "tsbox keeps the vm's saved state in /ro/.cache/tsbox: make it writable, or set XDG_CACHE_HOME (or TSBOX_CACHE_DIR) to a directory you own");
  assert.equal(errorHint(Object.assign(new Error("x"), { code: "EACCES", path: "/elsewhere" }), { HOME: "/ro", TSBOX_DATA_DIR: "/data" }), undefined);
  // A missing home is the parent of every dir under it (login's config dir): not the cache's fault.
  assert.equal(errorHint(Object.assign(new Error("x"), { code: "EACCES", path: "/ro" }), { HOME: "/ro", TSBOX_DATA_DIR: "/data" }), undefined);
});

it("README's error table lists every ContainerError reason, and no other; a reason is the throw site's, never its message's", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const table = readme.slice(readme.indexOf("### Errors"), readme.indexOf("On Linux the **native** backend"));
  const listed = [...table.matchAll(/^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|/gm)].flatMap((m) => m[1]!.split(", ").map((r) => r.slice(1, -1)));
  assert.deepEqual(listed.filter((r) => r !== "reason").sort(), [...CONTAINER_ERROR_REASONS].sort());
  // A path (copyFrom's) with the wording of a refusal in it was that refusal.
  assert.equal(new ContainerError("Could not find the file /data is paused in container c").reason, undefined);
});

it("every exported error class keeps its name through an app's minifier (which renames classes): err.name, String(err)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbox-minified-"));
  try {
    for (const entry of ["src/index.ts", "src/browser.ts"]) {
      const out = join(dir, "entry.mjs");
      await build({ entryPoints: [entry], outfile: out, bundle: true, minify: true, format: "esm", platform: "node", packages: "external", logLevel: "error" });
      const mod: Record<string, unknown> = await import(`${pathToFileURL(out).href}?${entry}`);
      const classes = Object.entries(mod).filter((e): e is [string, new (...a: unknown[]) => Error] => typeof e[1] === "function" && e[1].prototype instanceof Error);
      assert.ok(classes.length >= 7, `${entry}: ${classes.map(([n]) => n).join(", ")}`);
      for (const [name, cls] of classes) {
        assert.notEqual(cls.name, name, `${entry}: the minifier kept ${name}'s class name: the test proves nothing`);
        // Each constructor's first arguments are strings (OutputLimitError's third its partial output).
        const err = new cls("m", "m", { stdout: "", stderr: "" });
        assert.equal(err.name, name, entry);
        assert.match(String(err), new RegExp(`^${name}: `), entry);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("a page's errors are Node's: an ImageError's notFound crosses from the Worker, and tsbox/browser exports the same predicates", async () => {
  const { reviveError } = await import("../src/backends/vm/browser/revive-error.js");
  const node = await import("../src/index.js");
  const page = await import("../src/browser.js");
  for (const name of ["isImageNotFound", "isTsboxError", "hasReason"] as const) assert.equal(typeof page[name], "function", name);
  // Before: notFound was lost on the way, so isImageNotFound said false in a page for a missing image.
  const missing = reviveError({ message: "unable to find image nothing:1", code: "image", exitCode: 125, name: "ImageError", notFound: true });
  assert.ok(missing instanceof node.ImageError);
  assert.deepEqual([page.isImageNotFound(missing), node.isImageNotFound(missing)], [true, true]);
  assert.equal(page.isImageNotFound(reviveError({ message: "bad layer", code: "image", name: "ImageError" })), false);
});

it("a page's machine config and warmUp are checked where they are given, not in the emulator", async () => {
  const { checkMachineConfig, DEFAULT_CONFIG } = await import("../src/backends/vm/core/machine-config.js");
  const { Runtime } = await import("../src/browser.js");
  assert.deepEqual(checkMachineConfig({ ...DEFAULT_CONFIG }), DEFAULT_CONFIG);
  // 64 MiB: an uncaught "offset is out of bounds" in the page, then "the emulator did not load within 30 s".
  assert.throws(() => new Runtime({ config: { ...DEFAULT_CONFIG, memoryMb: 64 } }), { name: "UsageError", message: /^config\.memoryMb: expected a whole number of MiB from 128 .* got number 64$/ });
  assert.throws(() => new Runtime({ config: { memoryMb: 256 } as never }), { message: "config.cmdline: expected the kernel command line as a string, got undefined" });
  assert.throws(() => new Runtime({ warmUp: "nope" as never }), { message: 'warmUp: expected "before-ready", "after-ready" or "off", got the string "nope"' });
});

function oneLine(r: CliResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^tsbox: /);
  assert.match(lines[0]!, pattern);
  assert.equal(r.stdout, "");
}

for (const who of identities()) {
  describe(`errors as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("unknown image", async () => {
      oneLine(await tsbox(who, ["run", "--rm", "no-such-image-here", "true"]), 125, /no-such-image-here/);
      // distribution's limits: a name of at most 255 characters, a tag of 128.
      oneLine(await tsbox(who, ["run", "--rm", "a".repeat(256), "true"]), 125, /repository name must not be more than 255 characters/);
      oneLine(await tsbox(who, ["tag", "busybox", `busybox:${"t".repeat(129)}`]), 1, /bad tag/);
    });

    it("tag refuses a digest as the new name", notAsSingle(who), async () => {
      // It stored `repo@sha256:0…` for busybox, a digest busybox does not have, and that name then resolved to it.
      const digest = `sha256:${"0".repeat(64)}`;
      for (const target of [`names-tag/y@${digest}`, `names-tag/y:t@${digest}`]) {
        oneLine(await tsbox(who, ["tag", "busybox", target]), 1, /invalid reference format: .*a digest cannot be given to a new image/);
      }
      const listed = await tsbox(who, ["images", "-q", "names-tag/y"]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout, "", "no name was stored");
    });

    it("command not found", async () => {
      oneLine(await tsbox(who, ["run", "--rm", "busybox", "no-such-command"]), 127, /executable file not found in \$PATH: no-such-command/);
      oneLine(await tsbox(who, ["run", "--rm", "busybox", "/no/such/path"]), 127, /no such file or directory: \/no\/such\/path/);
    });

    it("command not executable", async () => {
      oneLine(await tsbox(who, ["run", "--rm", "busybox", "/etc/passwd"]), 126, /permission denied: \/etc\/passwd/);
      // Executable, but no program: what another architecture's binary gives (it said "permission denied").
      const dir = mkdtempSync(join(who.scratch, "noexec-"));
      writeFileSync(join(dir, "prog"), "no #! and no ELF header\n", { mode: 0o755 });
      chownSync(dir, who.uid, who.gid);
      oneLine(await tsbox(who, ["run", "--rm", "-v", `${dir}:/b:ro`, "busybox", "/b/prog"]), 126, /^tsbox: exec format error: \/b\/prog \(not a program this machine can run/);
      rmSync(dir, { recursive: true });
    });

    it("bad flag", notAsSingle(who), async () => {
      oneLine(await tsbox(who, ["run", "--frobnicate", "busybox", "true"]), 125, /unknown flag: --frobnicate/);
      // A docker flag tsbox has not: what to do instead.
      oneLine(await tsbox(who, ["run", "--link", "db:db", "busybox", "true"]), 125, /^tsbox: unknown flag: --link: docker's legacy links are not in tsbox: put the containers on a network of your own .*--network-alias$/);
      oneLine(await tsbox(who, ["frobnicate"]), 125, /unknown command: frobnicate \(see tsbox --help\)/);
      // A typo gets podman's suggestions; `help COMMAND` is that command's help, as docker's.
      oneLine(await tsbox(who, ["rnu", "busybox"]), 125, /^tsbox: unknown command: rnu \(did you mean run, rmi\? see tsbox --help\)$/);
      // The same within every group, each pointing at its own help.
      for (const [typed, said] of [
        [["volume", "lss"], "volume lss (did you mean ls, list? see tsbox volume --help)"],
        [["network", "conect", "n", "c"], "network conect (did you mean connect? see tsbox network --help)"],
        [["image", "prnue"], "image prnue (did you mean prune? see tsbox image --help)"],
        [["container", "exce", "c", "sh"], "container exce (did you mean exec? see tsbox container --help)"],
        [["system", "dff"], "system dff (did you mean df? see tsbox system --help)"],
        [["builder", "prun"], "builder prun (did you mean prune? see tsbox builder --help)"],
        [["vm", "stats"], "vm stats (did you mean status, start? see tsbox vm --help)"],
        [["volume", "frobnicate"], "volume frobnicate (see tsbox volume --help)"],
      ] as const) {
        oneLine(await tsbox(who, [...typed]), 125, new RegExp(`^tsbox: unknown command: ${said.replace(/[()?]/g, "\\$&")}$`));
      }
      const help = await tsbox(who, ["help", "run"]);
      assert.deepEqual([help.code, help.stdout.split("\n")[0]], [0, "Usage: tsbox run [OPTIONS] IMAGE [COMMAND] [ARG...]"]);
      // No command: docker's help on stdout, exit 0; a group's subcommand has its own usage, as docker's.
      const bare = await tsbox(who, []);
      assert.deepEqual([bare.code, bare.stdout.split("\n")[0], bare.stderr], [0, "Usage: tsbox COMMAND [OPTIONS]", ""]);
      for (const sub of ["create", "ls", "rm", "prune", "connect", "disconnect"]) {
        const usage = await tsbox(who, ["network", sub, "--help"]);
        assert.deepEqual([usage.code, usage.stdout.split("\n").length, usage.stdout.startsWith(`Usage: tsbox network ${sub} `)], [0, 2, true], usage.stdout);
      }
      oneLine(await tsbox(who, ["run"]), 125, /requires an image/i);
      oneLine(await tsbox(who, ["run", "-e"]), 125, /-e.*(needs|requires) a value/i);
    });

    it("boolean flags take strconv.ParseBool's forms (--rm=1, -t=0, --init=T), as docker's pflag; others are a usage error", notAsSingle(who), async () => {
      const ran = await tsbox(who, ["run", "--rm=1", "-t=0", "--init=T", "--detach=False", "--name", "pb-gone", "busybox", "echo", "ran"]);
      assert.deepEqual([ran.code, ran.stdout], [0, "ran\n"], ran.stderr);
      const kept = await tsbox(who, ["run", "--rm=f", "--name", "pb-kept", "busybox", "true"]);
      assert.equal(kept.code, 0, kept.stderr);
      const listed = await tsbox(who, ["ps", "-a", "--filter", "name=^pb-", "--format", "{{.Names}}"]);
      assert.equal(listed.stdout, "pb-kept\n", "--rm=1 removed its container, --rm=f kept it");
      assert.equal((await tsbox(who, ["rm", "pb-kept"])).code, 0);
      oneLine(await tsbox(who, ["run", "--rm=yes", "busybox", "true"]), 125, /^tsbox: invalid value "yes" for flag --rm: expected true or false/);
    });

    it("no such container: exit 1 from every verb but run and create (125), as docker-cli", notAsSingle(who), async () => {
      const nope = "no-such-container-here";
      const verbs: string[][] = [
        ["start", nope], ["stop", nope], ["restart", nope], ["kill", nope], ["pause", nope], ["unpause", nope], ["wait", nope],
        ["rm", nope], ["rename", nope, "other"], ["exec", nope, "true"], ["attach", nope], ["logs", nope], ["top", nope],
        ["stats", "--no-stream", nope], ["port", nope], ["cp", `${nope}:/x`, "-"],
        ["diff", nope], ["commit", nope], ["export", nope], ["update", "--cpus", "1", nope], ["container", "logs", nope],
      ];
      for (const args of verbs) oneLine(await tsbox(who, args), 1, new RegExp(`no such container: ${nope}`));
      // inspect prints what it found (docker's `[]`) before the error.
      const inspected = await tsbox(who, ["inspect", "--type", "container", nope]);
      assert.deepEqual([inspected.code, inspected.stdout], [1, "[]\n"], inspected.stderr);
      for (const verb of ["run", "create"]) oneLine(await tsbox(who, [verb, "--rm", "--network", `container:${nope}`, "busybox", "true"]), 125, new RegExp(nope));
      oneLine(await tsbox(who, ["container", "run", "--rm", "--network", `container:${nope}`, "busybox", "true"]), 125, new RegExp(nope));
    });

    it("rm -f, rmi -f and network rm -f of what does not exist: exit 0, as docker-cli (a script's cleanup under set -e)", notAsSingle(who), async () => {
      const nope = "no-such-thing-here";
      const rm = await tsbox(who, ["rm", "-f", nope]);
      assert.deepEqual([rm.code, rm.stdout, rm.stderr], [0, "", `tsbox: no such container: ${nope}\n`]);
      const rmi = await tsbox(who, ["rmi", "-f", nope]);
      assert.deepEqual([rmi.code, rmi.stdout], [0, ""], rmi.stderr);
      assert.match(rmi.stderr, /^tsbox: image not found: no-such-thing-here/);
      const net = await tsbox(who, ["network", "rm", "-f", nope]);
      assert.deepEqual([net.code, net.stdout, net.stderr], [0, "", ""]);
      // Without -f, each still fails; a real one beside a missing one goes, and other failures still count.
      oneLine(await tsbox(who, ["rmi", nope]), 1, /image not found/);
      oneLine(await tsbox(who, ["network", "rm", nope]), 1, /network no-such-thing-here not found/);
      // Root's bridge networks in a namespace of the test's own: the machine's is other test files' to check for leaks.
      const ns = who.uid === 0 ? TestNetns.create() : undefined;
      try {
        assert.equal((await tsbox(who, ["network", "create", "rmf-net"], { netns: ns?.path })).code, 0);
        const both = await tsbox(who, ["network", "rm", nope, "rmf-net", "host"], { netns: ns?.path });
        assert.deepEqual([both.code, both.stdout], [1, "rmf-net\n"], both.stderr);
        assert.equal(both.stderr, `tsbox: network ${nope} not found\ntsbox: host is a pre-defined network and cannot be removed\n`);
      } finally {
        ns?.destroy();
      }
      assert.equal((await tsbox(who, ["create", "--name", "rmf-ctr", "busybox", "true"])).code, 0);
      const mixed = await tsbox(who, ["rm", "-f", nope, "rmf-ctr"]);
      assert.deepEqual([mixed.code, mixed.stdout], [0, "rmf-ctr\n"], mixed.stderr);
    });

    it("-it without a terminal on stdin: docker's refusal, exit 1 (-t alone runs)", notAsSingle(who), async () => {
      oneLine(await tsbox(who, ["run", "-it", "--rm", "busybox", "true"]), 1, /the input device is not a TTY/);
      const ttyOnly = await tsbox(who, ["run", "-t", "--rm", "busybox", "echo", "ran"]);
      assert.equal(ttyOnly.code, 0, ttyOnly.stderr);
      assert.match(ttyOnly.stdout, /^ran\r?\n$/);
    });

    it("a data directory it cannot write: what failed and what to do", async (t) => {
      // Under a file (every user), and in root's home (only users are denied).
      const dirs = ["/etc/hostname/tsbox-data", ...(who.name === "root" ? [] : ["/root/tsbox-data"])];
      for (const dir of dirs) {
        const r = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: { TSBOX_DATA_DIR: dir } });
        // Never "make it writable": root's (or another user's) store is no one else's to share.
        // (It does not exist: its parent, where mkdir failed, is root's.)
        const owner = who.uid === 0 ? "" : `, which does not exist and cannot be made: ${dirname(dir)} belongs to root \\(uid 0\\)`;
        oneLine(r, 125, new RegExp(`\\(tsbox keeps images and containers in ${dir}${owner}: set TSBOX_DATA_DIR \\(or XDG_DATA_HOME\\) to a directory you own\\)$`));
        t.diagnostic(r.stderr.trim());
      }
      // Under /proc, where Node's recursive mkdir never returned (100 % CPU, deaf to Ctrl-C): an error.
      oneLine(await tsbox(who, ["run", "--rm", "busybox", "true"], { env: { TSBOX_DATA_DIR: "/proc/tsbox-data" }, timeoutMs: 30_000 }), 125, /ENOENT: no such file or directory, mkdir '\/proc\/tsbox-data'/);
    });

    it("new Runtime() where the data dir cannot be made: a TsboxError naming the data dir and what to do, Node's error its cause", async () => {
      // Under a file (every user, root too); in a read-only HOME (0555: only users are denied).
      const roHome = join(who.scratch, "ro-home");
      mkdirSync(roHome);
      chownSync(roHome, who.uid, who.gid);
      chmodSync(roHome, 0o555);
      const underFile = "/etc/hostname/tsbox-data";
      try {
        const r = await runJsonScript(who, dataDirScript, [underFile, ...(who.uid === 0 ? [] : [`home:${roHome}`])]);
        const owner = (dir: string) => (who.uid === 0 ? "" : `, which does not exist and cannot be made: ${dir} belongs to root \\(uid 0\\)`);
        assert.deepEqual({ ...r[underFile], message: undefined }, { tsbox: true, name: "TsboxError", message: undefined, exitCode: 125, causeCode: "ENOTDIR", causePath: underFile });
        assert.match(r[underFile].message, new RegExp(`^ENOTDIR: not a directory, mkdir '${underFile}' \\(tsbox keeps images and containers in ${underFile}${owner(dirname(underFile))}: set TSBOX_DATA_DIR \\(or XDG_DATA_HOME\\) to a directory you own\\)$`));
        if (who.uid !== 0) {
          const home = r[`home:${roHome}`];
          assert.deepEqual([home.tsbox, home.causeCode, home.causePath], [true, "EACCES", join(roHome, ".local")]);
          assert.equal(home.message, `EACCES: permission denied, mkdir '${join(roHome, ".local")}' (tsbox keeps images and containers in ${join(roHome, ".local", "share", "tsbox")}: set TSBOX_DATA_DIR (or XDG_DATA_HOME) to a directory you own)`);
          // The CLI says the same, once.
          const cli = await tsbox(who, ["images"], { env: { HOME: roHome, TSBOX_DATA_DIR: "" } });
          assert.equal(cli.stderr, `tsbox: ${home.message}\n`);
          assert.equal(cli.code, 1);
        }
      } finally {
        rmSync(roHome, { recursive: true, force: true });
      }
    });

    it("a data dir reached through the user's own symlink (TSBOX_DATA_DIR, XDG_DATA_HOME, a dotfiles ~/.local) works at its real path", async () => {
      const disk = join(who.scratch, "disk");
      const link = join(who.scratch, "disk-link");
      const dotLocal = join(who.scratch, ".local");
      mkdirSync(disk);
      chownSync(disk, who.uid, who.gid);
      for (const l of [link, dotLocal]) {
        symlinkSync(disk, l);
        lchownSync(l, who.uid, who.gid);
      }
      try {
        // Each a fresh store: busybox is unpacked (a bind of the unpack dir) and run (binds of its net/ files).
        const envs: Record<string, string>[] = [{ TSBOX_DATA_DIR: join(link, "dd") }, { TSBOX_DATA_DIR: "", XDG_DATA_HOME: join(link, "xdg") }, { TSBOX_DATA_DIR: "" }];
        for (const env of envs) {
          const r = await tsbox(who, ["run", "--rm", "busybox", "echo", "hi"], { env });
          assert.deepEqual([r.code, r.stdout, r.stderr], [0, "hi\n", ""], JSON.stringify(env));
        }
        const info = await tsbox(who, ["info", "-f", "{{.DockerRootDir}}"], { env: { TSBOX_DATA_DIR: join(link, "dd") } });
        assert.equal(info.stdout, `${join(disk, "dd")}\n`);
      } finally {
        for (const env of [{ TSBOX_DATA_DIR: join(disk, "dd") }, { TSBOX_DATA_DIR: join(disk, "xdg", "tsbox") }, { TSBOX_DATA_DIR: join(disk, "share", "tsbox") }]) {
          await tsbox(who, ["system", "prune", "-a", "-f"], { env });
        }
        for (const l of [link, dotLocal]) rmSync(l);
      }
    });

    it("another user's data dir is refused, whoever can write it (root's own only); never 'make it writable'", async () => {
      for (const other of identities().filter((o) => o.uid !== who.uid)) {
        // Shared the way "make it writable" suggested: the owner's still.
        const shared = join(other.scratch, `shared-${who.name}`);
        mkdirSync(shared, { mode: 0o777 });
        chmodSync(shared, 0o1777);
        chownSync(shared, other.uid, other.gid);
        const mine = `, not to you \\(uid ${who.uid}\\): each user needs a data dir of their own; set TSBOX_DATA_DIR \\(or XDG_DATA_HOME\\) to a directory you own$`;
        for (const args of [["ps", "-a"], ["run", "--rm", "busybox", "true"]]) {
          const r = await tsbox(who, args, { env: { TSBOX_DATA_DIR: shared } });
          oneLine(r, args[0] === "run" ? 125 : 1, new RegExp(`^tsbox: the data dir ${shared} belongs to \\S+ \\(uid ${other.uid}\\)${mine}`));
        }
        assert.deepEqual(readdirSync(shared), [], "nothing made in it");
      }
    });

    it("a HOME that does not exist: the error names the parent mkdir was refused, not the data dir as another user's", { skip: who.uid === 0 && "root can make /nonexistent" }, async () => {
      const r = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: { HOME: "/nonexistent", TSBOX_DATA_DIR: "" } });
      oneLine(r, 125, /\(tsbox keeps images and containers in \/nonexistent\/\.local\/share\/tsbox, which does not exist and cannot be made: \/ belongs to root \(uid 0\): set TSBOX_DATA_DIR/);
    });

    it("a TMPDIR that does not exist does not matter to build from stdin: its context goes in the data dir", async () => {
      // (Before: mkdtemp in TMPDIR failed, and a SIGKILLed build left the context there for good.)
      const r = await tsbox(who, ["build", "-q", "-"], { stdin: "FROM busybox\nLABEL from=stdin\n", env: { TMPDIR: "/nonexistent" } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
      assert.equal((await tsbox(who, ["rmi", r.stdout.trim()])).code, 0);
    });

    it("a uid without a passwd entry and no HOME (docker -u 1234, CI): says to set HOME or TSBOX_DATA_DIR, not libuv's ENOENT", { skip: who.name !== "root" && "setting another uid needs root" }, async () => {
      const nobody = { ...who, uid: 4242, gid: 4242, scratch: "/" };
      for (const args of [["info"], ["run", "--rm", "busybox", "true"]]) {
        const r = await tsbox(nobody, args, { bareEnv: { PATH: "/usr/bin:/bin" } });
        oneLine(r, 125, /^tsbox: no home directory for uid 4242 \(HOME is not set and \/etc\/passwd has no entry for it\): set HOME, or TSBOX_DATA_DIR/);
      }
    });

    it("HOME of another user (sudo -E, su -m) is not where its store goes: the passwd entry's home is", async () => {
      for (const other of identities().filter((o) => o.uid !== who.uid)) {
        const info = await tsbox(who, ["info", "-f", "{{.DockerRootDir}}"], { env: { HOME: other.scratch, TSBOX_DATA_DIR: "" } });
        assert.equal(info.code, 0, info.stderr);
        assert.equal(info.stdout.startsWith(other.scratch), false, info.stdout);
        assert.equal(existsSync(join(other.scratch, ".local")), false, "nothing of ours made in their home");
      }
    });

    it("a data dir on a file system overlayfs cannot use (no d_type, no xattrs): run and pull refuse it, info says why, ps still works", { skip: process.getuid?.() !== 0 && "mounting the file systems needs root" }, async () => {
      const cases = [
        { name: "no-dtype", problem: /does not record file types in its directories \(d_type/ },
        { name: "ramfs", problem: new RegExp(`without ${who.uid === 0 ? "trusted" : "user"}\\.\\* extended attributes`) },
      ];
      for (const { name, problem } of cases) {
        const mnt = join(who.scratch, name);
        const image = join(who.scratch, `${name}.img`);
        mkdirSync(mnt);
        if (name === "ramfs") execFileSync("mount", ["-t", "ramfs", "none", mnt]);
        else {
          execFileSync("truncate", ["-s", "64M", image]);
          execFileSync("mkfs.ext4", ["-q", "-O", "^filetype", image]);
          execFileSync("mount", ["-o", "loop", image, mnt]);
        }
        try {
          chownSync(mnt, who.uid, who.gid);
          const env = { TSBOX_DATA_DIR: join(mnt, "data") };
          const refused = new RegExp(`^tsbox: the data dir ${join(mnt, "data")} is on a file system .*${problem.source}.*: set TSBOX_DATA_DIR to a directory on another file system`);
          oneLine(await tsbox(who, ["run", "--rm", "busybox", "true"], { env }), 125, refused);
          const info = await tsbox(who, ["info"], { env });
          assert.equal(info.code, 0, info.stderr);
          assert.match(info.stderr, problem);
          assert.equal((await tsbox(who, ["ps", "-a"], { env })).code, 0, "what is there can still be listed and removed");
        } finally {
          execFileSync("umount", [mnt]);
          rmSync(image, { force: true });
        }
      }
    });

    it("bad volume", async () => {
      // -v makes a missing directory (docker's rule): one that cannot be made, below a file, is refused.
      const file = join(who.scratch, "a-file");
      writeFileSync(file, "");
      oneLine(await tsbox(who, ["run", "--rm", "-v", `${file}/sub:/data`, "busybox", "true"]), 125, /cannot create the host directory .*a-file\/sub: not a directory/);
      oneLine(await tsbox(who, ["run", "--rm", "-v", "relative/dir:/data", "busybox", "true"]), 125, /absolute/);
      oneLine(await tsbox(who, ["run", "--rm", "-v", `${who.scratch}:data`, "busybox", "true"]), 125, /absolute/);
      oneLine(await tsbox(who, ["run", "--rm", "-v", `${who.scratch}:/data:bogus`, "busybox", "true"]), 125, /bogus/);
    });

    it("unknown user name", async () => {
      oneLine(await tsbox(who, ["run", "--rm", "-u", "nosuchuser", "busybox", "true"]), 125, /unable to find user nosuchuser/);
    });

    it("an exec whose process cannot be set up exits 126 (docker's daemon records that for an exec that failed to start); -d 1", async () => {
      // Before: 125 from the helper that takes the CLI over, 1 through Node (-t, -d), 125 for an unknown user.
      const name = `errors-exec-${who.name}`;
      const started = await tsbox(who, ["run", "-d", "--name", name, "busybox", "sleep", "300"]);
      assert.equal(started.code, 0, started.stderr);
      try {
        oneLine(await tsbox(who, ["exec", "-w", "/nonexist", name, "pwd"]), 126, /^tsbox: entering the working directory \/nonexist: No such file or directory$/);
        oneLine(await tsbox(who, ["exec", "-i", "-w", "/nonexist", name, "pwd"]), 126, /entering the working directory \/nonexist/);
        oneLine(await tsbox(who, ["exec", "-u", "nosuchuser", name, "id"]), 126, /^tsbox: unable to find user nosuchuser: no matching entries in passwd file$/);
        oneLine(await tsbox(who, ["exec", "-u", "0:nosuchgroup", name, "id"]), 126, /unable to find group nosuchgroup/);
        // docker's -d: the start's error from the daemon, exit 1.
        oneLine(await tsbox(who, ["exec", "-d", "-w", "/nonexist", name, "pwd"]), 1, /entering the working directory \/nonexist/);
        // (before stop 66 an unknown user with -d exited 125, and a rootless uid past the range 1 attached)
        oneLine(await tsbox(who, ["exec", "-d", "-u", "nosuchuser", name, "id"]), 1, /^tsbox: unable to find user nosuchuser/);
        if (who.name === "user") oneLine(await tsbox(who, ["exec", "-u", "70000", name, "id"]), 126, /uid 70000 is not mapped in the user namespace/);
        // Still the command's own codes, a usage error's 125, and the process's own 125.
        oneLine(await tsbox(who, ["exec", name, "no-such-command"]), 127, /executable file not found/);
        oneLine(await tsbox(who, ["exec", "-w", "relative", name, "pwd"]), 125, /absolute/);
        const own = await tsbox(who, ["exec", name, "sh", "-c", "exit 125"]);
        assert.deepEqual([own.code, own.stderr], [125, ""]);
      } finally {
        await tsbox(who, ["rm", "-f", name]);
      }
    });

    it("bad working directory and env", async () => {
      oneLine(await tsbox(who, ["run", "--rm", "-w", "relative", "busybox", "true"]), 125, /absolute/);
      oneLine(await tsbox(who, ["run", "--rm", "-e", "=novalue", "busybox", "true"]), 125, /env/i);
    });
  });
}
