/**
 * The playground page (web/index.html, bundled by scripts/build-web.mjs):
 * `tsbox/browser`'s Runtime driven the way any embedding page would drive
 * it, with an xterm.js terminal attached to a shell in a container. The
 * import of ../src/browser.js becomes the page's own ./tsbox.js at bundle
 * time, so the playground uses exactly what embedders get.
 */
import { type Container, type ExecProcess, type ProgressEvent, Runtime } from "../src/browser.js";
import { shellOptions } from "./shell.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const MiB = 1024 * 1024;

/**
 * A process whose terminal the page can show: a container's shell or one exec'd into it. Made once per
 * process, it holds its stdin's writer and reads its output for good (a stream has one reader and one
 * writer); attaching another only changes which one the terminal shows and types into.
 */
interface Attachment {
  container: Container;
  proc: Container | ExecProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Its output so far (the newest TRANSCRIPT_BYTES): drawn again when it is shown again. */
  transcript: Uint8Array[];
  transcriptBytes: number;
}

/** What an attachment keeps to redraw its terminal. */
const TRANSCRIPT_BYTES = 1024 * 1024;

/** Milliseconds since navigation at which the page's start reached each step (bench/web reads them). */
const times: Record<string, number> = { script: Math.round(performance.now()) };
const mark = (name: string) => (times[name] ??= Math.round(performance.now()));

const state = {
  start: undefined as ProgressEvent["start"],
  bootMs: 0,
  attached: undefined as Attachment | undefined,
  attachments: new Map<Container | ExecProcess, Attachment>(),
  containers: [] as Container[],
  selected: "busybox",
  times,
  /** The Worker's own steps of the start (ProgressEvent.steps). */
  steps: {} as Record<string, number>,
  /** A state with a shell started ahead was stored: the next visit's shell is already running. */
  standbySaved: false,
};

// The guest starts first, and the page builds its terminal while the guest is
// restored: the Worker's script, the saved state and the restore are the
// start's longest steps, and xterm.js (most of the page's script:
// terminal.ts) is imported once the Worker runs, since parsing it held the
// Worker's start up. The shell is kept started ahead (the Runtime's
// `standby`, also in the saved state and in the served snapshot: snapshot.ts),
// so a visit's shell is already running; its terminal size follows at the
// `run` (a resize).
let workerRuns!: () => void;
const running = new Promise<void>((resolve) => (workerRuns = resolve));
const rt = new Runtime({ onProgress: showProgress, onNotice: (m) => status(m), standby: shellOptions("busybox") });
const booting = rt.boot();
// For tests and the curious: the page's own objects (`term` once it is built).
const playground: { rt: Runtime; state: typeof state; term?: InstanceType<typeof Terminal> } = { rt, state };
Object.assign(globalThis, { playground });

// A guest that cannot start (a file the server lacks, a blocked Worker) says so where the progress was, and the
// buttons that need it are off (before, the bar stayed at its last figure and "Run shell" did nothing).
// "Run shell" waits for the guest (it did nothing while a file stalled the start).
booting.then(() => ($<HTMLButtonElement>("run").disabled = false), () => {});
booting.catch((err: Error) => {
  $("progress").classList.add("failed");
  $("progress-bar").style.width = "100%";
  $("progress-text").textContent = `the guest did not start: ${err.message}`;
  for (const id of ["run", "stop", "exec"]) $<HTMLButtonElement>(id).disabled = true;
});
await Promise.race([running, booting.catch(() => {})]);
const { FitAddon, Terminal } = await import("./terminal.js");
const term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000 });
const fit = new FitAddon();
term.loadAddon(fit);
term.open($("terminal"));
fit.fit();
playground.term = term;
mark("xterm");

const encoder = new TextEncoder();
term.onData((data) => void state.attached?.writer.write(encoder.encode(data)).catch(() => {}));
term.onResize(({ cols, rows }) => state.attached?.proc.resize(cols, rows));
new ResizeObserver(() => fit.fit()).observe($("terminal-pane"));

function showProgress(e: ProgressEvent): void {
  workerRuns();
  mark(e.phase);
  // After `ready`: the next shell is running ahead (and, when `saved`, stored for the next visit).
  if (e.phase === "standby") return void (state.standbySaved ||= e.saved === true);
  const bar = $("progress");
  const text =
    e.phase === "loading"
      ? `loading ${((e.loaded ?? 0) / MiB).toFixed(1)} of ${((e.total ?? 0) / MiB).toFixed(1)} MiB`
      : e.phase === "booting"
        ? e.start === "cold"
          ? "booting the guest…"
          : "restoring the saved guest…"
        : e.phase === "warming"
          ? "warming up…"
          : `ready (${e.start === "cold" ? "cold boot" : e.start === "stored" ? "restored from this browser's saved state" : "restored from the served snapshot"}, ${e.elapsedMs} ms)`;
  const pct = e.phase === "loading" && e.total ? (80 * (e.loaded ?? 0)) / e.total : e.phase === "booting" ? 85 : e.phase === "warming" ? 95 : 100;
  $("progress-bar").style.width = `${pct}%`;
  $("progress-text").textContent = text;
  bar.setAttribute("aria-valuenow", String(Math.round(pct)));
  if (e.phase === "ready") {
    state.steps = e.steps ?? {};
    state.start = e.start;
    state.bootMs = e.elapsedMs ?? 0;
    bar.classList.add("done");
    status(text);
  }
}

function status(text: string, error = false): void {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

/** Shows `proc`'s terminal: its output (so far, then as it comes) to xterm, keystrokes to its stdin. */
function attach(container: Container, proc: Container | ExecProcess): void {
  let attachment = state.attachments.get(proc);
  if (!attachment) {
    attachment = { container, proc, writer: proc.stdin!.getWriter(), transcript: [], transcriptBytes: 0 };
    state.attachments.set(proc, attachment);
    void follow(attachment).catch((err: Error) => status(err.message, true));
  }
  state.attached = attachment;
  term.reset();
  for (const chunk of attachment.transcript) term.write(chunk);
  term.focus();
  renderContainers();
}

/** Reads an attachment's output to its end, drawing it while it is the one shown. */
async function follow(attachment: Attachment): Promise<void> {
  const show = (chunk: Uint8Array) => {
    attachment.transcript.push(chunk);
    attachment.transcriptBytes += chunk.length;
    while (attachment.transcriptBytes > TRANSCRIPT_BYTES && attachment.transcript.length > 1) attachment.transcriptBytes -= attachment.transcript.shift()!.length;
    if (state.attached === attachment) term.write(chunk);
  };
  for await (const chunk of attachment.proc.stdout as unknown as AsyncIterable<Uint8Array>) {
    mark("output");
    show(chunk);
  }
  const { exitCode } = await attachment.proc.wait();
  show(encoder.encode(`\r\n[process exited with code ${exitCode}]\r\n`));
  // An exec'd shell that ends gives the terminal back to its container's own shell, as leaving `docker exec` gives
  // the prompt back (it stayed on the ended process, typing going nowhere).
  const { container } = attachment;
  if (state.attached === attachment && attachment.proc !== container && container.running && state.attachments.has(container)) {
    state.attachments.delete(attachment.proc);
    attach(container, container);
    status(`the exec'd shell exited (code ${exitCode}): back to container ${container.id.slice(0, 12)}'s own shell`);
  }
}

async function runShell(): Promise<void> {
  const t0 = performance.now();
  const c = await rt.run(shellOptions(state.selected, { cols: term.cols, rows: term.rows }));
  mark("shell");
  state.containers.push(c);
  void c.wait().then(() => renderContainers());
  attach(c, c);
  status(`container ${c.id.slice(0, 12)} (${state.selected}) started in ${Math.round(performance.now() - t0)} ms`);
}

async function execShell(): Promise<void> {
  const c = state.attached?.container;
  if (!c?.running) return status("no running container to exec into", true);
  const p = await c.spawn(["sh"], { tty: { cols: term.cols, rows: term.rows }, env: { PS1: "(exec) \\u@\\h:\\w\\$ " } });
  attach(c, p);
  status(`exec'd a shell into ${c.id.slice(0, 12)}`);
}

async function stop(): Promise<void> {
  const c = state.attached?.container;
  if (!c) return;
  const { exitCode } = await c.stop(3000);
  status(`container ${c.id.slice(0, 12)} stopped (exit code ${exitCode})`);
  renderContainers();
}

function renderContainers(): void {
  const list = $("containers");
  list.replaceChildren(
    ...state.containers
      .filter((c) => c.running)
      .map((c) => {
        const li = document.createElement("li");
        li.textContent = c.id.slice(0, 12);
        li.classList.toggle("attached", state.attached?.container === c);
        li.onclick = act(async () => attach(c, c));
        return li;
      }),
  );
  const running = Boolean(state.attached?.container.running);
  $<HTMLButtonElement>("stop").disabled = !running;
  $<HTMLButtonElement>("exec").disabled = !running;
}

async function refreshImages(select?: string): Promise<void> {
  const images = await rt.images();
  const names = [...new Set(["busybox:latest", ...images.map((i) => i.name)])];
  if (select) state.selected = select;
  $<HTMLSelectElement>("image").replaceChildren(
    ...names.map((n) => {
      const o = document.createElement("option");
      o.value = o.textContent = n;
      o.selected = n === state.selected || (state.selected === "busybox" && n === "busybox:latest");
      return o;
    }),
  );
}

async function loadArchive(file: File): Promise<void> {
  status(`loading ${file.name}…`);
  const names = await rt.load(file);
  await refreshImages(names[0]);
  status(`loaded ${names.join(", ")}`);
}

/** CPU % from the cgroup's usage between two samples. */
let lastCpu: { usec: number; at: number } | undefined;
async function pollStats(): Promise<void> {
  const c = state.attached?.container;
  if (!c?.running) {
    lastCpu = undefined;
    for (const id of ["stat-cpu", "stat-mem", "stat-pids", "stat-guest"]) $(id).textContent = "–";
    return;
  }
  const s = await c.stats();
  const now = performance.now();
  if (lastCpu) $("stat-cpu").textContent = `${Math.min(100, (100 * (s.cpu.usageUsec - lastCpu.usec)) / ((now - lastCpu.at) * 1000)).toFixed(1)} %`;
  lastCpu = { usec: s.cpu.usageUsec, at: now };
  $("stat-mem").textContent = `${(s.memory.usage / MiB).toFixed(1)} MiB${s.memory.limit ? ` of ${(s.memory.limit / MiB).toFixed(0)}` : ""}`;
  $("stat-pids").textContent = String(s.pids.current);
  $("stat-guest").textContent = s.guest.memAvailableKiB !== null ? `${(s.guest.memAvailableKiB / 1024).toFixed(0)} MiB` : "–";
}

/** Buttons report failures on the status line instead of throwing into the void. */
const act = (fn: () => Promise<void>) => () => void fn().catch((err: Error) => status(err.message, true));

$("run").onclick = act(runShell);
$("exec").onclick = act(execShell);
$("stop").onclick = act(stop);
$("clear").onclick = act(async () => {
  await rt.clearStorage();
  await refreshImages("busybox");
  status("saved images and guest state cleared: the next visit starts as a first one");
});
$<HTMLSelectElement>("image").onchange = (e) => (state.selected = (e.target as HTMLSelectElement).value);
$<HTMLInputElement>("archive").onchange = act(async () => {
  const file = $<HTMLInputElement>("archive").files?.[0];
  if (file) await loadArchive(file);
});
$("layout-form").onsubmit = (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("layout-url").value.trim();
  act(async () => {
    // A URL names an OCI image layout; anything else is an image to pull from a registry that allows this page (CORS).
    if (!/^(https?:)?\/\/|^\.{0,2}\//.test(input)) {
      status(`pulling ${input}…`);
      const { name } = await rt.pull(input, {
        onProgress: (e) => status(`pulling ${input}: ${e.kind} ${e.id} ${e.status === "done" ? "done" : `${((e.current ?? 0) / MiB).toFixed(1)}${e.total ? ` of ${(e.total / MiB).toFixed(1)}` : ""} MiB`}`),
      });
      // The list shows docker's short names; the rule is the library's, a chunk loaded only here.
      const { familiarName, parseReference } = await import("../src/image/reference.js");
      await refreshImages(familiarName(parseReference(name)));
      return status(`pulled ${name}`);
    }
    const name = `${new URL(input, location.href).host || "local"}${new URL(input, location.href).pathname.replace(/\/+$/, "")}`.toLowerCase().replace(/[^a-z0-9._/-]/g, "-");
    await rt.loadLayout(input, name);
    await refreshImages(name);
    status(`added ${name}`);
  })();
};
const drop = $("drop");
drop.ondragover = (e) => (e.preventDefault(), drop.classList.add("over"));
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer?.files[0];
  if (file) act(() => loadArchive(file))();
};

await act(async () => {
  await booting;
  // The shell first: the image list is a Worker call the prompt need not wait for.
  await Promise.all([runShell(), refreshImages()]);
  setInterval(() => void pollStats().catch(() => {}), 1000);
})();
