/**
 * Pulling from a real registry (Debian's docker-registry on 127.0.0.1),
 * anonymous, behind token auth and behind basic auth; platform selection
 * from a multi-platform index; `run` pulling a missing image; a pull cut off
 * mid-blob (and one interrupted with SIGINT) resumed by the next pull. As
 * root and as the unprivileged test users, each with its own store.
 */
import { describe, it, before, after, beforeEach, afterEach } from "node:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { identities, cleanupIdentities, freshStore, type Identity } from "./helpers/identities.js";
import { cliPath, runJsonScript, signalSpawned, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { freeBadPort, runTool, startRegistry, skopeoCopy, type TestRegistry } from "./helpers/registry.js";
import { holdLock } from "./helpers/hold-lock.js";
import { missingBlobs } from "./helpers/missing-blobs.js";
import { buildI386Layout, buildLayeredLayout, buildMultiPlatformLayout, EMBEDDED_BUSYBOX } from "./helpers/images.js";

const USERS = { alice: "wonderland" };
let anon: TestRegistry;
let secure: TestRegistry;
/** One of this machine's own addresses that is not loopback (a registry there is not insecure), if it has one. */
const external = Object.entries(networkInterfaces())
  .filter(([name]) => !/^(tsbox|cni|veth|docker|br-)/.test(name))
  .flatMap(([, addrs]) => addrs ?? [])
  .find((a) => a.family === "IPv4" && !a.internal)?.address;
let token: TestRegistry;
let basic: TestRegistry;
let fixtures: string;
let multi: { index: string; amd64: string; i386: string };
let bigDigest: string;
const sharedPullScript = fileURLToPath(new URL("./helpers/shared-pull-script.ts", import.meta.url));
let busyboxDigest: string;

before(async () => {
  fixtures = mkdtempSync(join(tmpdir(), "registry-fixtures-"));
  [anon, token, basic, secure] = await Promise.all([
    startRegistry(),
    startRegistry({ auth: "token", users: USERS }),
    startRegistry({ auth: "basic", users: USERS }),
    startRegistry({ tls: { addresses: external ? [external] : [] } }),
  ]);
  const creds = ["--dest-creds", `alice:${USERS.alice}`];
  await buildI386Layout(join(fixtures, "i386"));
  multi = await buildMultiPlatformLayout(join(fixtures, "multi"), join(fixtures, "i386"));
  bigDigest = await buildLayeredLayout(join(fixtures, "big"), [6 * 1024 * 1024, 2 * 1024 * 1024]);
  await Promise.all([
    skopeoCopy(`oci:${EMBEDDED_BUSYBOX}:latest`, `docker://${anon.host}/test/busybox:latest`),
    skopeoCopy(`oci:${EMBEDDED_BUSYBOX}:latest`, `docker://${secure.host}/test/busybox:latest`),
    skopeoCopy(`oci:${EMBEDDED_BUSYBOX}:latest`, `docker://${token.host}/test/busybox:latest`, creds),
    skopeoCopy(`oci:${EMBEDDED_BUSYBOX}:latest`, `docker://${basic.host}/test/busybox:latest`, creds),
    skopeoCopy(`oci:${join(fixtures, "multi")}:latest`, `docker://${anon.host}/test/multi:latest`, ["--all"]),
    skopeoCopy(`oci:${join(fixtures, "i386")}:latest`, `docker://${anon.host}/test/i386:latest`),
    skopeoCopy(`oci:${join(fixtures, "big")}:latest`, `docker://${anon.host}/test/big:latest`),
  ]);
  const { OciLayout } = await import("../src/image/layout.js");
  busyboxDigest = (await new OciLayout(EMBEDDED_BUSYBOX).readIndex()).manifests[0]!.digest;
});

after(async () => {
  await Promise.all([anon?.stop(), token?.stop(), basic?.stop(), secure?.stop()]);
  if (fixtures) rmSync(fixtures, { recursive: true, force: true });
  cleanupIdentities();
});

function ok(r: { code: number; stderr: string }): void {
  assert.equal(r.code, 0, r.stderr);
}

/** What a terminal shows after `raw` (script's capture): lines, with \r, ESC[2K and ESC[nA applied. */
function screen(raw: string): string[] {
  const lines: string[] = [""];
  let row = 0;
  for (const token of raw.match(/\x1b\[\d*[A-Za-z]|\r|\n|[^\x1b\r\n]+/g) ?? []) {
    if (token === "\r") continue; // every write here starts a line afresh (\r then ESC[2K, or a new line)
    else if (token === "\n") lines[++row] ??= "";
    else if (token === "\x1b[2K") lines[row] = "";
    else if (token.endsWith("A")) row = Math.max(0, row - Number(token.slice(2, -1) || 1));
    else if (!token.startsWith("\x1b")) lines[row] += token;
  }
  return lines.filter((l) => l !== "");
}

/** `tsbox ARGS` on a pseudo-terminal (script(1)), 120 columns: what it wrote there. */
async function onTerminal(who: Identity, args: string[], env: Record<string, string>): Promise<string> {
  const command = `stty cols 120; ${[process.execPath, cliPath, ...args].map((a) => `'${a}'`).join(" ")}`;
  const r = await tsbox(who, [], { env, argv: ["script", "-qec", command, "/dev/null"], timeoutMs: 60_000 });
  ok(r);
  return r.stdout;
}

/** Puts an OCI index of `digests` (manifests of `repo`, their entries without a platform) under `tag`. */
async function putPlatformlessIndex(host: string, repo: string, tag: string, digests: string[]): Promise<void> {
  const accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
  const manifests = await Promise.all(digests.map(async (digest) => {
    const res = await fetch(`http://${host}/v2/${repo}/manifests/${digest}`, { headers: { accept } });
    assert.equal(res.status, 200);
    return { mediaType: res.headers.get("content-type")!, digest, size: (await res.arrayBuffer()).byteLength };
  }));
  const mediaType = "application/vnd.oci.image.index.v1+json";
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { method: "PUT", headers: { "content-type": mediaType }, body: JSON.stringify({ schemaVersion: 2, mediaType, manifests }) });
  assert.equal(res.status, 201, await res.text());
}

function imagesJson(stdout: string): { name: string; manifestDigest: string; platform: string }[] {
  return JSON.parse(stdout);
}


for (const who of identities()) {
  describe(`registry pull as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("pulls anonymously, with the digest the registry has, and runs the image", async () => {
      const env = freshStore(who);
      const r = await tsbox(who, ["pull", `${anon.host}/test/busybox`], { env });
      ok(r);
      assert.equal(r.stderr, "", "no progress output when stderr is not a terminal");
      assert.match(r.stdout, new RegExp(`Digest: ${busyboxDigest}`));
      const run = await tsbox(who, ["run", "--rm", `${anon.host}/test/busybox`, "echo", "pulled"], { env });
      ok(run);
      assert.equal(run.stdout, "pulled\n");
      const q = await tsbox(who, ["pull", "-q", `${anon.host}/test/busybox:latest`], { env });
      ok(q);
      assert.equal(q.stdout, `${anon.host}/test/busybox:latest\n`);
      // By digest too, as docker: a RepoDigest, no tag (it was a RepoTag, a second `images` row and an rmi conflict).
      ok(await tsbox(who, ["pull", "-q", `${anon.host}/test/busybox@${busyboxDigest}`], { env }));
      const tags = await tsbox(who, ["image", "inspect", "-f", "{{json .RepoTags}} {{json .RepoDigests}}", `${anon.host}/test/busybox`], { env });
      assert.equal(tags.stdout, `["${anon.host}/test/busybox:latest"] ["${anon.host}/test/busybox@${busyboxDigest}"]\n`);
      const rows = await tsbox(who, ["images", "--format", "{{.Repository}} {{.Tag}}"], { env });
      assert.equal(rows.stdout, `${anon.host}/test/busybox latest\n`);
      const id = (await tsbox(who, ["images", "-q"], { env })).stdout.trim();
      ok(await tsbox(who, ["rmi", id], { env }));
      assert.equal((await tsbox(who, ["images", "-q"], { env })).stdout, "");
    });

    it("NAME:TAG@DIGEST is NAME@DIGEST, as docker: pulled by the digest, no tag made", async () => {
      const env = freshStore(who);
      const pinned = `${anon.host}/test/busybox:1.2@${busyboxDigest}`; // tag 1.2 is not in the registry
      const r = await tsbox(who, ["pull", pinned], { env });
      ok(r);
      assert.match(r.stdout, new RegExp(`^Pulled ${anon.host}/test/busybox@${busyboxDigest} \\(`));
      // Before: a row with TAG 1.2 that run, inspect and rmi of NAME:1.2 could not find.
      assert.equal((await tsbox(who, ["images", "--format", "{{.Repository}} {{.Tag}}"], { env })).stdout, `${anon.host}/test/busybox <none>\n`);
      const run = await tsbox(who, ["run", "--rm", pinned, "echo", "pinned"], { env });
      ok(run);
      assert.equal(run.stdout, "pinned\n");
      assert.match((await tsbox(who, ["inspect", `${anon.host}/test/busybox:1.2`], { env })).stderr, /^tsbox: image not found/);
      ok(await tsbox(who, ["rmi", pinned], { env }));
      assert.equal((await tsbox(who, ["images", "-q"], { env })).stdout, "");
    });

    it("run pulls a missing image, choosing the host's platform from an index", async () => {
      const env = freshStore(who);
      const run = await tsbox(who, ["run", "--rm", `${anon.host}/test/multi`, "sh", "-c", "echo auto"], { env });
      ok(run);
      assert.equal(run.stdout, "auto\n");
      // docker's line (progress bars only on a terminal).
      assert.equal(run.stderr, `Unable to find image '${anon.host}/test/multi' locally\n`);
      let images = imagesJson((await tsbox(who, ["images", "--json"], { env })).stdout);
      assert.deepEqual(images.map((i) => [i.platform, i.manifestDigest]), [["linux/amd64", multi.amd64]]);
      const r = await tsbox(who, ["pull", "--platform", "linux/386", `${anon.host}/test/multi`], { env });
      ok(r);
      assert.match(r.stdout, /\(linux\/386\)/);
      // One store: the name now holds both platforms.
      images = imagesJson((await tsbox(who, ["images", "--json"], { env })).stdout);
      assert.deepEqual(images.map((i) => [i.platform, i.manifestDigest]), [["linux/386", multi.i386], ["linux/amd64", multi.amd64]]);
      ok(await tsbox(who, ["rmi", "--platform", "linux/amd64", `${anon.host}/test/multi`], { env }));
      images = imagesJson((await tsbox(who, ["images", "--json"], { env })).stdout);
      assert.deepEqual(images.map((i) => [i.platform, i.manifestDigest]), [["linux/386", multi.i386]]);
      // The registry's index lists linux/amd64: run pulls it again (-q: without a word).
      const quiet = await tsbox(who, ["run", "--rm", "-q", `${anon.host}/test/multi`, "true"], { env });
      ok(quiet);
      assert.equal(quiet.stderr, "");
      images = imagesJson((await tsbox(who, ["images", "--json"], { env })).stdout);
      assert.equal(images.length, 2);
      const none = await tsbox(who, ["pull", "--platform", "wasi/wasm", `${anon.host}/test/multi`], { env });
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^tsbox: .*no image for platform wasi\/wasm \(it has linux\/amd64, linux\/386\)\n$/);
      // The vm backend's store defaults to the platform its guest runs.
      const vm = await tsbox(who, ["pull", `${anon.host}/test/multi`], { env: { ...env, TSBOX_BACKEND: "vm" } });
      ok(vm);
      assert.match(vm.stdout, /\(linux\/386\)/);
      images = imagesJson((await tsbox(who, ["images", "--json"], { env })).stdout);
      assert.deepEqual(images.map((i) => [i.platform, i.manifestDigest]), [["linux/386", multi.i386], ["linux/amd64", multi.amd64]], "the vm's pull found its platform in the store");
      const missing = await tsbox(who, ["run", "--rm", `${anon.host}/test/nothing-here`, "true"], { env });
      assert.equal(missing.code, 125);
      assert.match(missing.stderr, /^tsbox: unable to find image 127\.0\.0\.1:\d+\/test\/nothing-here:latest locally, and pulling it failed: not found: .*\n$/);
      // A digest reference is named with its "@" (it read repo:sha256:…).
      const unknown = await tsbox(who, ["pull", `${anon.host}/test/multi@sha256:${"0".repeat(64)}`], { env });
      assert.match(unknown.stderr, new RegExp(`^tsbox: not found: 127\\.0\\.0\\.1:\\d+/test/multi@sha256:0{64} \\(`));
    });

    it("a multi-platform pull shows the index's digest (pull's Digest:, RepoDigests, images --digests), which pins every platform", async () => {
      const env = freshStore(who);
      const name = `${anon.host}/test/multi`;
      const pulled = await tsbox(who, ["pull", `${name}:latest`], { env });
      ok(pulled);
      assert.match(pulled.stdout, new RegExp(`\nDigest: ${multi.index}\n$`));
      ok(await tsbox(who, ["pull", "--platform", "linux/386", `${name}:latest`], { env }));
      const repoDigests = JSON.parse((await tsbox(who, ["inspect", "-f", "{{json .RepoDigests}}", name], { env })).stdout) as string[];
      assert.deepEqual(repoDigests, [`${name}@${multi.index}`], "docker's: what the tag points to in the registry");
      assert.equal((await tsbox(who, ["images", "--digests", "--format", "{{.Platform}} {{.Digest}}"], { env })).stdout, `linux/386 ${multi.index}\nlinux/amd64 ${multi.index}\n`);
      // Pinned by it, each platform pulls (a platform manifest's digest pinned one only).
      const pinned = freshStore(who);
      const byDigest = await tsbox(who, ["pull", repoDigests[0]!], { env: pinned });
      ok(byDigest);
      assert.match(byDigest.stdout, new RegExp(`\nDigest: ${multi.index}\n$`), "the digest asked for, as docker prints it");
      ok(await tsbox(who, ["pull", "--platform", "linux/386", repoDigests[0]!], { env: pinned }));
      // and names the image to remove, as images --digests shows it
      ok(await tsbox(who, ["rmi", repoDigests[0]!], { env }));
      assert.equal((await tsbox(who, ["images", "-q"], { env })).stdout, "");
    });

    it("takes an index entry without a platform when its config has the platform, as containerd does", async () => {
      await putPlatformlessIndex(anon.host, "test/busybox", "noplat", [busyboxDigest]);
      await putPlatformlessIndex(anon.host, "test/i386", "noplat", [multi.i386]);
      const env = freshStore(who);
      // Before: "has no image for platform linux/amd64 (it has ?)".
      const run = await tsbox(who, ["run", "--rm", `${anon.host}/test/busybox:noplat`, "echo", "no platform"], { env });
      ok(run);
      assert.equal(run.stdout, "no platform\n");
      assert.equal((await tsbox(who, ["images", "--format", "{{.Tag}} {{.Platform}}"], { env })).stdout, "noplat linux/amd64\n");
      const wrong = await tsbox(who, ["pull", `${anon.host}/test/i386:noplat`], { env });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^tsbox: .*test\/i386:noplat has no image for platform linux\/amd64 \(it has linux\/386\)\n$/);
    });

    it("refuses an image without the backend's platform before downloading its layers, naming the platform it has", async () => {
      const env = freshStore(who);
      const image = `${anon.host}/test/i386`;
      const r = await tsbox(who, ["run", "--rm", image, "true"], { env });
      assert.equal(r.code, 125);
      assert.match(r.stderr, /^tsbox: unable to find image .*test\/i386:latest locally, and pulling it failed: .*has no image for platform linux\/amd64 \(it has linux\/386\)\n$/);
      const layer = (await new (await import("../src/image/layout.js")).OciLayout(join(fixtures, "i386")).readJsonBlob<{ layers: { digest: string }[] }>(multi.i386)).layers[0]!.digest;
      assert.equal(existsSync(join(env.TSBOX_DATA_DIR!, "blobs", "sha256", layer.slice(7))), false, "no layer was downloaded");
      // Pulled for linux/386 (as for the vm backend), the native backend refuses it from the store, without a pull.
      ok(await tsbox(who, ["pull", "--platform", "linux/386", image], { env }));
      const again = await tsbox(who, ["run", "--rm", image, "true"], { env });
      assert.equal(again.code, 125);
      assert.match(again.stderr, /^tsbox: image .*test\/i386:latest has no linux\/amd64 variant here \(it has linux\/386\): tsbox pull --platform linux\/amd64 gets one if its registry has it\n$/);
    });

    it("a prune while a pull names its image keeps the blobs the pull found already in the store (its lease covers them)", async () => {
      // The blobs an untagged image left (rmi --no-prune) are old: the pull found them and went on, but only a
      // blob written since the pull's lease was taken was spared, and a prune before the naming deleted them
      // (the pull failed: "blob … is missing"). The index lock, held by the test, stops the pull at its naming
      // and the prune at its sweep; either may go first once it is released.
      const env = freshStore(who);
      const blobs = join(env.TSBOX_DATA_DIR!, "blobs", "sha256");
      const image = `${anon.host}/test/big`;
      for (let i = 0; i < 3; i++) {
        ok(await tsbox(who, ["pull", "-q", image], { env }));
        ok(await tsbox(who, ["rmi", "--no-prune", image], { env }));
        const anHourAgo = new Date(Date.now() - 3_600_000);
        for (const b of readdirSync(blobs)) utimesSync(join(blobs, b), anHourAgo, anHourAgo);
        const release = await holdLock(who, join(env.TSBOX_DATA_DIR!, ".index.lock"), (argv) => tsbox(who, [], { argv, env }));
        let pulling: ReturnType<typeof tsbox> | undefined;
        let pruned: ReturnType<typeof tsbox> | undefined;
        try {
          pulling = tsbox(who, ["pull", "-q", image], { env });
          await new Promise((r) => setTimeout(r, 1000)); // (the pull finds its blobs and waits to name the image)
          pruned = tsbox(who, ["image", "prune", "-af"], { env });
          await new Promise((r) => setTimeout(r, 300));
        } finally {
          await release();
        }
        ok(await pruned!);
        ok(await pulling!);
        assert.deepEqual(missingBlobs(env.TSBOX_DATA_DIR!), [], "every blob an index entry reaches is in the store");
        const run = await tsbox(who, ["run", "--rm", image, "sh", "-c", "wc -c < /data/blob0"], { env });
        ok(run);
        assert.equal(run.stdout.trim(), String(6 * 1024 * 1024));
        ok(await tsbox(who, ["rmi", image], { env }));
      }
    });

    it("pulls behind token auth after tsbox login, and refuses without", async () => {
      const env = freshStore(who);
      const image = `${token.host}/test/busybox`;
      const denied = await tsbox(who, ["pull", image], { env });
      assert.equal(denied.code, 1);
      assert.equal(denied.stderr, `tsbox: ${token.host} requires authentication: run tsbox login ${token.host}\n`);
      const wrong = await tsbox(who, ["login", "-u", "alice", "--password-stdin", token.host], { env, stdin: "nope\n" });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /wrong username or password/);
      token.tokenRequests.length = 0;
      ok(await tsbox(who, ["login", "-u", "alice", "--password-stdin", token.host], { env, stdin: `${USERS.alice}\n` }));
      ok(await tsbox(who, ["pull", image], { env }));
      assert.ok(token.tokenRequests.some((t) => t.user === "alice" && t.scopes.includes("repository:test/busybox:pull")), JSON.stringify(token.tokenRequests));
      ok(await tsbox(who, ["logout", token.host], { env }));
      assert.equal((await tsbox(who, ["pull", image], { env })).code, 1);
    });

    it("pulls behind basic auth with tsbox login, or with docker's config.json", async () => {
      const env = freshStore(who);
      const image = `${basic.host}/test/busybox`;
      assert.match((await tsbox(who, ["pull", image], { env })).stderr, /requires authentication/);
      ok(await tsbox(who, ["login", "-u", "alice", "-p", USERS.alice, basic.host], { env }));
      ok(await tsbox(who, ["pull", image], { env }));
      ok(await tsbox(who, ["logout", basic.host], { env }));
      const dockerDir = join(who.scratch, ".docker");
      mkdirSync(dockerDir, { recursive: true });
      writeFileSync(join(dockerDir, "config.json"), JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`alice:${USERS.alice}`).toString("base64") } } }));
      chownSync(dockerDir, who.uid, who.gid);
      chownSync(join(dockerDir, "config.json"), who.uid, who.gid);
      try {
        const r = await tsbox(who, ["run", "--rm", image, "echo", "via docker config"], { env: freshStore(who) });
        ok(r);
        assert.equal(r.stdout, "via docker config\n");
      } finally {
        rmSync(dockerDir, { recursive: true, force: true });
      }
    });

    it("asks docker's credential helper (credsStore, credHelpers) as docker does; logout says what docker's config still has", async () => {
      const image = `${basic.host}/test/busybox`;
      const dockerDir = join(who.scratch, ".docker");
      const bin = join(who.scratch, "helpers-bin");
      mkdirSync(dockerDir, { recursive: true });
      mkdirSync(bin, { recursive: true });
      // docker-credential-helpers' protocol: `get`, the server URL on stdin, JSON out; unknown: exit 1.
      writeFileSync(
        join(bin, "docker-credential-test"),
        `#!/bin/sh\n[ "$1" = get ] || exit 2\nurl=$(cat)\n[ "$url" = "${basic.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\nprintf '{"ServerURL":"%s","Username":"alice","Secret":"${USERS.alice}"}' "$url"\n`,
        { mode: 0o755 },
      );
      const config = (c: object) => writeFileSync(join(dockerDir, "config.json"), JSON.stringify(c));
      const env = { ...freshStore(who), PATH: `${bin}:${process.env.PATH}` };
      try {
        // What `docker login` writes with a helper: an empty auths entry. Before: "requires authentication".
        config({ auths: { [basic.host]: {} }, credsStore: "test" });
        const r = await tsbox(who, ["run", "--rm", image, "echo", "via helper"], { env });
        ok(r);
        assert.equal(r.stdout, "via helper\n");
        config({ auths: {}, credsStore: "nothing-here", credHelpers: { [basic.host]: "test" } });
        ok(await tsbox(who, ["pull", "-q", image], { env: { ...env, ...freshStore(who) } }));
        config({ auths: {}, credHelpers: { [basic.host]: "absent" } });
        const missing = await tsbox(who, ["pull", image], { env: { ...env, ...freshStore(who) } });
        assert.equal(missing.code, 1);
        assert.equal(
          missing.stderr,
          `tsbox: ${basic.host} requires authentication: run tsbox login ${basic.host} (docker's config names the credential helper docker-credential-absent, which gave none: no executable docker-credential-absent on PATH)\n`,
        );
        // logout: tsbox's own entry goes; docker's, still used, is named (it said "Not logged in" and used it).
        config({ auths: { [basic.host]: { auth: Buffer.from(`alice:${USERS.alice}`).toString("base64") } } });
        const out = await tsbox(who, ["logout", basic.host], { env });
        ok(out);
        assert.equal(out.stdout, `Not logged in to ${basic.host}\n`);
        assert.equal(out.stderr, `tsbox: docker's config ${join(dockerDir, "config.json")} still has credentials for ${basic.host}, which tsbox uses: docker logout ${basic.host} removes them\n`);
      } finally {
        rmSync(dockerDir, { recursive: true, force: true });
        rmSync(bin, { recursive: true, force: true });
      }
    });
  });
}

for (const who of identities()) {
  describe(`registry TLS as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("an HTTPS registry on loopback pulls as docker's (unverified HTTPS, then HTTP), in any spelling of loopback", async () => {
      const port = secure.host.split(":")[1]!;
      // Before: "registry answered 400 Bad Request" (plain HTTP sent to it).
      for (const host of [`127.0.0.1:${port}`, `LOCALHOST:${port}`, `127.1:${port}`]) {
        const r = await tsbox(who, ["pull", "-q", `${host}/test/busybox`], { env: freshStore(who) });
        ok(r);
      }
      // A plain-HTTP one on loopback still answers (its HTTPS attempt fails first).
      ok(await tsbox(who, ["pull", "-q", `localhost:${anon.host.split(":")[1]}/test/busybox`], { env: freshStore(who) }));
    });

    it("a self-signed registry elsewhere: a clear refusal, then its CA in certs.d or TSBOX_INSECURE_REGISTRIES; plain HTTP said as such", async (t) => {
      if (!external) return t.skip("no address but loopback here");
      const host = `${external}:${secure.host.split(":")[1]}`;
      const env = freshStore(who);
      const refused = await tsbox(who, ["pull", `${host}/test/busybox`], { env });
      assert.equal(refused.code, 1);
      // Before: "cannot reach registry …: DEPTH_ZERO_SELF_SIGNED_CERT".
      assert.equal(
        refused.stderr,
        `tsbox: the certificate of registry ${host} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): put the CA that signed it in ${who.scratch}/.config/tsbox/certs.d/${host}/ca.crt (or docker's /etc/docker/certs.d/${host}/), or list ${host} in TSBOX_INSECURE_REGISTRIES to skip verification\n`,
      );
      ok(await tsbox(who, ["pull", "-q", `${host}/test/busybox`], { env: { ...env, TSBOX_INSECURE_REGISTRIES: `other:1, ${host}` } }));
      const certs = join(who.scratch, ".config", "tsbox", "certs.d", host);
      mkdirSync(certs, { recursive: true });
      writeFileSync(join(certs, "ca.crt"), secure.cert!);
      try {
        ok(await tsbox(who, ["pull", "-q", `${host}/test/busybox`], { env: freshStore(who) }));
      } finally {
        rmSync(join(who.scratch, ".config", "tsbox", "certs.d"), { recursive: true, force: true });
      }
      // A plain-HTTP registry not on loopback. Before: "cannot reach registry …: ERR_SSL_WRONG_VERSION_NUMBER".
      const plain = await blobProxy(anon.host, "", "pass", { listen: external });
      try {
        const r = await tsbox(who, ["pull", `${plain.host}/test/busybox`], { env: freshStore(who) });
        assert.equal(r.code, 1);
        assert.equal(r.stderr, `tsbox: registry ${plain.host} answered in plain HTTP, not HTTPS (ERR_SSL_WRONG_VERSION_NUMBER): if you trust the network to it, list it in TSBOX_INSECURE_REGISTRIES\n`);
        ok(await tsbox(who, ["pull", "-q", `${plain.host}/test/busybox`], { env: { ...freshStore(who), TSBOX_INSECURE_REGISTRIES: plain.host } }));
      } finally {
        await plain.close();
      }
    });
  });
}

/**
 * A proxy in front of the registry that can cut one blob's body off half-way
 * ("cut": the connection is destroyed) or stall it ("stall": nothing more is
 * sent), and records the Range headers of blob requests.
 */
interface BlobProxy {
  host: string;
  ranges: (string | undefined)[];
  halfSent: Promise<void>;
  close(): Promise<void>;
}

interface ProxyOptions {
  /** The address it listens on. */
  listen?: string;
  /** A status and Retry-After to answer a request with instead of passing it on, e.g. a registry's rate limit. */
  refuse?: (method: string, url: string) => [number, string] | undefined;
}

async function blobProxy(target: string, blobDigest: string, mode: "cut" | "stall" | "pass", { listen = "127.0.0.1", refuse }: ProxyOptions = {}): Promise<BlobProxy> {
  const ranges: (string | undefined)[] = [];
  let onHalf: () => void = () => {};
  const halfSent = new Promise<void>((resolve) => (onHalf = resolve));
  let tampered = false;
  const server: Server = createServer((req, res) => {
    const refused = refuse?.(req.method ?? "", req.url ?? "");
    if (refused) return void res.writeHead(refused[0], { "retry-after": refused[1], "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }));
    const isBlob = req.url?.includes(`/blobs/${blobDigest}`) && req.method === "GET";
    if (isBlob) ranges.push(req.headers.range);
    const upstream = httpRequest(`http://${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: target } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (!isBlob || mode === "pass" || tampered) return void up.pipe(res);
      tampered = true;
      const total = Number(up.headers["content-length"]);
      let sent = 0;
      up.on("data", (chunk: Buffer) => {
        if (sent >= total / 2) return;
        const part = chunk.subarray(0, Math.max(0, Math.floor(total / 2) - sent));
        sent += part.length;
        res.write(part);
        if (sent >= Math.floor(total / 2)) {
          up.destroy();
          onHalf();
          if (mode === "cut") setTimeout(() => res.destroy(), 50);
        }
      });
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, listen, resolve));
  return {
    host: `${listen}:${(server.address() as { port: number }).port}`,
    ranges,
    halfSent,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

for (const who of identities()) {
  describe(`resumable pulls as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("parallel pulls of one image in one process share each blob's download; one caller's abort leaves the others' (moby shares them too)", async () => {
      const { OciLayout } = await import("../src/image/layout.js");
      const manifest = await new OciLayout(join(fixtures, "big")).readJsonBlob<{ config: { digest: string }; layers: { digest: string }[] }>(bigDigest);
      const blobs = [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
      const once = Object.fromEntries(blobs.map((d) => [d, 1]));
      const [a, b] = [freshStore(who).TSBOX_DATA_DIR!, freshStore(who).TSBOX_DATA_DIR!];
      const r = await runJsonScript(who, sharedPullScript, [anon.host, "test/big", manifest.layers[1]!.digest, a, b]);
      // Before: every blob was fetched once per caller (4 times here), each into its own .part file.
      assert.deepEqual(r.parallel, { digests: [bigDigest, bigDigest, bigDigest, bigDigest], gets: once, leftovers: [] });
      assert.deepEqual(r.abort, { aborted: "AbortError: This operation was aborted", other: bigDigest, gets: once, leftovers: [] });
    });

    it("a pull cut off mid-blob resumes it at once with a Range request, its progress saying so (docker retries)", async () => {
      const env = freshStore(who);
      const { OciLayout } = await import("../src/image/layout.js");
      const manifest = await new OciLayout(join(fixtures, "big")).readJsonBlob<{ layers: { digest: string; size: number }[] }>(bigDigest);
      const blob = manifest.layers[1]!; // the 6 MB layer
      const cut = await blobProxy(anon.host, blob.digest, "cut");
      try {
        // Before: the pull failed ("was interrupted after N of M bytes"); only the next one resumed.
        const raw = await onTerminal(who, ["pull", `${cut.host}/test/big`], env);
        assert.match(raw, new RegExp(`${blob.digest.slice(7, 19)}: Retrying in 1 second\\r`));
        assert.match(screen(raw).at(-1) ?? "", new RegExp(`^Digest: ${bigDigest}$`));
        assert.equal(cut.ranges.length, 2);
        assert.equal(cut.ranges[0], undefined);
        assert.match(cut.ranges[1] ?? "", /^bytes=[1-9]\d*-$/, "the retry asked only for the rest");
        assert.ok(!existsSync(join(env.TSBOX_DATA_DIR!, ".downloads")), "no partial download is left");
        const run = await tsbox(who, ["run", "--rm", `${cut.host}/test/big`, "sh", "-c", "wc -c < /data/blob0"], { env });
        ok(run);
        assert.equal(run.stdout.trim(), String(6 * 1024 * 1024));
      } finally {
        await cut.close();
      }
    });

    it("429 and 503 are waited out (Retry-After) and retried, 5 attempts at most; Ctrl-C ends the wait at once", async () => {
      const seen: string[] = [];
      // The first manifest GET and the first blob GET are refused, as a rate limiter or a busy registry does.
      const limited = await blobProxy(anon.host, "", "pass", {
        refuse: (method, url) => {
          const kind = url.includes("/manifests/") ? "manifest" : url.includes("/blobs/sha256:") && method === "GET" ? "blob" : undefined;
          if (!kind || seen.includes(kind)) return undefined;
          seen.push(kind);
          return [kind === "manifest" ? 429 : 503, "1"];
        },
      });
      try {
        // Before: "registry answered 429 Too Many Requests (TOOMANYREQUESTS: slow down)".
        ok(await tsbox(who, ["pull", "-q", `${limited.host}/test/busybox`], { env: freshStore(who) }));
        assert.deepEqual(seen, ["manifest", "blob"]);
      } finally {
        await limited.close();
      }
      let refusals = 0;
      const busy = await blobProxy(anon.host, "", "pass", { refuse: (_, url) => (url.includes("/manifests/") ? (refusals++, [429, "0"]) : undefined) });
      const slow = await blobProxy(anon.host, "", "pass", { refuse: (_, url) => (url.includes("/manifests/") ? (refusals++, [429, "30"]) : undefined) });
      try {
        const r = await tsbox(who, ["pull", `${busy.host}/test/busybox`], { env: freshStore(who) });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /registry answered 429 Too Many Requests \(TOOMANYREQUESTS: slow down\)\n$/);
        assert.equal(refusals, 5, "docker's 5 attempts");
        refusals = 0;
        let pid = 0;
        const waiting = tsbox(who, ["pull", `${slow.host}/test/busybox`], { env: freshStore(who), onSpawn: (p) => (pid = p) });
        while (refusals === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        signalSpawned(pid, "SIGINT");
        const interrupted = await waiting; // a 30 s wait would outlast the helper's 20 s timeout
        assert.equal(interrupted.code, 130, interrupted.stderr);
        assert.equal(refusals, 1);
      } finally {
        await busy.close();
        await slow.close();
      }
    });

    it("a pull onto a full disk says so with the data dir's hint (it read as a network fault), and lists nothing", async () => {
      const mnt = mkdtempSync(join(tmpdir(), "tsbox-full-pull-"));
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=3m,uid=${who.uid},gid=${who.gid}`, "tmpfs", mnt]);
      try {
        const env = { TSBOX_DATA_DIR: join(mnt, "data") };
        const r = await tsbox(who, ["pull", `${anon.host}/test/big`], { env }); // a 6 MB layer
        assert.equal(r.code, 1);
        // The download and the unpack run in one pass: either may be the write that found the disk full.
        assert.match(r.stderr, /^tsbox: (writing blob sha256:[0-9a-f]{64} to the store: ENOSPC: no space left on device, write|no space left on device while unpacking layer sha256:[0-9a-f]{64} of \S+ into \S+) \(the file system of .* is full: free space \(tsbox system prune\) or set TSBOX_DATA_DIR to another disk\)\n$/);
        assert.equal((await tsbox(who, ["images", "-q"], { env })).stdout, "");
      } finally {
        execFileSync("umount", [mnt]);
        rmSync(mnt, { recursive: true, force: true });
      }
    });

    it("Ctrl-C during a pull exits 130, keeps the partial blob, and the next pull resumes", async () => {
      const env = freshStore(who);
      const { OciLayout } = await import("../src/image/layout.js");
      const manifest = await new OciLayout(join(fixtures, "big")).readJsonBlob<{ layers: { digest: string }[] }>(bigDigest);
      const blob = manifest.layers[1]!;
      const stall = await blobProxy(anon.host, blob.digest, "stall");
      try {
        let pid = 0;
        const pulling = tsbox(who, ["pull", `${stall.host}/test/big`], { env, onSpawn: (p) => (pid = p) });
        await stall.halfSent;
        const partial = join(env.TSBOX_DATA_DIR!, ".downloads");
        for (let i = 0; i < 100 && !(existsSync(partial) && readdirSync(partial).some((f) => f.endsWith(".part"))); i++) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 200)); // let the half that was sent reach the file
        signalSpawned(pid, "SIGINT");
        const first = await pulling;
        assert.equal(first.code, 130, first.stderr);
        assert.match(first.stderr, /^tsbox: pull interrupted/);
        // The stalled blob's partial is kept; a layer still downloading beside it (a loaded machine) is kept too.
        const kept = readdirSync(partial);
        assert.ok(kept.includes(`${blob.digest.slice(7)}.partial`), kept.join(" "));
        assert.ok(kept.every((f) => /^[0-9a-f]{64}\.partial$/.test(f)), kept.join(" "));
        stall.ranges.length = 0;
        const second = await tsbox(who, ["pull", `${stall.host}/test/big`], { env });
        ok(second);
        assert.match(stall.ranges[0] ?? "", /^bytes=[1-9]\d*-$/);
        assert.ok(!existsSync(partial));
      } finally {
        await stall.close();
      }
    });

    it("Ctrl-C or SIGTERM during run's or create's pull ends it by that signal and makes nothing (docker cancels the pull)", async () => {
      const env = freshStore(who);
      const { OciLayout } = await import("../src/image/layout.js");
      const manifest = await new OciLayout(join(fixtures, "big")).readJsonBlob<{ layers: { digest: string }[] }>(bigDigest);
      for (const [args, signal] of [[["run", "--rm"], "SIGINT"], [["run"], "SIGTERM"], [["run", "-d"], "SIGINT"], [["create"], "SIGTERM"]] as const) {
        const stall = await blobProxy(anon.host, manifest.layers[1]!.digest, "stall");
        try {
          let pid = 0;
          const running = tsbox(who, [...args, `${stall.host}/test/big`, "sh", "-c", "echo started"], { env, onSpawn: (p) => (pid = p) });
          await stall.halfSent;
          signalSpawned(pid, signal);
          const r = await running;
          // Before, the signal was held until the pull ended: the container was then made and started.
          assert.deepEqual([r.signal, r.stdout], [signal, ""], `${args.join(" ")}: ${r.stderr}`);
          assert.equal((await tsbox(who, ["ps", "-a", "-q"], { env })).stdout, "", `${args.join(" ")} made no container`);
        } finally {
          await stall.close();
        }
      }
    });
  });
}

for (const who of identities()) {
  describe(`registry push as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("pushes a local image, skips blobs the registry has, mounts across repositories, and pulls it back with the same digest", async () => {
      const env = freshStore(who);
      const repo = `${anon.host}/push-${who.name}/bb`;
      ok(await tsbox(who, ["tag", "busybox", `${repo}:1`], { env }));
      const first = await tsbox(who, ["push", `${repo}:1`], { env });
      ok(first);
      assert.match(first.stdout, /: 2 uploaded, 0 already present, 0 mounted\nDigest: (sha256:[0-9a-f]{64})\n$/);
      assert.ok(first.stdout.includes(busyboxDigest));
      const again = await tsbox(who, ["push", `${repo}:1`, `${repo}:2`], { env });
      ok(again);
      assert.match(again.stdout, /: 0 uploaded, 2 already present, 0 mounted/);
      ok(await tsbox(who, ["tag", `${repo}:1`, `${anon.host}/push-${who.name}/other:1`], { env }));
      const mounted = await tsbox(who, ["push", `${anon.host}/push-${who.name}/other:1`], { env });
      ok(mounted);
      assert.match(mounted.stdout, /: 0 uploaded, 0 already present, 2 mounted/);

      const clean = freshStore(who);
      const back = await tsbox(who, ["pull", `${anon.host}/push-${who.name}/other:1`], { env: clean });
      ok(back);
      assert.match(back.stdout, new RegExp(`Digest: ${busyboxDigest}`));
      const inspect = JSON.parse((await tsbox(who, ["inspect", `${anon.host}/push-${who.name}/other:1`], { env: clean })).stdout);
      assert.equal(inspect[0].Digest, busyboxDigest);
      ok(await tsbox(who, ["rmi", `${repo}:1`], { env }));
      assert.match((await tsbox(who, ["inspect", `${repo}:1`], { env })).stderr, /^tsbox: image not found/);
    });

    it("a registry on a port Node's fetch refuses (10080, 6000, 6665-6669…: a browser's list) pushes and pulls, as with docker", async () => {
      const blocked = await startRegistry({ port: await freeBadPort() });
      try {
        const env = freshStore(who);
        const repo = `${blocked.host}/bad-port-${who.name}/bb`;
        ok(await tsbox(who, ["tag", "busybox", `${repo}:1`], { env }));
        const pushed = await tsbox(who, ["push", `${repo}:1`], { env });
        ok(pushed);
        assert.match(pushed.stdout, new RegExp(`Digest: ${busyboxDigest}`));
        const back = await tsbox(who, ["pull", `${repo}:1`], { env: freshStore(who) });
        ok(back);
        assert.match(back.stdout, new RegExp(`Digest: ${busyboxDigest}`));
      } finally {
        await blocked.stop();
      }
    });

    it("on a terminal, pull and push leave their result below the progress bars", async () => {
      const env = freshStore(who);
      const repo = `${anon.host}/tty-${who.name}/bb:1`;
      ok(await tsbox(who, ["tag", "busybox", repo], { env }));
      // Before, finish() ran twice and its second redraw went up over the "Pushed …/Digest:" lines and cleared them.
      const pushed = screen(await onTerminal(who, ["push", repo], env));
      assert.match(pushed.at(-2) ?? "", new RegExp(`^Pushed ${repo} \\(linux/amd64\\): `), pushed.join("\n"));
      assert.equal(pushed.at(-1), `Digest: ${busyboxDigest}`, pushed.join("\n"));
      assert.equal(pushed.filter((l) => l.includes(": Pushed") || l.includes("Mounted") || l.includes("Already")).length, 2, pushed.join("\n"));
      const pulled = screen(await onTerminal(who, ["pull", repo], freshStore(who)));
      assert.deepEqual(pulled.slice(-2), [`Pulled ${repo} (linux/amd64)`, `Digest: ${busyboxDigest}`], pulled.join("\n"));
      assert.equal(pulled.filter((l) => l.endsWith(": Pull complete")).length, 1, pulled.join("\n"));
    });

    it("pushes every platform a name has, as an index, and each pulls back", async () => {
      const env = freshStore(who);
      const source = `${anon.host}/test/multi:latest`;
      ok(await tsbox(who, ["pull", source], { env }));
      ok(await tsbox(who, ["pull", "--platform", "linux/386", source], { env }));
      const dest = `${anon.host}/push-${who.name}/multi:1`;
      ok(await tsbox(who, ["tag", source, dest], { env }));
      const pushed = await tsbox(who, ["push", dest], { env });
      ok(pushed);
      assert.match(pushed.stdout, /^Pushed .*multi:1 \((linux\/amd64, linux\/386|linux\/386, linux\/amd64)\): /);
      const rawText = await runTool("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${dest}`]);
      const raw = JSON.parse(rawText) as { manifests: { platform: { architecture: string } }[] };
      assert.deepEqual(raw.manifests.map((m) => m.platform.architecture).sort(), ["386", "amd64"]);
      // The store has every platform of the index it pulled: that index goes, byte for byte (skopeo copy --all's).
      assert.match(pushed.stdout, new RegExp(`\nDigest: ${multi.index}\n$`));
      const bytes = execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${dest}`]);
      assert.equal(`sha256:${createHash("sha256").update(bytes).digest("hex")}`, multi.index, "the same bytes");
      assert.equal(pushed.stderr.includes("new index"), false, pushed.stderr);
      const clean = freshStore(who);
      ok(await tsbox(who, ["pull", "--platform", "linux/386", dest], { env: clean }));
      ok(await tsbox(who, ["pull", dest], { env: clean }));
      assert.match((await tsbox(who, ["images", "--format", "{{.Platform}}"], { env: clean })).stdout, /linux\/386\n.*linux\/amd64|linux\/amd64\n.*linux\/386/s);
    });

    it("after a push, RepoDigests and images --digests name what the pushed repository has (not the index a platform came from)", async () => {
      const env = freshStore(who);
      ok(await tsbox(who, ["pull", `${anon.host}/test/multi:latest`], { env })); // linux/amd64 only: its pin is the index
      const dest = `${anon.host}/push-${who.name}/one-platform:1`;
      ok(await tsbox(who, ["tag", `${anon.host}/test/multi:latest`, dest], { env }));
      const pushed = await tsbox(who, ["push", dest], { env });
      ok(pushed);
      assert.match(pushed.stdout, new RegExp(`\nDigest: ${multi.amd64}\n$`), "one platform: its manifest under the tag");
      // Before: `${dest}@${multi.index}` (the index of test/multi, which this repository never had: manifest unknown).
      const repoDigests = JSON.parse((await tsbox(who, ["inspect", "-f", "{{json .RepoDigests}}", dest], { env })).stdout) as string[];
      assert.deepEqual(repoDigests, [`${dest.replace(/:1$/, "")}@${multi.amd64}`, `${anon.host}/test/multi@${multi.index}`]);
      assert.equal((await tsbox(who, ["images", "--digests", "--format", "{{.Digest}}", dest.replace(/:1$/, "")], { env })).stdout, `${multi.amd64}\n`);
      ok(await tsbox(who, ["pull", repoDigests[0]!], { env: freshStore(who) }));
      // The name it was tagged from keeps its own pin, which still pulls every platform.
      ok(await tsbox(who, ["pull", "--platform", "linux/386", repoDigests[1]!], { env: freshStore(who) }));
    });

    it("push and pull --all-tags: every local tag of a repository, and back every tag its registry lists", async () => {
      const env = freshStore(who);
      const repo = `${anon.host}/all-${who.name}/bb`;
      for (const tag of ["1", "2", "latest"]) ok(await tsbox(who, ["tag", "busybox", `${repo}:${tag}`], { env }));
      const refused = await tsbox(who, ["push", "-a", `${repo}:1`], { env });
      assert.equal(refused.code, 125, "a usage error");
      assert.match(refused.stderr, /tag can't be used with --all-tags\/-a/);
      const pushed = await tsbox(who, ["push", "--all-tags", "-q", repo], { env });
      ok(pushed);
      assert.deepEqual(pushed.stdout.trim().split("\n").sort(), ["1", "2", "latest"].map((t) => `${repo}:${t}`));
      const clean = freshStore(who);
      const pulled = await tsbox(who, ["pull", "-a", "-q", repo], { env: clean });
      ok(pulled);
      assert.deepEqual(pulled.stdout.trim().split("\n").sort(), ["1", "2", "latest"].map((t) => `${repo}:${t}`));
      const names = (await tsbox(who, ["images", "--format", "{{.Repository}}:{{.Tag}}"], { env: clean })).stdout.trim().split("\n").sort();
      assert.deepEqual(names, ["1", "2", "latest"].map((t) => `${repo}:${t}`));
    });

    it("pushes behind token auth with push scope, mounting from a repository it may pull", async () => {
      const env = freshStore(who);
      ok(await tsbox(who, ["login", "-u", "alice", "--password-stdin", token.host], { env, stdin: `${USERS.alice}\n` }));
      ok(await tsbox(who, ["tag", "busybox", `${token.host}/test/busybox:mine`], { env }));
      ok(await tsbox(who, ["pull", `${token.host}/test/busybox`], { env }));
      token.tokenRequests.length = 0;
      const r = await tsbox(who, ["push", "busybox", `${token.host}/team-${who.name}/bb:1`], { env });
      ok(r);
      assert.match(r.stdout, /: 0 uploaded, 0 already present, 2 mounted/);
      assert.ok(token.tokenRequests.some((t) => t.scopes.includes(`repository:team-${who.name}/bb:pull,push`) && t.scopes.includes("repository:test/busybox:pull")));
      ok(await tsbox(who, ["logout", token.host], { env }));
    });
  });
}
