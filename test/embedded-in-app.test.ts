/**
 * tsbox inside an app: where it finds its own package (and through it its
 * native package, the guest and the embedded images) from the file its code
 * runs in — tsbox's own dist/ or src/, or an app's bundle that has tsbox
 * inside it (esbuild, webpack, a single executable) — and how it starts its
 * vm daemon under Node from Electron or a single executable. Fast: directories
 * only, no containers; test/package.test.ts runs real bundles of an installed
 * tsbox.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { findPackageRoot, moduleFile, packageRoot } from "../src/package-root.js";
import { nodeRunner } from "../src/node-runner.js";
import { installedPackageDir } from "../src/parts.js";
import Module from "node:module";
import { TsboxError } from "../src/errors.js";
import { repoRoot } from "./helpers/cli.js";

let dir: string;

function write(path: string, content = ""): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

const manifest = (name?: string) => JSON.stringify(name === undefined ? { type: "commonjs" } : { name, version: "1.0.0" });

before(() => (dir = mkdtempSync(join(tmpdir(), "package-root-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("packageRoot", () => {
  it("is this checkout when run from its sources", () => {
    assert.equal(packageRoot(), resolve(repoRoot));
    assert.equal(findPackageRoot(fileURLToPath(import.meta.url)), resolve(repoRoot));
  });

  it("an installed tsbox: its package, past a package.json of another name (bin/'s, which only marks CommonJS)", () => {
    const pkg = join(dir, "installed", "node_modules", "tsbox");
    write(join(pkg, "package.json"), manifest("tsbox"));
    write(join(pkg, "bin", "package.json"), manifest());
    assert.equal(findPackageRoot(write(join(pkg, "dist", "cli.cjs"))), pkg);
    assert.equal(findPackageRoot(write(join(pkg, "bin", "tsbox.js"))), pkg);
  });

  it("an app's bundle with tsbox inside: the node_modules/tsbox beside the app, not the app's own package.json", () => {
    const app = join(dir, "app");
    write(join(app, "package.json"), manifest("my-app"));
    write(join(app, "node_modules", "tsbox", "package.json"), manifest("tsbox"));
    assert.equal(findPackageRoot(write(join(app, "out", "server.mjs"))), join(app, "node_modules", "tsbox"));
    // A package of another name in node_modules/tsbox (a stub, a squatted name) is not it.
    const other = join(dir, "other");
    write(join(other, "node_modules", "tsbox", "package.json"), manifest("not-tsbox"));
    assert.throws(() => findPackageRoot(write(join(other, "server.cjs"))), TsboxError);
  });

  it("a bundle moved away from any tsbox: an error that says to keep tsbox out of the bundle", () => {
    const deployed = join(dir, "deployed");
    write(join(deployed, "package.json"), manifest("my-app"));
    const bundle = write(join(deployed, "server.cjs"));
    assert.throws(
      () => findPackageRoot(bundle),
      (err: unknown) => {
        assert.ok(err instanceof TsboxError);
        assert.equal(err.code, "runtime");
        assert.equal(err.exitCode, 125);
        assert.ok(err.message.includes(bundle), err.message);
        assert.match(err.message, /esbuild --external:tsbox or --packages=external, webpack's externals, rollup's external/);
        return true;
      },
    );
    assert.throws(() => findPackageRoot(undefined), /tsbox cannot find its package: it runs from a module with no file/);
  });
});

describe("moduleFile (the file tsbox's code runs in)", () => {
  it("tsbox's own modules: import.meta.url's file", () => {
    const here = fileURLToPath(import.meta.url);
    assert.equal(moduleFile(import.meta.url, undefined), here);
    assert.equal(moduleFile(import.meta.url, "/elsewhere/bundle.cjs"), here, "an ESM module that exists wins over a __filename");
  });

  it("esbuild's CommonJS bundle (import.meta empty): the bundle's __filename", () => {
    assert.equal(moduleFile(undefined, "/srv/app/server.cjs"), "/srv/app/server.cjs");
  });

  it("webpack's bundle deployed elsewhere (import.meta.url is the build machine's source path, gone): the bundle's __filename", () => {
    const gone = pathToFileURL(join(dir, "build-machine", "node_modules", "tsbox", "dist", "package-root.js")).href;
    assert.equal(moduleFile(gone, "/srv/app/main.js"), "/srv/app/main.js");
    assert.equal(moduleFile(gone, undefined), fileURLToPath(gone), "no __filename (ESM): the path it has, for the error to name");
  });

  it("no file at all (a data: URL, nothing else): none", () => {
    assert.equal(moduleFile("data:text/javascript,", undefined), undefined);
  });
});

describe("installedPackageDir (the part packages)", () => {
  it("found by Node's resolution when no node_modules holds them: Yarn Plug'n'Play's unplugged directories", () => {
    // What .pnp.cjs does: it patches Module._resolveFilename; the package is in a directory of its own, no node_modules above.
    const unplugged = join(dir, ".yarn", "unplugged", "tsbox-pnp-part-file-0123", "node_modules", "@tsbox", "pnp-part");
    write(join(unplugged, "package.json"), manifest("@tsbox/pnp-part"));
    const patched = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
    const original = patched._resolveFilename;
    patched._resolveFilename = (request, ...rest) => (request === "@tsbox/pnp-part/package.json" ? join(unplugged, "package.json") : original(request, ...rest));
    try {
      assert.equal(installedPackageDir("@tsbox/pnp-part"), unplugged);
    } finally {
      patched._resolveFilename = original;
    }
    assert.equal(installedPackageDir("@tsbox/not-installed-anywhere"), undefined);
  });
});

describe("nodeRunner (the vm daemon's Node)", () => {
  const env = { PATH: "/usr/bin", TSBOX_VM_IDLE: "300" };

  it("Node: its own executable, the environment as given", () => {
    assert.deepEqual(nodeRunner(env, { execPath: "/usr/bin/node", sea: false }), { command: "/usr/bin/node", env });
  });

  it("Electron: its executable as Node (ELECTRON_RUN_AS_NODE=1), not the app again", () => {
    const r = nodeRunner(env, { execPath: "/opt/app/app", electron: "33.0.0", sea: false });
    assert.deepEqual(r, { command: "/opt/app/app", env: { ...env, ELECTRON_RUN_AS_NODE: "1" } });
    assert.equal((env as NodeJS.ProcessEnv).ELECTRON_RUN_AS_NODE, undefined, "the caller's environment is not changed");
  });

  it("a single executable application: no Node to run, said (it started the app again, and that another daemon)", () => {
    assert.throws(
      () => nodeRunner(env, { execPath: "/opt/app/app", sea: true }),
      (err: unknown) => {
        assert.ok(err instanceof TsboxError);
        assert.equal(err.code, "runtime");
        assert.match(err.message, /this process is a single executable application \(\/opt\/app\/app runs the app, not Node\): set TSBOX_VM_IDLE=0/);
        return true;
      },
    );
  });
});
