/**
 * `tsbox build` on the vm backend: the same builder as the native one
 * (build.test.ts), its steps vm containers — RUN's writable layer as the
 * kept layer of a guest run, COPY through the guest's copy view of a stopped
 * container — for linux/386. Stages, COPY --from, a deletion, RUN --mount
 * cache and bind, the cache on a second build. Nothing may leak.
 */
import { describe, it, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliPath } from "./helpers/cli.js";
import { assertNoLeaks, snapshot, type Snapshot } from "./helpers/leaks.js";
import { vmSkip } from "./helpers/vm.js";

const scratch = mkdtempSync(join(tmpdir(), "tsbox-scratch-vmbuild-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const dataDir = join(scratch, "data");
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, TSBOX_DATA_DIR: dataDir, TSBOX_CACHE_DIR: join(scratch, "cache"), TSBOX_BACKEND: "vm", LANG: "C.UTF-8" };

function tsbox(args: string[], backend = "vm"): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...env, TSBOX_BACKEND: backend }, cwd: scratch, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`tsbox ${args.join(" ")} timed out: ${stderr}`))), 300_000);
    child.on("close", (code) => (clearTimeout(timer), resolve({ code: code ?? -1, stdout, stderr })));
  });
}

async function ok(args: string[], backend = "vm"): Promise<{ stdout: string; stderr: string }> {
  const r = await tsbox(args, backend);
  assert.equal(r.code, 0, `tsbox ${args.join(" ")}: ${r.stderr}`);
  return r;
}

describe("tsbox build on the vm backend", { skip: vmSkip }, () => {
  let snap: Snapshot;
  before(() => (snap = snapshot()));
  after(async () => {
    await tsbox(["vm", "stop", "--force"]);
    await assertNoLeaks(snap, [{ name: "root", uid: process.getuid!(), gid: process.getgid!(), dataDir, scratch }]);
  });

  it("FROM scratch makes an image of the backend's platform, each its own (one build cache for both)", async () => {
    const ctx = join(scratch, "scratch-ctx");
    mkdirSync(ctx);
    writeFileSync(join(ctx, "f"), "x\n");
    writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nCOPY f /f\n");
    const native = (await ok(["build", "-q", "-t", "scratch-native", ctx], "native")).stdout.trim();
    const vm = (await ok(["build", "-q", "-t", "scratch-vm", ctx])).stdout.trim();
    assert.notEqual(vm, native, "not the native build's cached image");
    assert.equal((await ok(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "scratch-native"])).stdout.trim(), `linux/${process.arch === "x64" ? "amd64" : process.arch}`);
    assert.equal((await ok(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "scratch-vm"])).stdout.trim(), "linux/386");
    await ok(["rmi", "scratch-native", "scratch-vm"]);
  });

  it("stages, RUN (a deletion too), COPY, COPY --from, RUN --mount cache and bind; cached the second time", async () => {
    const ctx = join(scratch, "ctx");
    mkdirSync(ctx);
    writeFileSync(join(ctx, "greeting.txt"), "hello from the context\n");
    writeFileSync(
      join(ctx, "Dockerfile"),
      [
        "FROM busybox AS base",
        "ARG TARGETARCH",
        "RUN echo built > /built && rm /etc/group && echo $TARGETARCH > /arch",
        "COPY greeting.txt /app/",
        "WORKDIR /app",
        "RUN --mount=type=cache,target=/cache sh -c 'echo $(( $(cat /cache/n 2>/dev/null || echo 0) + 1 )) > /cache/n; cp /cache/n runs'",
        "RUN --mount=type=bind,source=greeting.txt,target=/g cat /g greeting.txt > twice && uname -m > machine",
        "FROM busybox",
        "COPY --from=base /app /app",
        'CMD ["sh", "-c", "cat /app/twice /app/machine /app/runs; ls /built 2>&1"]',
      ].join("\n") + "\n",
    );
    const built = await ok(["build", "-t", "vm-built", ctx]);
    assert.match(built.stderr, /Successfully built [0-9a-f]{12}\n$/);
    const run = await tsbox(["run", "--rm", "vm-built"]);
    assert.equal(run.stdout, "hello from the context\nhello from the context\ni686\n1\nls: /built: No such file or directory\n");
    // The first stage: its RUN's files and deletion, and the platform's ARG.
    await ok(["build", "--target", "base", "-t", "vm-base", ctx]);
    const base = await ok(["run", "--rm", "vm-base", "sh", "-c", "cat /built /arch; [ -e /etc/group ] || echo no-group"]);
    assert.equal(base.stdout, "built\n386\nno-group\n");
    const again = await ok(["build", "-t", "vm-built", ctx]);
    assert.equal(again.stderr.match(/\(cached\)/g)?.length, 6, again.stderr); // WORKDIR /app is a layer step too
    await ok(["rmi", "vm-built", "vm-base"]);
    await ok(["system", "prune", "-f"]);
  });
});
