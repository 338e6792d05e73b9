/**
 * The rules behind cp, commit and import, without containers: docker cp's
 * destination rules, the record stream ↔ tar conversion, and `--change`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { planCopy } from "../src/containers/copy.js";
import { readRecords, recordToTar, tarToRecordHeader } from "../src/containers/copy-records.js";
import { applyChanges } from "../src/image/commit-changes.js";
import { splitCopyArg } from "../src/cli/commands/cp.js";

const none = { exists: false };
const dir = { exists: true, type: "dir" as const };
const file = { exists: true, type: "file" as const };

describe("docker cp's rules", () => {
  it("a file goes to a new name, over a file, or into a directory", () => {
    assert.deepEqual(planCopy({ path: "/etc/hosts", isDir: false }, { path: "/tmp/h", stat: none }), { dir: "/tmp", name: "h" });
    assert.deepEqual(planCopy({ path: "/etc/hosts", isDir: false }, { path: "/tmp/h", stat: file }), { dir: "/tmp", name: "h" });
    assert.deepEqual(planCopy({ path: "/etc/hosts", isDir: false }, { path: "/tmp", stat: dir }), { dir: "/tmp", name: "hosts" });
    assert.throws(() => planCopy({ path: "/etc/hosts", isDir: false }, { path: "/tmp/new/", stat: none }), /destination directory \/tmp\/new\/ does not exist/);
  });
  it("a directory becomes a new directory, goes into one, or gives its contents with /.", () => {
    assert.deepEqual(planCopy({ path: "/etc", isDir: true }, { path: "/tmp/e", stat: none }), { dir: "/tmp", name: "e" });
    assert.deepEqual(planCopy({ path: "/etc", isDir: true }, { path: "/tmp", stat: dir }), { dir: "/tmp", name: "etc" });
    assert.deepEqual(planCopy({ path: "/etc/.", isDir: true }, { path: "/tmp", stat: dir }), { dir: "/tmp", name: "" });
    assert.throws(() => planCopy({ path: "/etc", isDir: true }, { path: "/tmp/f", stat: file }), /cannot copy a directory onto the file/);
    assert.deepEqual(planCopy({ path: "/etc", isDir: true }, { path: "/l", stat: { exists: true, type: "symlink", targetType: "dir" } }), { dir: "/l", name: "etc" });
  });
  it("CONTAINER:PATH unless it looks like a local path", () => {
    assert.deepEqual(splitCopyArg("web:/etc"), { container: "web", path: "/etc" });
    assert.deepEqual(splitCopyArg("/tmp/a:b"), { path: "/tmp/a:b" });
    assert.deepEqual(splitCopyArg("./a:b"), { path: "./a:b" });
    assert.deepEqual(splitCopyArg("-"), { path: "-" });
  });
});

describe("record streams", () => {
  it("round trip through tar entries", async () => {
    const body = Buffer.from("hello");
    const header = tarToRecordHeader({ path: "d/f", type: "file", mode: 0o4755, uid: 1, gid: 2, size: 5, mtime: 7.5, linkname: "", devmajor: 0, devminor: 0, pax: {}, body: [body] as unknown as AsyncIterable<Buffer> });
    const link = tarToRecordHeader({ path: "d/l", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 0, linkname: "f", devmajor: 0, devminor: 0, pax: {}, body: [] as unknown as AsyncIterable<Buffer> });
    const stream = (async function* () {
      // split at awkward places: records must not depend on chunk boundaries
      const all = Buffer.concat([header, body, link]);
      for (let i = 0; i < all.length; i += 7) yield all.subarray(i, i + 7);
    })();
    const seen = [];
    for await (const r of readRecords(stream)) {
      let data = "";
      for await (const c of r.body) data += c.toString();
      const e = recordToTar(r, r.body);
      seen.push([e.path, e.type, e.mode, e.uid, e.gid, e.mtime, e.linkname, data]);
    }
    assert.deepEqual(seen, [
      ["d/f", "file", 0o4755, 1, 2, 7, "", "hello"],
      ["d/l", "symlink", 0o777, 0, 0, 0, "f", ""],
    ]);
  });
});

describe("--change", () => {
  it("applies docker's instructions", () => {
    const c = applyChanges({ Env: ["PATH=/bin", "A=1"], Cmd: ["sh"] }, [
      'CMD ["nginx", "-g", "daemon off;"]',
      "ENTRYPOINT /entry.sh",
      "ENV A=2 B=\"two words\"",
      "ENV C three words",
      "LABEL version=1.0 team=x",
      "EXPOSE 80 53/udp",
      'VOLUME ["/data"]',
      "USER nobody",
      "WORKDIR /srv",
      "STOPSIGNAL SIGQUIT",
    ]);
    assert.deepEqual(c.Cmd, ["nginx", "-g", "daemon off;"]);
    assert.deepEqual(c.Entrypoint, ["/bin/sh", "-c", "/entry.sh"]);
    assert.deepEqual(c.Env, ["PATH=/bin", "A=2", "B=two words", "C=three words"]);
    assert.deepEqual(c.Labels, { version: "1.0", team: "x" });
    assert.deepEqual(c.ExposedPorts, { "80/tcp": {}, "53/udp": {} });
    assert.deepEqual(c.Volumes, { "/data": {} });
    assert.equal(c.User, "nobody");
    assert.equal(c.WorkingDir, "/srv");
    assert.equal(c.StopSignal, "SIGQUIT");
    assert.throws(() => applyChanges({}, ["RUN rm -rf /"]), /RUN is not a valid change command/);
    // docker resolves a relative WORKDIR against the image's current one, as build does (before: refused).
    assert.equal(applyChanges({ WorkingDir: "/srv" }, ["WORKDIR app/../web"]).WorkingDir, "/srv/web");
    assert.equal(applyChanges({}, ["WORKDIR relative"]).WorkingDir, "/relative");
    assert.equal(applyChanges({ WorkingDir: "/a" }, ["WORKDIR b", "WORKDIR c"]).WorkingDir, "/a/b/c");
    // An unknown STOPSIGNAL is refused here as build refuses it (before: kept, and every run of the image failed).
    assert.throws(() => applyChanges({}, ["STOPSIGNAL FOO"]), /^UsageError: Invalid signal: FOO in "STOPSIGNAL FOO"$/);
    for (const ok of ["SIGRTMIN+3", "9", "term"]) assert.equal(applyChanges({}, [`STOPSIGNAL ${ok}`]).StopSignal, ok);
    assert.throws(() => applyChanges({}, ['CMD ["unclosed"']), /invalid JSON array/);
  });
});
