/**
 * bin/tsbox.js keeps V8's code cache of each CLI bundle per user: written when
 * there is none or V8 rejects it, and again when a command (on a backend, ended
 * well or handed over) that has not yet contributed to it runs, so the cache
 * holds what every path used (the first line lists them). Through the real CLI, with commands that need no container.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cliPath } from "./helpers/cli.js";

test("the main bundle's code cache grows with each new command, is kept otherwise, and a bad one is replaced", (t) => {
  const home = mkdtempSync(join(tmpdir(), "tsbox-code-cache-"));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? "", HOME: home, XDG_CACHE_HOME: join(home, "cache"), TSBOX_DATA_DIR: join(home, "data") };
  const tsbox = (...args: string[]) => execFileSync(process.execPath, [cliPath, ...args], { env, encoding: "utf8" });
  const dir = join(home, "cache", "tsbox", "code-cache");
  const main = () => {
    const name = readdirSync(dir).find((f) => /-cli\.cjs-\d+-\d+$/.test(f));
    assert.ok(name, `a cache of cli.cjs in ${readdirSync(dir).join(", ")}`);
    const path = join(dir, name);
    const data = readFileSync(path);
    return { path, header: data.subarray(0, data.indexOf(10)).toString(), size: data.length, mtime: statSync(path).mtimeMs };
  };

  // A failed command's path is an error's: its cache counts for no command, and the next good run writes it again
  // (a first `run` that failed, or one on the vm backend, left native runs compiling their path on every start).
  assert.equal(spawnSync(process.execPath, [cliPath, "ps", "--filter", "nosuch=1"], { env, encoding: "utf8" }).status, 125);
  assert.equal(main().header, "tsbox-cc1 ");
  assert.match(tsbox("ps"), /^CONTAINER ID/);
  const first = main();
  assert.equal(first.header, "tsbox-cc1 ps+", "a command that ended well (+: it exited, not handed over to tsbox-runtime)");
  tsbox("ps", "-a");
  assert.deepEqual(main(), first, "a command that contributed already leaves it as it is");
  tsbox("images");
  const merged = main();
  assert.equal(merged.header, "tsbox-cc1 ps+,images+");
  assert.ok(merged.size > first.size, `the functions images compiled too (${first.size} -> ${merged.size} bytes)`);

  // Garbage where V8's data was: rejected, the command still works, and a good cache replaces it.
  writeFileSync(merged.path, Buffer.concat([Buffer.from("tsbox-cc1 ps+,images+\n"), Buffer.alloc(4096, 7)]));
  assert.match(tsbox("ps"), /^CONTAINER ID/);
  const replaced = main();
  assert.equal(replaced.header, "tsbox-cc1 ps+");
  assert.ok(replaced.size > 4096);

  // A cache dir that cannot be made where mkdir says ENOENT (under /proc): no cache, and the command ends
  // (Node's recursive mkdirSync spun there for ever, deaf to Ctrl-C).
  const proc = execFileSync(process.execPath, [cliPath, "version", "--format", "{{.Client.Version}}"], { env: { ...env, XDG_CACHE_HOME: "/proc/tsbox-none" }, encoding: "utf8", timeout: 30_000 });
  assert.match(proc, /^\d+\.\d+\.\d+/);
});

test("two installs of tsbox keep a code cache each: running one does not throw away the other's", (t) => {
  const home = mkdtempSync(join(tmpdir(), "tsbox-code-cache-"));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  // A second install: the bin and the CLI's bundles at another path (what `ps` loads).
  const repo = join(dirname(cliPath), "..");
  const other = join(home, "other");
  for (const part of ["bin", "dist/cli.cjs", "dist/cli-lazy", "package.json"]) cpSync(join(repo, part), join(other, part), { recursive: true });
  const env = { PATH: process.env.PATH ?? "", HOME: home, XDG_CACHE_HOME: join(home, "cache"), TSBOX_DATA_DIR: join(home, "data") };
  const ps = (bin: string) => assert.match(execFileSync(process.execPath, ["--", bin, "ps"], { env, encoding: "utf8" }), /^CONTAINER ID/);
  const dir = join(home, "cache", "tsbox", "code-cache");
  const caches = () => new Map(readdirSync(dir).filter((f) => /-cli\.cjs-\d+-\d+$/.test(f)).map((f) => [f, statSync(join(dir, f)).mtimeMs]));
  ps(cliPath);
  ps(join(other, "bin", "tsbox.js"));
  const both = caches();
  assert.equal(both.size, 2, `one cache of cli.cjs per install: ${[...both.keys()].join(", ")}`);
  ps(cliPath);
  ps(join(other, "bin", "tsbox.js"));
  assert.deepEqual(caches(), both, "each install's cache is used as it is, not rewritten");
});

test("other V8 flags (NODE_OPTIONS) get a cache of their own: switching between two settings rewrites neither", (t) => {
  const home = mkdtempSync(join(tmpdir(), "tsbox-code-cache-"));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? "", HOME: home, XDG_CACHE_HOME: join(home, "cache"), TSBOX_DATA_DIR: join(home, "data") };
  const dir = join(home, "cache", "tsbox", "code-cache");
  // V8 rejects a cache made under other flags: each start under the other setting compiled all and wrote its own over it.
  const ps = (nodeOptions?: string) =>
    assert.match(execFileSync(process.execPath, [cliPath, "ps"], { env: nodeOptions ? { ...env, NODE_OPTIONS: nodeOptions } : env, encoding: "utf8" }), /^CONTAINER ID/);
  const caches = () => new Map(readdirSync(dir).filter((f) => /-cli\.cjs-\d+-\d+(-[0-9a-f]{8})?$/.test(f)).map((f) => [f, statSync(join(dir, f)).mtimeMs]));
  ps();
  ps("--max-old-space-size=512");
  const both = caches();
  assert.equal(both.size, 2, `a cache of cli.cjs per flag set: ${[...both.keys()].join(", ")}`);
  ps();
  ps("--max-old-space-size=512");
  assert.deepEqual(caches(), both, "each setting's cache is accepted as it is, not rewritten");
});

test("an update that keeps a bundle's size and mtime (npm unpacks every file dated 1985-10-26) runs the new code, not the cache of the old", (t) => {
  const home = mkdtempSync(join(tmpdir(), "tsbox-code-cache-"));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const repo = join(dirname(cliPath), "..");
  const pkg = join(home, "node_modules", "tsbox");
  for (const part of ["bin", "dist/cli.cjs", "dist/cli-lazy", "package.json"]) cpSync(join(repo, part), join(pkg, part), { recursive: true });
  const npmTime = new Date("1985-10-26T08:15:00Z");
  const bundle = join(pkg, "dist", "cli-lazy", "cli", "commands", "version.cjs");
  utimesSync(bundle, npmTime, npmTime);
  const env = { PATH: process.env.PATH ?? "", HOME: home, XDG_CACHE_HOME: join(home, "cache"), TSBOX_DATA_DIR: join(home, "data") };
  const version = () => execFileSync(process.execPath, ["--", join(pkg, "bin", "tsbox.js"), "version"], { env, encoding: "utf8" });
  assert.match(version(), /^tsbox \S+ \(node v/);
  assert.ok(readdirSync(join(home, "cache", "tsbox", "code-cache")).some((f) => f.includes("version.cjs")), "the old version's bundle is cached");
  // The next release: the same file with a change of the same length, dated as npm dates it.
  const old = readFileSync(bundle, "utf8");
  const changed = old.replace("(node ${process.version}", "(NODE ${process.version}");
  assert.notEqual(changed, old);
  assert.equal(changed.length, old.length);
  writeFileSync(bundle, changed);
  utimesSync(bundle, npmTime, npmTime);
  assert.match(version(), /^tsbox \S+ \(NODE v/);
});

/**
 * What the start-up work (docs/architecture.md "CLI start-up") keeps off the short paths: node's stream stack,
 * child_process, net, crypto and rimraf, each 1–35 internal modules that Node's own start did not load. Read from
 * `process.moduleLoadList` when the command ends or (run) hands its process over to tsbox-runtime.
 */
test("short commands and run's start load none of node's heavy built-ins", (t) => {
  const home = mkdtempSync(join(tmpdir(), "tsbox-modules-"));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const probe = join(home, "probe.cjs");
  writeFileSync(
    probe,
    `const base = new Set(process.moduleLoadList);
const dump = () => require("fs").writeFileSync(${JSON.stringify(join(home, "loaded"))}, process.moduleLoadList.filter((m) => !base.has(m)).join("\\n"));
process.on("exit", dump);
process.on("tsbox:exec", dump);
`,
  );
  const env = { PATH: process.env.PATH ?? "", HOME: home, TSBOX_DATA_DIR: join(home, "data") };
  const heavy = /^NativeModule (stream|internal\/streams\/.*|child_process|net|crypto|readline|fs\/promises|internal\/fs\/rimraf)$/;
  const run = ["run", "--rm", "--network", "none", "busybox", "true"];
  // The first run unpacks the embedded image (zlib, crypto): the second is the one every later start is.
  execFileSync(process.execPath, [cliPath, ...run], { env, stdio: "ignore" });
  // The second `run` replays the first's plan (src/cli/run-cache/): its own bundle, which must stay as light.
  for (const args of [["ps", "-a"], ["images"], run, run]) {
    // stdout and stderr a pipe (a file is another stream class, no lighter); the run's output is checked too.
    execFileSync(process.execPath, ["-r", probe, cliPath, ...args], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const loaded = readFileSync(join(home, "loaded"), "utf8").split("\n");
    assert.deepEqual(loaded.filter((m) => heavy.test(m)), [], `tsbox ${args.join(" ")} loaded: ${loaded.join(" ")}`);
  }
});
