#!/usr/bin/env -S node --
// The CLI lives in dist/cli.cjs (one bundle: `npm run build:ts`). This file
// and the bundle are CommonJS (bin/package.json): a cold start without
// Node's ESM loader is measurably faster (docs/architecture.md).
// The `--` in the first line ends Node's own options: without it every Node
// (20 to 26) scans all of its command line, tsbox's arguments and a
// container's command included, for `--env-file` and takes NODE_OPTIONS from
// that file before any of this runs (see refuseNodeEnvFile). env -S splits
// the line (GNU coreutils 8.30+, macOS, the BSDs; npm's Windows shims read it
// too); BusyBox's env has no -S: there, run `node -- …/bin/tsbox.js`.
"use strict";
const { basename, dirname, isAbsolute, join, relative } = require("node:path");

/**
 * Compiling the bundles is a large part of a short command's time: V8's code
 * cache of each (what it compiled by the end of the run, so the functions a
 * command used too) is kept per user and Node version in
 * $XDG_CACHE_HOME/tsbox/code-cache (Node 20 has no module.enableCompileCache).
 * A cache V8 rejects, or none yet, is (re)written at exit; so is one that no
 * successful run of this command on this backend has written yet (its first
 * line lists those that did): the cache then holds what every path used. A cache made by `ps` alone
 * left `run` compiling most of its path on every start (+10 ms). Each
 * install (its dist dir) has caches of its own: two projects with their own
 * tsbox used to delete each other's at every switch (132 → 365 ms a `run`);
 * another install's caches go once unused for a month.
 * TSBOX_CODE_CACHE=0: off.
 */
function useCodeCache(dist) {
  // Absolute paths only (XDG's rule): a relative one would put the cache in the current directory.
  const absolute = (p) => (p && isAbsolute(p) ? p : undefined);
  const base = absolute(process.env.XDG_CACHE_HOME) || (absolute(process.env.HOME) && join(process.env.HOME, ".cache"));
  if (process.env.TSBOX_CODE_CACHE === "0" || !base) return;
  const vm = require("node:vm");
  const fs = require("node:fs");
  // The module's own class: require("node:module") would load the ESM loader and source maps too (~3 ms).
  const Module = typeof module.constructor.wrap === "function" ? module.constructor : require("node:module");
  const dir = join(base, "tsbox", "code-cache");
  const HEADER = "tsbox-cc1 ";
  // The command, as a cache key only: the first word that is not a flag.
  const word = process.argv.slice(2).find((a) => !a.startsWith("-")) ?? "";
  const command = /^[a-z][a-z-]{0,20}$/.test(word) ? word : "";
  // What a run compiled depends on its path, not only its command: the backend (a vm `run` compiles none of the
  // native one's) and how it ended (a first `run` that failed compiled an error's path). A cache marked "run" by such
  // a run left every later native `run` compiling its path again (+15 ms, until the next build).
  const vmBackend = process.env.TSBOX_BACKEND === "vm" || process.argv.some((a, i) => a === "--backend=vm" || (a === "--backend" && process.argv[i + 1] === "vm"));
  const pathKey = (handedOff, code) => (!command || (!handedOff && code !== 0) ? "" : `${command}${vmBackend ? ":vm" : ""}${handedOff ? "" : "+"}`);
  const loaded = [];
  const install = fnv1a(dist);
  // V8 rejects a cache made under other V8 flags (NODE_OPTIONS=--max-old-space-size=4096 in one terminal or CI
  // step and not in another): each such start compiled everything and rewrote the other's cache (+20 ms CPU, both
  // ways). The options Node was given name a cache of their own.
  const nodeArgs = process.execArgv.filter((a) => a !== "--");
  const flags = nodeArgs.length > 0 || process.env.NODE_OPTIONS ? `-${fnv1a(`${nodeArgs.join("\0")}\0${process.env.NODE_OPTIONS ?? ""}`)}` : "";
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    // A vm.Script cannot import() (the vm backend's `import("v86")`) without an experimental option: the bundler marks
    // the bundles that do (scripts/bundle-cli.mjs), and those compile as usual.
    if (!filename.startsWith(dist) || content.startsWith("//tsbox:import()\n")) return compile.call(this, content, filename);
    let file;
    let cachedData;
    let merged = [];
    try {
      const st = fs.statSync(filename);
      const prefix = `${process.version}-${process.arch}-${install}-${relative(dist, filename).replace(/[/\\]/g, "_")}-`;
      // The change time, not the modification time: npm unpacks every file with one fixed mtime (1985-10-26), so
      // after an update a bundle of the same size had the same key, and V8, which checks a cache against the
      // source's length alone, ran the old version's compiled code (a fix of equal length never took effect).
      // Unpacking, a write, or a touch sets the ctime; nothing sets it back.
      const build = `${prefix}${st.size}-${Math.floor(st.ctimeMs)}`;
      file = { prefix, build, path: join(dir, `${build}${flags}`) };
      const saved = fs.readFileSync(file.path);
      const nl = saved.indexOf(10);
      if (nl > 0 && saved.toString("latin1", 0, HEADER.length) === HEADER) {
        merged = saved.toString("latin1", HEADER.length, nl).split(",").filter(Boolean);
        cachedData = saved.subarray(nl + 1);
      }
    } catch {
      // none yet
    }
    const script = new vm.Script(Module.wrap(content), { filename, cachedData });
    if (file) loaded.push({ script, file, merged, fresh: cachedData === undefined || script.cachedDataRejected });
    const fn = script.runInThisContext({ displayErrors: true });
    return fn.call(this.exports, this.exports, Module.createRequire(filename), this, filename, dirname(filename));
  };
  // "tsbox:exec": `run` is about to become tsbox-runtime (execve), and exit never comes. A cache is written when
  // there was none (or V8 rejected it), and when this run's path (pathKey) is not among those it was made by: a failed
  // run's path never counts as done.
  const save = (handedOff, code) => {
    const key = pathKey(handedOff, code);
    for (const { script, file, merged: before, fresh } of loaded.splice(0)) {
      if (!fresh && (!key || before.includes(key) || before.length >= 64)) continue;
      const merged = fresh ? [key] : [...before, key];
      try {
        makeDirs(fs, dir);
        // Caches of earlier builds of the same bundle go (under any flags), and any unused for a month (a removed
        // install's, another flag set's).
        const monthAgo = Date.now() - 30 * 86400_000;
        for (const old of fs.readdirSync(dir)) {
          const path = join(dir, old);
          const thisBuild = old.startsWith(file.build) && /^(-[0-9a-f]{8})?$/.test(old.slice(file.build.length));
          if ((old.startsWith(file.prefix) && !thisBuild) || fs.statSync(path, { throwIfNoEntry: false })?.atimeMs < monthAgo) fs.rmSync(path, { force: true });
        }
        const tmp = `${file.path}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${HEADER}${merged.filter(Boolean).join(",")}\n`, "latin1"), script.createCachedData()]));
        fs.renameSync(tmp, file.path);
      } catch {
        // a read-only home: no cache, same result
      }
    }
  };
  process.once("exit", (code) => save(false, code));
  process.once("tsbox:exec", () => save(true, 0));
}

/** A short name for a path (FNV-1a, 32 bits, hex): node:crypto would load Node's whole stream stack (~3 ms). */
function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * `mkdir -p` that ends (src/fs-util.ts makeDirs, which this file cannot load):
 * Node's recursive mkdirSync never returns where mkdir says ENOENT under an
 * existing parent, as in /proc (HOME=/proc hung every command at exit).
 */
function makeDirs(fs, path) {
  try {
    fs.mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if (err.code === "EEXIST") return;
    if (err.code !== "ENOENT" || dirname(path) === path) throw err;
    makeDirs(fs, dirname(path));
    fs.mkdirSync(path, { mode: 0o700 });
  }
}

/** `word` as one sh word: the running script's own path, so the hint works for a project's and a global install alike. */
function shellWord(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * Every Node takes `--env-file FILE` (and `--env-file-if-exists`) as its own option wherever it is on its
 * command line, script arguments included, unless `--` comes before: docker's `run --env-file FILE` (or a
 * container's own `node --env-file=.env app.js`) then had Node read FILE on the host first — a NODE_OPTIONS
 * line in it ran code in this process, and a pipe (`--env-file <(…)`) was read empty by the time tsbox
 * opened it. The bin's first line gives Node that `--`; started another way (`node …/tsbox.js`), tsbox
 * refuses, saying what Node did (it cannot be undone from here). Node's own command line (/proc/self/cmdline)
 * tells; without /proc (macOS) there is no telling, and the bin's line is trusted. (A Node program that starts
 * tsbox with the arguments on its own command line reads them too — `npx tsbox run --env-file F` has npx's
 * Node read F — and npm's process title hides whether it had a `--`: README says to write `npx -- tsbox`.)
 */
function refuseNodeEnvFile() {
  if (!process.argv.slice(2).some((a) => a.startsWith("--env-file"))) return;
  let argv;
  try {
    argv = require("node:fs").readFileSync("/proc/self/cmdline", "latin1").split("\0");
  } catch {
    return;
  }
  const script = argv.findIndex((a, i) => i > 0 && !a.startsWith("-"));
  if (argv.slice(1, script).includes("--")) return;
  process.stderr.write(
    `tsbox: Node was started without -- before tsbox, so it read the --env-file on its command line itself (a NODE_OPTIONS line in that file has run code here, and a pipe was emptied): start tsbox through its bin (tsbox on your PATH, npx -- tsbox), or as node -- ${shellWord(process.argv[1])} …\n`,
  );
  process.exit(125);
}
refuseNodeEnvFile();

const dist = join(__dirname, "..", "dist") + require("node:path").sep;
function startCli() {
  // Not before a replay: the hook and the replay bundle's cache cost more than compiling that bundle (16 KB) does
  // (interleaved, 80 rounds twice: a replayed run 1.0-1.4 ms faster without them; a first run ≈ 0.5 ms slower).
  try {
    useCodeCache(dist);
  } catch {
    // the plain require below still works
  }
  try {
    require("../dist/cli.cjs");
  } catch (err) {
    if (err && err.code === "MODULE_NOT_FOUND" && String(err.message).includes("cli.cjs")) {
      process.stderr.write("tsbox: CLI not built: run npm run build:ts\n");
      process.exit(125);
    }
    throw err;
  }
}

/**
 * The addon a run cache replay may use (a plan is only replayed with the one it was made with): $TSBOX_ADDON, the
 * native package installed beside tsbox (npm's and pnpm's layouts) or in its own node_modules, or a checkout's
 * build — where src/parts.ts looks first, without reading a package.json; undefined elsewhere (the CLI finds it).
 */
function replayAddon() {
  if (process.env.TSBOX_ADDON) return process.env.TSBOX_ADDON;
  const arch = { x64: "x64", arm64: "arm64" }[process.arch];
  if (process.platform !== "linux" || !arch) return undefined;
  const fs = require("node:fs");
  const root = join(__dirname, "..");
  const target = `linux-${arch}-gnu`;
  const candidates = [join(root, "node_modules", "@tsbox", target, "tsbox-native.node"), join(root, "native-rs", "dist", `tsbox-native.${target}.node`)];
  if (basename(dirname(root)) === "node_modules") candidates.splice(1, 0, join(root, "..", "@tsbox", target, "tsbox-native.node"));
  return candidates.find((c) => fs.existsSync(c));
}

// A `run` that an earlier one of the same command line left a plan for becomes its container without the CLI: the
// addon finds the plan, makes the container and hands over to tsbox-runtime (native-rs/addon/src/replay/from_bin.rs).
// It returns when there is none, or it cannot, and the CLI runs as ever.
if (process.argv[2] === "run" && process.env.TSBOX_RUN_CACHE !== "0") {
  const addon = replayAddon();
  try {
    const module = { exports: {} };
    if (addon) process.dlopen(module, addon);
    if (typeof module.exports.replayRun === "function") module.exports.replayRun(process.argv.slice(2).join("\0"), dist, addon);
  } catch {
    // no addon here, or an older one: the CLI alone
  }
}
startCli();
