/**
 * What a user gets from npm. Packs every package (scripts/pack.ts), then,
 * in a clean environment that has Node and nothing of this repo — the
 * unprivileged `tsbox-test` user, a fresh HOME, a PATH holding only node,
 * npm, npx, sh and newuidmap/newgidmap (no cargo, rustc, gcc or make), the
 * @tsbox scope pointed at a closed port so nothing of tsbox's own can come
 * from a registry — installs the tarballs as a user would and runs the CLI
 * and the README's library example: on this Linux host (native backend, and
 * the vm backend when asked), and installed as for a Mac (`--os=darwin
 * --cpu=arm64`: npm leaves the Linux package out, everything runs through
 * the vm backend). Tarball sizes, contents and install times are checked
 * and printed.
 */
import { describe, it, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import { ensureUser, type Identity } from "./helpers/identities.js";
import { repoRoot, tsbox, type CliResult } from "./helpers/cli.js";
import { assertNoLeaks, snapshot, type Snapshot } from "./helpers/leaks.js";
import { endNestHolder } from "./helpers/nest-holder.js";
import { vmSkip } from "./helpers/vm.js";
import { danglingMapComments, readPacked, relativeLinks, type Packed } from "../scripts/packed.js";

const isRoot = process.getuid!() === 0;
const skip = vmSkip || (!isRoot && "needs root (installs as the unprivileged tsbox-test user)");
/** Debian's arm64 Node, unpacked by scripts/arm64-node.sh (scripts/setup.sh runs it). */
const arm64Sysroot = existsSync(join(repoRoot, ".cache", "arm64-node", "usr", "bin", "node")) ? join(repoRoot, ".cache", "arm64-node") : undefined;
/** The current LTS Node (24), unpacked by scripts/lts-node.sh (scripts/setup.sh runs it): users have it, not 20. */
const ltsNode = existsSync(join(repoRoot, ".cache", "node-lts", "bin", "node")) ? join(repoRoot, ".cache", "node-lts", "bin", "node") : undefined;
const arm64Skip = !arm64Sysroot ? "no arm64 Node: run scripts/arm64-node.sh" : !onPath("qemu-aarch64-static") ? "qemu-aarch64-static missing (apt-get install qemu-user-static)" : false;

function onPath(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The clean machine: its user, HOME, PATH and a work dir the tarballs are copied to. */
interface Clean {
  who: Identity;
  home: string;
  bin: string;
  /** The same PATH with the LTS Node as `node` (npm and npx run on it too). */
  ltsBin: string;
  work: string;
  tarballs: Record<string, string>;
}

let root: string;
let clean: Clean;
let packed: Packed[];

interface Result extends CliResult {
  ms: number;
}

/** Runs a command as the clean user, in `cwd`, with nothing but PATH, HOME and LANG (and a quiet npm) in its environment. */
async function asUser(argv: string[], cwd: string, timeoutMs = 240_000, bin = clean.bin): Promise<Result> {
  const t0 = performance.now();
  // npm's "new version available" notice is no output of tsbox's.
  const bareEnv = { PATH: bin, HOME: clean.home, LANG: "C.UTF-8", npm_config_update_notifier: "false" };
  const r = await tsbox(clean.who, [], { argv, cwd, bareEnv, timeoutMs });
  return { ...r, ms: performance.now() - t0 };
}

function ok(r: Result, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
}

/** npm as a user runs it, minus noise; tsbox's own packages can come only from the tarballs. */
function npmInstall(dir: string, args: string[], bin = clean.bin): Promise<Result> {
  return asUser(["npm", "install", "--no-audit", "--no-fund", "--fetch-retries=0", "--@tsbox:registry=http://127.0.0.1:9/", ...args], dir, 240_000, bin);
}

/** A fresh project dir of the clean user with these packages' tarballs npm-installed; prints the time it took. */
async function installApp(name: string, packages: string[], flags: string[] = [], bin = clean.bin): Promise<string> {
  const app = join(clean.work, name);
  mkdirSync(app);
  chownSync(app, clean.who.uid, clean.who.gid);
  const r = await npmInstall(app, [...flags, ...packages.map((n) => clean.tarballs[n]!)], bin);
  ok(r, "npm install");
  process.stderr.write(`# npm install ${flags.join(" ")} of ${packages.join(", ")} (v86 from the registry or npm's cache): ${(r.ms / 1000).toFixed(1)} s\n`);
  return app;
}

/** The first ```js block of the README: its library example. */
function readmeExample(): string {
  const m = /```js\n([\s\S]*?)```/.exec(readFileSync(join(repoRoot, "README.md"), "utf8"));
  assert.ok(m, "README.md has a ```js example");
  return m[1]!;
}

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), "package-test-"));
  chmodSync(root, 0o755);
  const t0 = performance.now();
  execFileSync(process.execPath, ["--import", "tsx", join(repoRoot, "scripts", "pack.ts"), "--out", join(root, "packages")], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  packed = readPacked(join(root, "packages"));
  process.stderr.write(`# packed ${packed.length} packages in ${Math.round(performance.now() - t0)} ms\n`);

  const user = ensureUser("tsbox-test", false);
  const home = join(root, "home");
  const bin = join(root, "bin");
  const ltsBin = join(root, "lts-bin");
  const work = join(root, "work");
  for (const d of [home, bin, ltsBin, work]) mkdirSync(d);
  // Exactly what a user's machine must have: Node with npm, a shell for npx, and newuidmap for rootless id ranges.
  for (const tool of ["node", "npm", "npx", "sh", "newuidmap", "newgidmap"]) {
    const path = realpathSync(execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim());
    symlinkSync(path, join(bin, tool));
    symlinkSync(tool === "node" && ltsNode ? ltsNode : path, join(ltsBin, tool));
  }
  const tarballs: Record<string, string> = {};
  for (const p of packed) {
    tarballs[p.name] = join(work, p.file);
    copyFileSync(join(root, "packages", p.file), tarballs[p.name]!);
    chmodSync(tarballs[p.name]!, 0o644);
  }
  chownSync(home, user.uid, user.gid);
  chownSync(work, user.uid, user.gid);
  const dataDir = join(home, ".local", "share", "tsbox");
  clean = { who: { name: "user", ...user, dataDir, scratch: home }, home, bin, ltsBin, work, tarballs };
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("npm packages", { skip }, () => {
  it("packs tsbox, the native package and the images package, in step, without tests, sources or build caches", () => {
    const byName = Object.fromEntries(packed.map((p) => [p.name, p]));
    assert.deepEqual(Object.keys(byName).sort(), ["@tsbox/images", "@tsbox/linux-arm64-gnu", "@tsbox/linux-x64-gnu", "tsbox"]);
    for (const p of packed) process.stderr.write(`# ${p.file}: ${(p.size / 1e6).toFixed(2)} MB packed, ${(p.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${p.entryCount} files\n`);
    const manifest = (p: Packed) => JSON.parse(execFileSync("tar", ["xzOf", join(root, "packages", p.file), "package/package.json"], { encoding: "utf8" })) as Record<string, Record<string, string> | string | string[]>;
    const tsbox = manifest(byName.tsbox!);
    const version = tsbox.version as string;
    assert.deepEqual(tsbox.optionalDependencies, { "@tsbox/linux-x64-gnu": version, "@tsbox/linux-arm64-gnu": version });
    assert.equal((tsbox.dependencies as Record<string, string>)["@tsbox/images"], version);
    for (const cpu of ["x64", "arm64"]) {
      const native = manifest(byName[`@tsbox/linux-${cpu}-gnu`]!);
      assert.equal(native.version, version);
      assert.deepEqual([native.os, native.cpu, native.libc], [["linux"], [cpu], ["glibc"]]);
    }
    assert.equal(manifest(byName["@tsbox/images"]!).version, version);
    // The browser's guest in dist/browser/guest is GPL and LGPL software: said in the license field and NOTICE.md.
    assert.equal(tsbox.license, "MIT AND GPL-2.0-only AND LGPL-3.0-only");
    const notice = execFileSync("tar", ["xzOf", join(root, "packages", byName.tsbox!.file), "package/NOTICE.md"], { encoding: "utf8" });
    assert.match(notice, /Linux [\d.-]+ and BusyBox \S+ are GPL-2\.0-only, SeaBIOS \S+ is LGPL-3\.0-only/);
    assert.equal((tsbox.exports as unknown as Record<string, string>)["./package.json"], "./package.json");
    for (const p of packed) {
      const m = manifest(p);
      for (const hook of ["preinstall", "install", "postinstall", "prepare"]) assert.equal((m.scripts as Record<string, string> | undefined)?.[hook], undefined, `${p.name} has no ${hook} script`);
      const list = execFileSync("tar", ["tvzf", join(root, "packages", p.file)], { encoding: "utf8" }).trim().split("\n");
      const files = list.map((l) => l.split(/\s+/).slice(5).join(" "));
      const bad = files.filter((f) => /(^|\/)(test|tests|src|native-rs|vm-images|node_modules|\.cache|target|dist\/web)\//.test(f) || /\.(map|rs)$|\.test\.|(?<!\.d)\.ts$|kernel\.config|linux-[0-9.]+|(^|\/)\.space-reserve$/.test(f));
      // (.space-reserve: an image store's room for its index on a full disk; the shipped layouts are only read.)
      assert.deepEqual(bad, [], `${p.name} ships no tests, sources, build caches, store reserves or the playground`);
      if (p.name.startsWith("@tsbox/linux-")) assert.match(list.find((l) => l.endsWith("package/tsbox-runtime"))!, /^-rwxr-xr-x/, "tsbox-runtime stays executable");
      // npm's page shows the packaged README: every file it links to by relative path is in the package (docs/ was not).
      const readme = execFileSync("tar", ["xzOf", join(root, "packages", p.file), "package/README.md"], { encoding: "utf8" });
      const missing = relativeLinks(readme).filter((f) => !files.includes(posix.join("package", f)));
      assert.deepEqual(missing, [], `${p.name}'s README links only to files it ships`);
      // No script names a map the package lacks (Vite's dev server printed a stack trace for tsbox.js.map on every start).
      const unpacked = join(root, "unpacked", p.name);
      mkdirSync(unpacked, { recursive: true });
      execFileSync("tar", ["xzf", join(root, "packages", p.file), "-C", unpacked]);
      assert.deepEqual([...danglingMapComments(unpacked)].map((d) => relative(unpacked, d.path)), [], `${p.name}'s scripts name no map it does not ship`);
    }
  });

  describe("installed on this Linux host", () => {
    let app: string;
    let snap: Snapshot;
    before(async () => {
      // What a registry gives this host: tsbox, its images and the x64 native package (npm skips the arm64 one, whose lookup fails fast).
      app = await installApp("linux", ["tsbox", "@tsbox/images", "@tsbox/linux-x64-gnu"]);
      assert.equal(existsSync(join(app, "node_modules", "@tsbox", "linux-arm64-gnu")), false);
    });
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      // A rootless run's network namespace stays a minute after it (TSBOX_ROOTLESS_NETWORK_IDLE), the vm guest a
      // vm run started five (TSBOX_VM_IDLE); a user ends them so.
      ok(await asUser(["npx", "tsbox", "network", "prune", "-f"], app), "network prune");
      ok(await asUser(["npx", "tsbox", "vm", "stop"], app), "vm stop");
      // And the nest holder a rootless run left (a minute, TSBOX_NEST_IDLE) ends as with the data dir removed.
      assert.ok(await endNestHolder(join(clean.home, ".local", "share", "tsbox")), "the nest holder ends");
      await assertNoLeaks(snap, [clean.who]);
    });

    it("npx tsbox run --rm busybox echo hello (native, rootless)", async () => {
      const r = await asUser(["npx", "tsbox", "run", "--rm", "busybox", "echo", "hello"], app);
      ok(r, "run");
      assert.equal(r.stdout, "hello\n");
      assert.equal(r.stderr, "");
    });

    it("the next run of a command line is replayed by the installed addon, from the bin", async () => {
      // (npx's own variables differ between calls, and a plan is of one environment: the bin as a script runs it. A
      // plan is of a network none or host.)
      const run = () => asUser(["/usr/bin/env", "TSBOX_TRACE_FD=2", "node_modules/.bin/tsbox", "run", "--rm", "--network", "none", "busybox", "echo", "again"], app);
      // (A first run in a fresh data dir imports the embedded image: a store changed during the run leaves no plan.)
      let planned = false;
      for (let i = 0; i < 2 && !planned; i++) {
        const r = await run();
        ok(r, "a full run");
        planned = /run-cache: plan written/.test(r.stderr);
      }
      assert.ok(planned, "a full run left a plan");
      const second = await run();
      ok(second, "second run");
      assert.equal(second.stdout, "again\n");
      assert.match(second.stderr, /run-cache: replay [0-9a-f]{64}/);
    });

    it("npx tsbox info: the native backend, its parts from @tsbox/linux-x64-gnu, the guest from @tsbox/images", async () => {
      const r = await asUser(["npx", "tsbox", "info", "--json"], app);
      ok(r, "info");
      const info = JSON.parse(r.stdout) as { backend: string; runtime: string; addon: { path: string; version: string }; vmImage: string; warnings: string[] };
      assert.equal(info.backend, "native");
      assert.equal(info.runtime, join(app, "node_modules", "@tsbox", "linux-x64-gnu", "tsbox-runtime"));
      assert.equal(info.addon.path, join(app, "node_modules", "@tsbox", "linux-x64-gnu", "tsbox-native.node"));
      assert.ok(info.addon.version, "the addon loads");
      assert.match(info.vmImage, new RegExp(`^${join(app, "node_modules", "@tsbox", "images", "guest")} \\(guest [0-9a-f]{12}, v86 `));
      ok(await asUser(["npx", "tsbox", "info"], app), "info as text");
    });

    it("npx tsbox run --backend vm --rm busybox uname -m prints i686", async () => {
      const r = await asUser(["npx", "tsbox", "run", "--backend", "vm", "--rm", "busybox", "uname", "-m"], app);
      ok(r, "vm run");
      assert.equal(r.stdout, "i686\n");
      process.stderr.write(`# first vm run of the installed package (cold boot, saves the user's snapshot): ${(r.ms / 1000).toFixed(1)} s\n`);
      const cached = readdirSync(join(clean.home, ".cache", "tsbox", "vm")).filter((f) => f.endsWith(".state"));
      assert.equal(cached.length, 1, "the guest state is cached per user");
      assert.match(cached[0]!, /^snapshot-[0-9a-f]{16}\.state$/, "named by the guest and v86 it was made with");
      const images = JSON.parse((await asUser(["npx", "tsbox", "images", "--json"], app)).stdout) as { name: string; platform: string }[];
      assert.deepEqual(images.map((i) => [i.name, i.platform]), [["busybox:latest", "linux/386"], ["busybox:latest", "linux/amd64"]], "one store, both platforms");
    });

    it("runs the README's library example", async () => {
      writeFileSync(join(app, "example.mjs"), readmeExample());
      const r = await asUser(["node", "example.mjs"], app);
      ok(r, "example");
      assert.match(r.stdout, /^0 hello from [0-9a-f]{12}\n\n$/);
    });

    it("an app bundled with esbuild, tsbox inside it (ESM, CommonJS, vm backend): runs beside its node_modules; moved away, says to keep tsbox out", async () => {
      const example = readmeExample();
      assert.match(example, /^import \{ Runtime \} from "tsbox";$/m);
      const sources: Record<string, string> = {
        "esm.mjs": example,
        // CommonJS output has no top-level await: the example in an async function, with require.
        "cjs.mjs": `(async () => {\n${example.replace(/^import \{ Runtime \} from "tsbox";$/m, 'const { Runtime } = require("tsbox");')}\n})();\n`,
        // The vm backend's daemon is tsbox's bin/tsbox.js, which a bundle does not hold.
        "vm.mjs": example.replace("new Runtime()", 'new Runtime({ backend: "vm" })'),
      };
      const esbuild = join(repoRoot, "node_modules", ".bin", "esbuild");
      const bundles = { "esm.mjs": "app.mjs", "cjs.mjs": "app.cjs", "vm.mjs": "app-vm.mjs" } as const;
      for (const [source, text] of Object.entries(sources)) {
        writeFileSync(join(app, source), text);
        const format = source === "cjs.mjs" ? "cjs" : "esm";
        execFileSync(esbuild, [source, "--bundle", "--platform=node", `--format=${format}`, `--outfile=out/${bundles[source as keyof typeof bundles]}`, "--log-level=error"], { cwd: app });
      }
      execFileSync("chown", ["-R", `${clean.who.uid}:${clean.who.gid}`, join(app, "out")]);
      for (const bundle of Object.values(bundles)) {
        const r = await asUser(["node", join("out", bundle)], app);
        ok(r, bundle);
        assert.match(r.stdout, /^0 hello from [0-9a-f]{12}\n\n$/, bundle);
      }
      // Deployed without node_modules: an app's package.json of its own is no tsbox's (it was taken for it, and the vm backend chosen).
      const deployed = join(clean.work, "deployed");
      mkdirSync(deployed);
      writeFileSync(join(deployed, "package.json"), JSON.stringify({ name: "deployed-app", version: "1.0.0" }));
      for (const bundle of ["app.mjs", "app.cjs"]) copyFileSync(join(app, "out", bundle), join(deployed, bundle));
      execFileSync("chown", ["-R", `${clean.who.uid}:${clean.who.gid}`, deployed]);
      for (const bundle of ["app.mjs", "app.cjs"]) {
        const r = await asUser(["node", bundle], deployed);
        assert.equal(r.code, 1, `${bundle}: ${r.stderr}`);
        assert.equal(r.stdout, "");
        assert.ok(r.stderr.includes(`TsboxError: tsbox cannot find its package: it runs from ${join(deployed, bundle)}, which is not inside it`), r.stderr);
        assert.match(r.stderr, /leave tsbox out of the bundle \(esbuild --external:tsbox or --packages=external/);
      }
    });
  });

  describe("installed and run with the current LTS Node (24)", { skip: ltsNode ? false : "no LTS Node: run scripts/lts-node.sh" }, () => {
    let app: string;
    let snap: Snapshot;
    const lts = (argv: string[], cwd = app) => asUser(argv, cwd, 240_000, clean.ltsBin);
    before(async () => {
      app = await installApp("lts", ["tsbox", "@tsbox/images", "@tsbox/linux-x64-gnu"], [], clean.ltsBin);
      assert.match((await lts(["node", "--version"])).stdout, /^v24\./);
    });
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      ok(await lts(["npx", "tsbox", "network", "prune", "-f"]), "network prune");
      ok(await lts(["npx", "tsbox", "vm", "stop"]), "vm stop");
      assert.ok(await endNestHolder(join(clean.home, ".local", "share", "tsbox")), "the nest holder ends");
      await assertNoLeaks(snap, [clean.who]);
    });

    it("an --env-file is the container's alone: Node reads no file on tsbox's or the container's command line", async () => {
      // Every Node read --env-file anywhere on its command line: a NODE_OPTIONS line in it ran code in the CLI.
      const marker = join(app, "injected");
      writeFileSync(join(app, "inject.cjs"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "")`);
      writeFileSync(join(app, "app.env"), `NODE_OPTIONS=--require ${join(app, "inject.cjs")}\nA=1\n`);
      // Through npx, with the `--` that keeps npx's own Node from reading it (README), and through the bin itself.
      for (const argv of [["npx", "--", "tsbox"], [join(app, "node_modules", ".bin", "tsbox")]]) {
        const r = await lts([...argv, "run", "--rm", "--env-file", "app.env", "busybox", "sh", "-c", "echo $A"]);
        assert.deepEqual([r.code, r.stdout, existsSync(marker)], [0, "1\n", false], `${argv.join(" ")}: ${r.stderr}`);
      }
      // A container's own `node --env-file=.env app.js`: before, the host's Node looked for ./.env and exited 9.
      const own = await lts(["npx", "--", "tsbox", "run", "--rm", "busybox", "echo", "node", "--env-file=.env", "app.js"]);
      assert.deepEqual([own.code, own.stdout], [0, "node --env-file=.env app.js\n"], own.stderr);
    });

    it("runs through the vm backend too (v86 on this Node)", async () => {
      const r = await lts(["npx", "tsbox", "run", "--backend", "vm", "--rm", "busybox", "uname", "-m"]);
      ok(r, "vm run");
      assert.equal(r.stdout, "i686\n");
    });

    it("runs the README's library example", async () => {
      writeFileSync(join(app, "example.mjs"), readmeExample());
      const r = await lts(["node", "example.mjs"]);
      ok(r, "example");
      assert.match(r.stdout, /^0 hello from [0-9a-f]{12}\n\n$/);
    });
  });

  it("linux-arm64-gnu: tsbox-runtime runs and the addon loads in an arm64 Node (qemu-user)", { skip: arm64Skip }, async () => {
    const dir = join(root, "arm64");
    mkdirSync(dir);
    execFileSync("tar", ["xzf", join(root, "packages", packed.find((p) => p.name === "@tsbox/linux-arm64-gnu")!.file), "-C", dir]);
    const pkg = join(dir, "package");
    const sysroot = arm64Sysroot!;
    const qemu = (argv: string[]) => execFileSync("qemu-aarch64-static", ["-L", sysroot, ...argv], { encoding: "utf8", timeout: 120_000 });
    assert.match(qemu([join(pkg, "tsbox-runtime"), "--version"]), /^tsbox-runtime \d+\.\d+\.\d+/);
    const script = `const a = require(${JSON.stringify(join(pkg, "tsbox-native.node"))}); const p = a.openPty(80, 24); console.log(process.arch, a.version(), p.master > 2 && p.slave > 2);`;
    const version = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
    assert.equal(qemu([join(sysroot, "usr", "bin", "node"), "-e", script]).trim(), `arm64 ${version} true`);
  });

  describe("installed as on a Mac (npm install --os=darwin --cpu=arm64)", () => {
    let app: string;
    let snap: Snapshot;
    before(async () => {
      // The packages a Mac gets: npm skips the optional Linux ones (their registry lookups fail fast, nothing is fetched).
      app = await installApp("darwin", ["tsbox", "@tsbox/images"], ["--os=darwin", "--cpu=arm64"]);
    });
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      // The guest the runs started on demand stays five minutes (TSBOX_VM_IDLE); a user ends it so.
      ok(await asUser(["npx", "tsbox", "vm", "stop"], app), "vm stop");
      await assertNoLeaks(snap, [clean.who]);
    });

    it("has no native package, and tsbox info says the vm backend runs and why", async () => {
      assert.equal(existsSync(join(app, "node_modules", "@tsbox", "linux-x64-gnu")), false);
      const r = await asUser(["npx", "tsbox", "info", "--json"], app);
      ok(r, "info");
      const info = JSON.parse(r.stdout) as { backend: string; backendReason: string; runtime: string | null };
      assert.equal(info.backend, "vm");
      assert.match(info.backendReason, /^automatic: @tsbox\/linux-x64-gnu is not installed .*: install it with npm install @tsbox\/linux-x64-gnu \(or its \.tgz from npm run pack\)$/);
      assert.equal(info.runtime, null);
    });

    it("runs every command through the vm backend", async () => {
      let r = await asUser(["npx", "tsbox", "run", "--rm", "busybox", "echo", "hello"], app);
      ok(r, "run");
      assert.equal(r.stdout, "hello\n");
      // (A Mac would say nothing: this is Linux x64 without its native package, the install --omit=optional makes.)
      assert.equal(r.stderr.match(/^tsbox: warning: the native backend is unavailable: @tsbox\/linux-x64-gnu is not installed .*npm install @tsbox\/linux-x64-gnu .*emulated \(i686\) and much slower/gm)?.length, 1, r.stderr);
      r = await asUser(["npx", "tsbox", "run", "--rm", "busybox", "uname", "-m"], app);
      ok(r, "run uname");
      assert.equal(r.stdout, "i686\n");
      process.stderr.write(`# a vm run from the user's cached snapshot: ${(r.ms / 1000).toFixed(1)} s\n`);
      r = await asUser(["npx", "tsbox", "images"], app);
      ok(r, "images");
      assert.match(r.stdout, /^busybox +latest +[0-9a-f]{12} .* linux\/386$/m);
    });

    it("cp into and out of a detached container, the host's side without tsbox-runtime", async () => {
      writeFileSync(join(app, "note.txt"), "from the host\n");
      ok(await asUser(["npx", "tsbox", "run", "-d", "--name", "mac", "busybox", "sleep", "600"], app), "run -d");
      try {
        ok(await asUser(["npx", "tsbox", "cp", "note.txt", "mac:/tmp/"], app), "cp in");
        const r = await asUser(["npx", "tsbox", "exec", "mac", "cat", "/tmp/note.txt"], app);
        ok(r, "exec");
        assert.equal(r.stdout, "from the host\n");
        ok(await asUser(["npx", "tsbox", "cp", "mac:/etc", "copied-etc"], app), "cp out");
        assert.match(readFileSync(join(app, "copied-etc", "passwd"), "utf8"), /^root:x:0:0:/);
      } finally {
        ok(await asUser(["npx", "tsbox", "rm", "-f", "mac"], app), "rm");
        ok(await asUser(["npx", "tsbox", "vm", "stop", "--force"], app), "vm stop");
      }
    });

    it("runs the README's library example", async () => {
      writeFileSync(join(app, "example.mjs"), readmeExample());
      const r = await asUser(["node", "example.mjs"], app);
      ok(r, "example");
      assert.match(r.stdout, /^0 hello from [0-9a-f]{12}\n\n$/);
    });
  });
});
