/**
 * The TS↔Rust contract, TypeScript's half (fast tier: no containers, no
 * guest). The same fixtures are checked by `cargo test` (contract_* tests in
 * native-rs): see test/fixtures/contract/README.md.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { containerErrorCode } from "../src/errors.js";
import { parseStatusLine } from "../src/backends/native/status-events.js";
import { NEST_HOLDER_RECORD, parseNestHolderRecord } from "../src/backends/native/nest-holder.js";
import { encodeFrame, FrameDecoder, FrameType, HEADER, AGENT_MAX_PAYLOAD } from "../src/backends/vm/core/frame.js";
import { AGENT_OPS, AgentProtocol } from "../src/backends/vm/core/agent-protocol.js";
import type { ContainerSpec } from "../src/spec/container-spec.js";
import { LATE_PROCESS_FIELDS, spareFits } from "../src/backends/vm/core/spare.js";
import specFull from "./fixtures/contract/spec-full.json" with { type: "json" };
import { effectiveHealthcheck, healthTiming, type HealthcheckOptions } from "../src/containers/healthcheck.js";
import { DataPaths } from "../src/paths.js";
import { EVENTS_FILE, EVENTS_MAX_BYTES, EVENTS_ROTATED, PREFIX_FILTERED_ACTIONS, eventActionMatches, eventLine, eventsFileOf, statusActions } from "../src/containers/events.js";
import type { ContainerStatus } from "../src/containers/state.js";
import { GUEST_HOST_MOUNT, GUEST_INIT_SOURCE, toGuestSpec } from "../src/backends/vm/core/guest-spec.js";
import { INIT_PATH, initMount } from "../src/spec/data-options.js";
import { type CopyRecord, readRecords, recordToTar } from "../src/containers/copy-records.js";
import { hostCopy } from "../src/containers/host-copy.js";
import { LOG_INCOMPLETE, LOG_TRUNCATED } from "../src/containers/logs.js";
import { STATE_RESERVE } from "../src/paths.js";
import { checkBindSource, type Planters } from "../src/backends/vm/node/bind-source.js";

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./fixtures/contract/${name}`, import.meta.url), "utf8")) as T;

/**
 * Every key of T, optional ones too, all the way down (array elements
 * included); values themselves are not constrained. Assigning the fixture to
 * `Keys<ContainerSpec>` makes `tsc --noEmit` fail when the TS type gains a
 * field the fixture (and so Rust's check of it) does not have.
 */
type Keys<T> = T extends readonly (infer E)[] ? Keys<E>[] : T extends object ? { [K in keyof T]-?: Keys<NonNullable<T[K]>> } : unknown;
const everyField: Keys<ContainerSpec> = specFull;

test("spec-full.json names every ContainerSpec field (compile-time) and is a JSON object", () => {
  assert.equal(typeof everyField, "object");
  assert.ok(Object.keys(specFull.linux).length > 0);
});

test("error kinds: the TsboxError code and exit code of every kind the Rust side reports", () => {
  const kinds = fixture<Record<string, { exitCode: number; tsboxCode: string }>>("error-kinds.json");
  for (const [kind, { tsboxCode }] of Object.entries(kinds)) assert.equal(containerErrorCode(kind), tsboxCode, kind);
});

test("status events: the lines tsbox-runtime and the agent's supervisors write parse to the documented events", () => {
  for (const c of fixture<{ line: string; event: unknown }[]>("status-events.json")) assert.deepEqual(parseStatusLine(c.line), c.event);
});

test("the nest holder's record: where it is and its line, as nest_record.rs writes it", () => {
  const f = fixture<{ record: string[]; line: string; pid: number; start: string }>("nest-holder.json");
  assert.deepEqual([...NEST_HOLDER_RECORD], f.record);
  assert.deepEqual(parseNestHolderRecord(f.line), { pid: f.pid, start: f.start });
  assert.equal(parseNestHolderRecord("4242 987654\n"), undefined);
});

test("frames: the wire format of the agent protocol", () => {
  const doc = fixture<{
    types: Record<string, number>;
    header: number;
    agentMaxInPayload: number;
    frames: { type: number; channel: number; payloadHex: string; wireHex: string }[];
    rejected: { wireHex: string; channel: number }[];
  }>("frames.json");
  assert.deepEqual({ ...FrameType }, doc.types);
  assert.equal(HEADER, doc.header);
  assert.equal(AGENT_MAX_PAYLOAD, doc.agentMaxInPayload);
  for (const f of doc.frames) {
    const payload = Buffer.from(f.payloadHex, "hex");
    assert.equal(Buffer.from(encodeFrame(f.type, f.channel, payload)).toString("hex"), f.wireHex);
    const items = new FrameDecoder(AGENT_MAX_PAYLOAD).push(Buffer.from(f.wireHex, "hex"));
    assert.deepEqual(items, [{ kind: "frame", frame: { type: f.type, channel: f.channel, payload } }]);
  }
  for (const r of doc.rejected) {
    const items = new FrameDecoder(AGENT_MAX_PAYLOAD).push(Buffer.from(r.wireHex, "hex"));
    assert.equal(items.length, 1);
    assert.equal(items[0]!.kind, "rejected");
    assert.equal(items[0]!.kind === "rejected" && items[0]!.channel, r.channel);
  }
});

test("--init on the vm backend: the spec's source for the guest's own binary, at the path the agent answers to", () => {
  const doc = fixture<{ initPath: string; source: string; guestSource: string }>("guest-init.json");
  assert.equal(INIT_PATH, doc.initPath);
  assert.equal(GUEST_INIT_SOURCE, doc.source);
  const spec = specFull as unknown as ContainerSpec;
  const { spec: guest, exports } = toGuestSpec({ ...spec, mounts: [initMount(GUEST_INIT_SOURCE)] }, "c".repeat(64), { layerExportName: (d) => d });
  assert.deepEqual(guest.mounts, [{ ...initMount(GUEST_INIT_SOURCE), source: doc.guestSource }]);
  assert.ok(!exports.some((e) => e.path === GUEST_INIT_SOURCE));
});

test("agent ops: what AgentProtocol may send is what the agent serves", () => {
  assert.deepEqual([...AGENT_OPS], fixture<string[]>("agent-ops.json"));
});

test("seccomp by reference: what the guest link puts on the wire for each create", async () => {
  interface Wire { seccompRef?: number; seccomp: boolean }
  const doc = fixture<{ profiles: Record<string, unknown>; steps: ({ hello: true } | { profile: string | null; wire: Wire })[] }>("seccomp-ref.json");
  const sent: Record<string, any>[] = [];
  const decoder = new FrameDecoder(1 << 20);
  const link: AgentProtocol<Uint8Array> = new AgentProtocol<Uint8Array>({
    send: (bytes) => {
      for (const item of decoder.push(bytes)) if (item.kind === "frame") sent.push(JSON.parse(Buffer.from(item.frame.payload).toString("utf8")));
      // The agent consumed it: credit back, so the link's window never closes.
      queueMicrotask(() => link.receive(encodeFrame(FrameType.credit, 0, new Uint8Array(new Uint32Array([bytes.length]).buffer))));
    },
  }, (b) => b);
  const answer = (fields: Record<string, unknown>) => link.receive(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify({ id: sent.at(-1)!.id, ok: true, ...fields }))));
  const hello = async () => { const done = link.hello(5000); answer({ seccompRef: true }); await done; };
  await hello();
  for (const step of doc.steps) {
    if ("hello" in step) { await hello(); continue; }
    const spec = structuredClone(specFull) as Record<string, any>;
    if (step.profile === null) delete spec.linux.seccomp;
    else spec.linux.seccomp = doc.profiles[step.profile];
    const reply = link.request("create", { cid: "c", spec });
    const req = sent.at(-1)!;
    assert.equal(req.op, "create");
    assert.equal(req.seccompRef, step.wire.seccompRef, JSON.stringify(step));
    assert.equal(req.spec.linux.seccomp !== undefined, step.wire.seccomp, JSON.stringify(step));
    if (step.wire.seccomp) assert.deepEqual(req.spec.linux.seccomp, spec.linux.seccomp);
    // Everything but the profile goes as it was given.
    assert.deepEqual({ ...req.spec, linux: { ...req.spec.linux, seccomp: undefined } }, { ...spec, linux: { ...spec.linux, seccomp: undefined } });
    answer({});
    await reply;
  }
  // A guest whose hello does not offer it gets every profile in full.
  const done = link.hello(5000); answer({}); await done;
  for (let i = 0; i < 2; i++) {
    const reply = link.request("create", { cid: "c", spec: specFull });
    assert.equal(sent.at(-1)!.seccompRef, undefined);
    assert.deepEqual(sent.at(-1)!.spec.linux.seccomp, specFull.linux.seccomp);
    answer({}); await reply;
  }
});

test("spare-process.json: a spare takes a run's spec that differs only in the process's late fields", () => {
  const doc = fixture<{ late: string[]; spare: ContainerSpec["process"]; fits: ContainerSpec["process"][]; misfits: { differs: string; process: ContainerSpec["process"] }[] }>("spare-process.json");
  assert.deepEqual([...LATE_PROCESS_FIELDS], doc.late);
  const writable = { ...specFull.root, readonly: false };
  const spec = (process: ContainerSpec["process"]) => ({ ...(structuredClone(specFull) as ContainerSpec), root: writable, process });
  const spare = spec(doc.spare);
  for (const p of doc.fits) assert.ok(spareFits(spare, spec(p)), JSON.stringify(p));
  for (const m of doc.misfits) assert.ok(!spareFits(spare, spec(m.process)), m.differs);
  // Anything outside the process is the spare's too (its root, mounts, hostname were set up with it).
  assert.ok(!spareFits(spare, { ...spec(doc.spare), hostname: "other" }));
  // A read-only root takes another working directory only if it was there at the set-up: not at all.
  const readonly = (cwd: string) => ({ ...spec({ ...doc.spare, cwd }), root: { ...specFull.root, readonly: true } }) as ContainerSpec;
  assert.ok(spareFits(readonly("/"), readonly("/")));
  assert.ok(!spareFits(readonly("/"), readonly("/work")));
  // Key order is not a difference.
  const reordered = Object.fromEntries(Object.entries(doc.spare).reverse()) as ContainerSpec["process"];
  assert.ok(spareFits(spare, spec(reordered)));
});

test("healthcheck.json: the image's HEALTHCHECK and the run's flags become the timing file the monitor reads", () => {
  const doc = fixture<{ configs: { image?: unknown; options?: HealthcheckOptions; file: object; error?: string }[] }>("healthcheck.json");
  for (const c of doc.configs.filter((c) => c.error === undefined)) {
    const config = effectiveHealthcheck(c.image, c.options);
    assert.ok(config);
    assert.deepEqual(healthTiming(config), c.file);
  }
});

test("data-layout.json: where a --rm container's removal marker lives, which the helpers' removal deletes too", () => {
  const doc = fixture<{ id: string; removalMarker: string }>("data-layout.json");
  const paths = new DataPaths("/data");
  assert.equal(paths.removalMarker(doc.id), `/data/${doc.removalMarker}`);
  // collectOrphans reads the id back; nothing else in containers/ is taken for one.
  assert.equal(paths.removalMarkerId(basename(doc.removalMarker)), doc.id);
  for (const other of [doc.id, `.rm-${doc.id.slice(1)}`, `.rm-${doc.id}.tmp`, `.removing-${doc.id}-1`]) assert.equal(paths.removalMarkerId(other), undefined, other);
});

test("data-layout.json: the reserve a state write on a full disk frees (both monitors, and writeState)", () => {
  assert.equal(STATE_RESERVE, fixture<{ stateReserve: string }>("data-layout.json").stateReserve);
});

test("data-layout.json: the mark a log rotation leaves when it drops the oldest file (both log writers, and logs.ts)", () => {
  assert.equal(LOG_TRUNCATED, fixture<{ logTruncated: string }>("data-layout.json").logTruncated);
});

test("data-layout.json: the mark a failed log write leaves (both log writers, and logs.ts)", () => {
  assert.equal(LOG_INCOMPLETE, fixture<{ logIncomplete: string }>("data-layout.json").logIncomplete);
});

test("a vm container's kept layer: the export of its directory and the file create names", () => {
  const doc = fixture<{ hostMount: string; cid: string; keptLayerDir: string; export: { name: string; readonly: boolean; shared: boolean }; create: { layer: string } }>("kept-layer.json");
  assert.equal(GUEST_HOST_MOUNT, doc.hostMount);
  const naming = { layerExportName: (dir: string) => `l-${basename(dir)}` };
  const kept = toGuestSpec(specFull as unknown as ContainerSpec, doc.cid, naming, doc.keptLayerDir);
  assert.equal(kept.layer, doc.create.layer);
  assert.deepEqual(kept.exports.find((e) => e.name === doc.export.name), { ...doc.export, path: doc.keptLayerDir });
  // Without a directory (--rm, the browser) nothing is kept.
  const plain = toGuestSpec(specFull as unknown as ContainerSpec, doc.cid, naming);
  assert.equal(plain.layer, undefined);
  assert.ok(!plain.exports.some((e) => e.name === doc.export.name));
});

test("bind-sources.json: a symlink on the way to a bind source is followed only when no container could have planted it (the vm backend's check; native: paths.rs)", () => {
  type Entry = { dir?: string; file?: string; link?: string; to?: string };
  type Case = { source: string; planters: "self" | "others" | "everyone"; path?: string; refused?: { link: string; to: string }; errno?: string };
  const doc = fixture<{ refusal: string; tree: Entry[]; cases: Case[] }>("bind-sources.json");
  const root = realpathSync(mkdtempSync(join(tmpdir(), "bind-sources-")));
  const uid = process.getuid!();
  const fill = (s: string) => s.replaceAll("{root}", root).replaceAll("{uid}", String(uid));
  try {
    for (const e of doc.tree) {
      if (e.dir !== undefined) mkdirSync(join(root, e.dir), { recursive: true });
      else if (e.file !== undefined) writeFileSync(join(root, e.file), "");
      else symlinkSync(fill(e.to!), join(root, e.link!));
    }
    const planters: Record<Case["planters"], Planters> = { self: [[uid, 1]], others: [[uid + 1, 1]], everyone: "everyone" };
    for (const c of doc.cases) {
      const check = () => checkBindSource(`${root}/${c.source}`, planters[c.planters]);
      if (c.path !== undefined) assert.equal(check().path, join(root, c.path), c.source);
      else if (c.refused) {
        const message = fill(doc.refusal.replace("{link}", `${root}/${c.refused.link}`).replace("{target}", c.refused.to));
        assert.throws(check, (err: Error) => err.message === message, c.source);
      } else assert.throws(check, { code: c.errno }, c.source);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("events.json: which state changes are which docker events, and the exact line each is written as", () => {
  const doc = fixture<{
    file: string;
    rotated: string;
    maxBytes: number;
    transitions: { before: ContainerStatus; after: ContainerStatus; oomKilled?: boolean; actions: string[] }[];
    health: { healthy: string; unhealthy: string; prefixFilters: string[] };
    lines: { event: { action: string; id: string; image: string; name: string | null; exitCode?: number | null; labels?: Record<string, string>; timeNano: string }; line: string }[];
  }>("events.json");
  assert.deepEqual([EVENTS_FILE, EVENTS_ROTATED, EVENTS_MAX_BYTES], [doc.file, doc.rotated, doc.maxBytes]);
  for (const t of doc.transitions) {
    assert.deepEqual(statusActions({ status: t.before }, { status: t.after, oomKilled: t.oomKilled ?? false }), t.actions, `${t.before} -> ${t.after}`);
  }
  for (const c of doc.lines) assert.equal(eventLine({ ...c.event, timeNano: BigInt(c.event.timeNano) }), c.line);
  // The monitor writes the health events (health.rs); `--filter event=health_status` finds every one, an exact
  // `health_status: healthy` only its own.
  assert.deepEqual(PREFIX_FILTERED_ACTIONS, doc.health.prefixFilters);
  assert.ok(eventActionMatches(doc.health.healthy, "health_status") && eventActionMatches(doc.health.unhealthy, "health_status"));
  assert.ok(eventActionMatches(doc.health.healthy, doc.health.healthy) && !eventActionMatches(doc.health.unhealthy, doc.health.healthy));
  assert.ok(!eventActionMatches("health_statusx", "health_status") && !eventActionMatches("die", "di"));
  // Only a bundle of a data dir's containers/ has an events file.
  assert.equal(eventsFileOf("/data/containers/c0ffee"), `/data/${doc.file}`);
  assert.equal(eventsFileOf("/tmp/bundle"), undefined);
});

test("copy-records.json: a sparse file's stream carries only its data; both sides fill the holes, carry the layer's xattrs and refuse bad extents", async () => {
  const doc = fixture<{
    entries: { header: CopyRecord; body: string }[];
    files: Record<string, { size: number; bytes: [number, string][]; xattrs?: Record<string, string> }>;
    refused: CopyRecord[];
  }>("copy-records.json");
  const streamOf = (entries: { header: unknown; body: string }[]) => Buffer.from(entries.map((e) => JSON.stringify(e.header) + "\n" + e.body).join(""));
  const seen: Record<string, Buffer> = {};
  for await (const r of readRecords(oneChunk(streamOf(doc.entries)))) {
    const parts: Buffer[] = [];
    const entry = recordToTar(r, r.body);
    for await (const chunk of entry.body) parts.push(Buffer.from(chunk));
    seen[r.path] = Buffer.concat(parts);
    // What a layer (commit, export) gets: the carried xattrs as SCHILY.xattr.* pax records, values as bytes.
    const records = Object.entries(entry.pax).map(([k, v]) => [k.replace(/^SCHILY\.xattr\./, ""), Buffer.from(v, "latin1").toString("hex")]);
    assert.deepEqual(Object.fromEntries(records), doc.files[r.path]?.xattrs ?? {}, r.path);
  }
  assert.deepEqual(Object.keys(seen), Object.keys(doc.files));
  for (const [path, f] of Object.entries(doc.files)) {
    const want = Buffer.alloc(f.size);
    for (const [at, text] of f.bytes) want.write(text, at, "latin1");
    assert.ok(seen[path]!.equals(want), path);
  }
  // A body left unread is skipped by its data's length: the next record still parses.
  const paths: string[] = [];
  for await (const r of readRecords(oneChunk(streamOf(doc.entries)))) paths.push(r.path);
  assert.deepEqual(paths, Object.keys(doc.files));
  for (const bad of doc.refused) {
    await assert.rejects(async () => {
      for await (const r of readRecords(oneChunk(streamOf([{ header: bad, body: "" }])))) for await (const _ of r.body);
    }, bad.xattrs === undefined ? /malformed copy record \(data\)/ : /malformed copy record \(xattrs\)/, bad.path);
  }
});

test("copy-records.json scoped: told the name its reader was asked for, the JS writer takes only that name and what is below it", async () => {
  const doc = fixture<{ scoped: { cases: { name: string; written: { header: CopyRecord; body: string }[]; refused: CopyRecord[] }[] } }>("copy-records.json");
  const scratch = mkdtempSync(join(tmpdir(), "contract-scoped-"));
  try {
    for (const [i, c] of doc.scoped.cases.entries()) {
      const fresh = (what: string) => {
        const dir = join(scratch, `${i}-${what}`);
        mkdirSync(dir);
        writeFileSync(join(dir, ".bashrc"), "mine");
        return dir;
      };
      const write = async (dir: string, stream: string) => {
        const w = hostCopy("write", dir, { name: c.name });
        w.stdin!.end(stream);
        await w.done;
      };
      await write(fresh("written"), c.written.map((e) => JSON.stringify(e.header) + "\n" + e.body).join(""));
      for (const bad of c.refused) {
        const dir = fresh("refused");
        await assert.rejects(write(dir, JSON.stringify(bad) + "\n"), /refusing to write/, JSON.stringify(bad));
        assert.deepEqual(readdirSync(dir), [".bashrc"], JSON.stringify(bad));
        assert.equal(readFileSync(join(dir, ".bashrc"), "utf8"), "mine");
        rmSync(dir, { recursive: true });
      }
    }
    assert.equal(readFileSync(join(scratch, "0-written/out/g"), "utf8"), "hi");
    assert.equal(readFileSync(join(scratch, "1-written/a/f"), "utf8"), "hi");
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

async function* oneChunk(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}
