/**
 * bench/vm-browser: the vm backend in a Web Worker of Debian's Chromium
 * (headless, through playwright-core): cold boot to a container's first
 * output, start from vm-images' saved state to first output (when it fits
 * this guest), where the start time goes (fetching, emulator, agent), and a
 * container round trip in a running guest. Needs `npm run build:vm` and
 * /usr/bin/chromium.
 *
 *   node --import tsx bench/vm-browser.ts [--runs N]
 */
import { loadVmImages } from "../src/backends/vm/images.js";
import { DEFAULT_CONFIG, machineFingerprint } from "../src/backends/vm/machine.js";
import { loadSnapshot, packagedSnapshotPath } from "../src/backends/vm/snapshot.js";
import { bundleBrowser, chromiumSkip, GUEST_FILES, launchChromium, serveVmPage, SNAPSHOT, type StartResult, VmPage } from "../test/helpers/browser.js";
import { vmSkip } from "../test/helpers/vm.js";
import { fmtMs, median } from "./lib/stats.js";

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const skip = vmSkip || chromiumSkip;
if (skip) {
  console.error(`bench/vm-browser: ${skip}`);
  process.exit(1);
}

bundleBrowser();
const images = loadVmImages();
const server = await serveVmPage(images.dir);
const browser = await launchChromium();

interface StartSample {
  /** Milliseconds from BrowserVm.start to: the last byte fetched, the emulator running, the agent answering, a container's first output. */
  loaded: number;
  booting: number;
  ready: number;
  firstOutput: number;
}

/** A fresh page and Worker each time: nothing cached in the emulator. */
async function startSample(files: object): Promise<{ sample: StartSample; start: string | undefined }> {
  const vm = await VmPage.open(browser, server);
  try {
    const started: StartResult = await vm.start(files);
    if (!started.ok) throw new Error(`the vm did not start: ${started.error} (page: ${vm.errors.join("; ")})`);
    const at = (phase: string) => started.events.filter((e) => e.phase === phase).at(-1)?.at ?? NaN;
    const echo = await vm.run({ cmd: ["echo", "hi"] });
    if (echo.stdout !== "hi\n") throw new Error(`echo gave ${JSON.stringify(echo)}`);
    return {
      sample: { loaded: at("loading"), booting: at("booting"), ready: at("ready"), firstOutput: started.ms + echo.chunkTimes[0]! },
      start: started.events.at(-1)?.start,
    };
  } finally {
    await vm.close();
  }
}

function summarise(label: string, samples: StartSample[]): [string, string][] {
  const m = (k: keyof StartSample) => fmtMs(median(samples.map((s) => s[k])));
  return [
    [`${label} → first output`, m("firstOutput")],
    [`  of which: files fetched / emulator running / agent ready`, `${m("loaded")} / ${m("booting")} / ${m("ready")}`],
  ];
}

try {
  const rows: [string, string][] = [];
  const cold: StartSample[] = [];
  for (let i = 0; i < runs; i++) cold.push((await startSample(GUEST_FILES)).sample);
  rows.push(...summarise("cold boot in Chromium", cold));

  const packaged = loadSnapshot(packagedSnapshotPath(images.dir), machineFingerprint(images, DEFAULT_CONFIG));
  if (packaged.kind === "ok") {
    const warm: StartSample[] = [];
    for (let i = 0; i < runs; i++) {
      const { sample, start } = await startSample({ ...GUEST_FILES, snapshot: SNAPSHOT });
      if (start !== "restore") throw new Error(`expected a restore, got ${start}`);
      warm.push(sample);
    }
    rows.push(...summarise(`saved state (${(packaged.saved.state.byteLength / 1e6).toFixed(1)} MB) in Chromium`, warm));
  } else {
    rows.push(["saved state in Chromium", `not measured: vm-images' state ${packaged.kind === "missing" ? "is missing" : `is not usable (${packaged.reason})`}`]);
  }

  const vm = await VmPage.open(browser, server);
  try {
    const started = await vm.start(GUEST_FILES);
    if (!started.ok) throw new Error(String(started.error));
    await vm.run({ cmd: ["true"] });
    const trips: number[] = [];
    for (let i = 0; i < runs * 2; i++) trips.push((await vm.run({ cmd: ["true"] })).ms);
    rows.push(["container round trip (`true`, guest running)", fmtMs(median(trips))]);
  } finally {
    await vm.close();
  }

  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`bench/vm-browser (Chromium ${browser.version()}, median of ${runs})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
} finally {
  await browser.close();
  await server.close();
}
