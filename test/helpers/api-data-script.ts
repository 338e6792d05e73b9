/**
 * The library's data API in a separate Node process (run as each test
 * identity): inspect, copyTo/copyFrom (paths and tar streams), diff,
 * commit, volumes and disk usage. Prints one JSON object of results.
 *   node --import tsx test/helpers/api-data-script.ts SCRATCH_DIR
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { finished } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { Runtime } from "../../src/index.js";
import { readTar } from "../../src/image/tar.js";
import { TarWriter } from "../../src/image/tar-writer.js";

const scratch = process.argv[2]!;
const rt = new Runtime({});
const results: Record<string, unknown> = {};

const volume = await rt.volumes.create("apidata", { purpose: "test" });
results.volume = { name: volume.Name, labels: volume.Labels };

{
  await using c = await rt.run({
    image: "busybox",
    cmd: ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; cat /tmp/in /data/t/x /data/z/y; echo made > /made; rm /bin/ls"],
    volumes: [{ volume: "apidata", container: "/data" }],
    labels: { app: "api" },
    ulimits: [{ name: "nofile", soft: 256, hard: 512 }],
    init: true,
  });
  const running = await c.inspect();
  results.inspectRunning = { status: running.State.Status, running: running.State.Running, labels: running.Config.Labels, init: running.HostConfig.Init, mounts: running.Mounts.map((m) => `${m.Type}:${m.Name}:${m.Destination}`) };
  // Into the running container: a host file by path, a directory as a tar stream.
  mkdirSync(join(scratch, "api"), { recursive: true });
  writeFileSync(join(scratch, "api", "in"), "from a path\n");
  await c.copyTo(join(scratch, "api", "in"), "/tmp/in");
  const w = new TarWriter();
  w.add({ path: "t/", type: "directory", mode: 0o755, mtime: 0 });
  w.add({ path: "t/x", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("from a tar\n") });
  await c.copyTo(Readable.from([w.finish()]), "/data");
  // gzip'd, as docker's archive API takes it too.
  const z = new TarWriter();
  z.add({ path: "z/y", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("from a gzip'd tar\n") });
  await c.copyTo(Readable.from([gzipSync(z.finish())]), "/data");
  writeFileSync(join(scratch, "api", "go"), "");
  await c.copyTo(join(scratch, "api", "go"), "/tmp/go");
  results.output = await c.output();
  // Out of the stopped container: as a tar stream, and to a path.
  const tar = new PassThrough();
  const copied = c.copyFrom("/made", tar);
  const names: string[] = [];
  for await (const e of readTar(tar as AsyncIterable<Buffer>)) {
    names.push(e.path);
    for await (const _ of e.body);
  }
  await copied;
  await c.copyFrom("/made", join(scratch, "api", "made"));
  // Into a file stream, which copyFrom ends: it finishes.
  const file = createWriteStream(join(scratch, "api", "made.tar"));
  await c.copyFrom("/made", file);
  await finished(file);
  const fileNames: string[] = [];
  for await (const e of readTar(createReadStream(join(scratch, "api", "made.tar")) as AsyncIterable<Buffer>)) {
    fileNames.push(e.path);
    for await (const _ of e.body);
  }
  results.copiedOut = { tarNames: names, file: readFileSync(join(scratch, "api", "made"), "utf8"), fileNames };
  // An AbortSignal ends a copy: at once when it aborted already; mid-way, a tar stream held open (which would
  // keep the copy waiting for ever), its writer removing the file it was writing.
  const failed = (p: Promise<void>) => p.then(() => "copied", (e: Error) => `${e.name}: ${e.message}`);
  const early = await failed(c.copyFrom("/made", join(scratch, "api", "early"), { signal: AbortSignal.abort() }));
  const big = new TarWriter();
  big.add({ path: "held", type: "file", mode: 0o644, mtime: 0, data: Buffer.alloc(1 << 20, 1) });
  const held = new PassThrough();
  const bigTar = big.finish();
  held.write(bigTar.subarray(0, 600_000));
  const ac = new AbortController();
  const midway = failed(c.copyTo(held, "/", { signal: ac.signal }));
  setTimeout(() => ac.abort(), 500);
  const bad = await failed(c.copyTo(join(scratch, "api", "in"), "/tmp/in", { signal: "soon" as unknown as AbortSignal }));
  // A source stream that fails midway: its own error, as stream.pipeline gives it (it read as a LayerError).
  let reads = 0;
  const broken = new Readable({
    read() {
      if (reads++ === 0) this.push(bigTar.subarray(0, 600_000));
      else this.destroy(new Error("source broke"));
    },
  });
  const sourceBroke = await failed(c.copyTo(broken, "/"));
  results.aborted = { early, earlyMade: existsSync(join(scratch, "api", "early")), midway: await midway, bad, sourceBroke };
  const changes = await c.diff();
  results.diff = changes.filter((d) => d.Path === "/made" || d.Path === "/bin/ls");
  results.abortLeft = changes.filter((d) => /held|tsbox-cp/.test(d.Path));
  const id = await c.commit({ name: "api-commit:1", message: "from the API", changes: ["CMD cat /made"] });
  const image = await rt.inspectImage("api-commit:1");
  results.commit = { idOk: id === image.Id, comment: image.Comment };
  const again = await rt.run({ image: "api-commit:1", remove: true });
  results.committedRun = await again.output();
  results.stopped = (await c.inspect()).State.Status;
}
results.usage = (await rt.diskUsage()).rows.map((r) => r.Type);
await rt.volumes.remove("apidata");
results.volumesLeft = rt.volumes.list().length;
await rt.removeImage("api-commit:1");
process.stdout.write(JSON.stringify(results));
