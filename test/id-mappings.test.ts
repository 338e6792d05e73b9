/**
 * src/spec/id-mappings.ts: the user-namespace layout and the advice given to
 * a user without subordinate ids. Fast tier: files in a temp dir, no containers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { findSubordinateRange, idMappings, isHostRoot, overlappingRanges, rootlessNetworking, subordinateIdAdvice } from "../src/spec/id-mappings.js";
import { ownIdRanges } from "../src/spec/nested-root.js";
import { rootlessHint } from "../src/spec/validate.js";

const dir = mkdtempSync(join(tmpdir(), "id-mappings-"));
after(() => rmSync(dir, { recursive: true, force: true }));

it("suggests a range after every range handed out, from 100000, and the helpers when they are missing", () => {
  const files = { subuid: join(dir, "subuid"), subgid: join(dir, "subgid") };
  // None yet (no files): useradd's first range.
  assert.equal(subordinateIdAdvice(files, true), `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${userInfo().username}`);
  // Before, 100000-165535 was suggested whatever was taken: here it is another user's.
  writeFileSync(files.subuid, "alice:100000:65536\n# a comment\nbob:165536:65536\nbroken line\n");
  writeFileSync(files.subgid, "alice:100000:65536\ncarol:300000:1000\n");
  const advice = subordinateIdAdvice(files, true);
  assert.equal(advice, `usermod --add-subuids 301000-366535 --add-subgids 301000-366535 ${userInfo().username}`);
  const [start] = /(\d+)-/.exec(advice)!.slice(1).map(Number);
  for (const who of ["alice", "bob", "carol"]) {
    for (const file of [files.subuid, files.subgid]) {
      const r = findSubordinateRange(file, who, 1);
      if (r) assert.ok(start! >= r.start + r.count, `${who}'s ${file}`);
    }
  }
  assert.match(subordinateIdAdvice(files, false), /, and install newuidmap\/newgidmap \(Debian\/Ubuntu: apt install uidmap/);
});

it("names another owner's range that shares ids with this user's, in either file, and not the user's own lines", () => {
  const files = { subuid: join(dir, "overlap-subuid"), subgid: join(dir, "overlap-subgid") };
  const uid = process.getuid!();
  writeFileSync(files.subuid, `${uid}:400000:65536\nalice:300000:65536\nbob:430000:65536\ncarol:465536:65536\n`);
  writeFileSync(files.subgid, `${uid}:400000:65536\nalice:465535:10\n`);
  const host = { uid, gid: 0, subuid: { start: 400000, count: 65536 }, subgid: { start: 400000, count: 65536 } };
  assert.deepEqual(overlappingRanges(host, files), [
    { file: files.subuid, owner: "bob", start: 430000, count: 65536, first: 430000, last: 465535 },
    { file: files.subgid, owner: "alice", start: 465535, count: 10, first: 465535, last: 465535 },
  ]);
  assert.deepEqual(overlappingRanges({ uid, gid: 0 }, files), []);
});

it("root of a user namespace inside a container maps its own namespace's lines, each onto itself and never merged", () => {
  // Rootless podman's layout: the kernel takes a child's line only when one parent line holds all of it.
  const podman = (file: string) => (file.endsWith("uid_map") ? "         0       1001          1\n         1     870000      65536\n" : "0 1001 1\n");
  assert.deepEqual(ownIdRanges("uid", podman), [
    { containerID: 0, hostID: 0, size: 1 },
    { containerID: 1, hostID: 1, size: 65536 },
  ]);
  assert.deepEqual(ownIdRanges("gid", podman), [{ containerID: 0, hostID: 0, size: 1 }]);
  const nested = { uids: ownIdRanges("uid", podman), gids: ownIdRanges("gid", podman), ownNetwork: false };
  assert.deepEqual(idMappings({ uid: 0, gid: 0, nested }).uidMappings, nested.uids);
  assert.equal(isHostRoot({ uid: 0, gid: 0, nested }), false);
  assert.equal(rootlessNetworking({ uid: 0, gid: 0, nested }), true);
  assert.equal(rootlessNetworking({ uid: 0, gid: 0, nested: { ...nested, ownNetwork: true } }), false);
  assert.equal(isHostRoot({ uid: 0, gid: 0 }), true);
  // A -u past those ids names the cause, not the rootless /etc/subuid advice.
  assert.match(rootlessHint(nested.uids), /root of a user namespace, inside a container\?, which has only ids 0, 1-65536/);
  assert.equal(rootlessHint([{ containerID: 0, hostID: 0, size: 4294967295 }]), "");
});
