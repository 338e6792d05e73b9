import type { Readable, Writable } from "node:stream";
import { TsboxError } from "../errors.js";
import { addonPresent, loadAddonSync, loadedAddon } from "../backends/native/addon.js";
import type { DetachFilter } from "./detach-keys.js";
import { readerGone, terminalHungUp } from "./fd-output.js";
import { dieOf, ENDING } from "./interrupt.js";

/** What has a terminal to connect to: a container or a process exec'd into one. */
export interface TerminalPeer {
  stdin: Writable | null;
  stdout: Readable | null;
  resize(cols: number, rows: number): void;
}

/** docker's check for `-it`: a terminal's input needs a terminal to read from (exit 1, as docker's). */
export function requireInputTerminal(tty: boolean, interactive: boolean): void {
  if (tty && interactive && !process.stdin.isTTY) throw new TsboxError("the input device is not a TTY", { exitCode: 1, code: "usage" });
}

/** The host terminal's size, or 80x24 when stdout is not a terminal. */
export function hostTerminalSize(): { cols: number; rows: number } {
  const out = process.stdout;
  return out.isTTY && out.columns > 0 && out.rows > 0 ? { cols: out.columns, rows: out.rows } : { cols: 80, rows: 24 };
}

/**
 * Connects the host terminal to a container's pty: raw mode so keystrokes
 * (^C included) reach the container unmodified, window size changes
 * forwarded. With `detach`, its keys are not passed on but call `onDetach`
 * (detach-keys.ts). Returns the function that restores the host terminal.
 *
 * While it is raw, a SIGINT, SIGTERM or SIGHUP from elsewhere (`kill`, a
 * multiplexer closing the window) restores it, then the CLI dies of that
 * signal: Node's own handler that would reset it is gone for good once any
 * code added and removed a listener of that signal (libuv leaves SIG_DFL;
 * `untilMade` did, and `run -it` left the user's shell raw).
 */
export function attachTerminal(container: TerminalPeer, forwardInput: boolean, detach?: { filter: DetachFilter; onDetach: () => void }): () => void {
  const stdin = process.stdin;
  const raw = forwardInput && stdin.isTTY;
  if (raw) {
    stdin.setRawMode(true);
    // Node's raw mode keeps output post-processing, so the pty's "\r\n" would reach the screen as "\r\r\n";
    // off as in docker's raw mode (setRawMode(false) restores the terminal as it was). Loaded here when no
    // native pty loaded it (attach, a vm container's run or exec: those showed "\r\r\n").
    try {
      (loadedAddon() ?? (addonPresent() ? loadAddonSync() : undefined))?.rawOutput(0);
    } catch {
      // not a terminal we may change: the extra \r shows nowhere on a screen
    }
  }
  // docker's attach sends the size first: a container started elsewhere (run -dit) kept 80x24 until the
  // window next changed. Before any input, whose line the shell would be redrawing. Harmless for the run and
  // exec that made their pty at this size.
  // A size that cannot be passed on (the container just ended) is not the run's failure: docker's resize
  // errors only reach its debug log.
  const onResize = () => {
    const { cols, rows } = hostTerminalSize();
    try {
      container.resize(cols, rows);
    } catch {
      // the next resize, or the end of the run, tells the rest
    }
  };
  if (process.stdout.isTTY) onResize();
  let onData: ((chunk: Buffer) => void) | undefined;
  if (forwardInput && container.stdin) {
    const input = container.stdin;
    if (detach) {
      onData = (chunk) => {
        const { pass, detach: done } = detach.filter.push(chunk);
        if (pass.length > 0) input.write(pass);
        if (done) detach.onDetach();
      };
      stdin.on("data", onData);
    } else stdin.pipe(input);
    // Writes after the container is gone fail with EIO; nothing to tell the user.
    input.on("error", () => {});
  }
  if (container.stdout) relayOutput(container.stdout, process.stdout);
  process.stdout.on("resize", onResize);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.stdout.off("resize", onResize);
    if (raw) for (const s of ENDING) process.off(s, onSignal);
    if (forwardInput) {
      if (onData) stdin.off("data", onData);
      stdin.unpipe();
      stdin.pause();
    }
    if (raw) cooked(stdin);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    restore();
    dieOf(signal);
  };
  if (raw) for (const s of ENDING) process.on(s, onSignal);
  return restore;
}

/** Raw mode off; a terminal that hung up refuses (EIO, emitted as 'error'): there is nothing left to restore. */
function cooked(stdin: NodeJS.ReadStream): void {
  try {
    stdin.setRawMode(false);
  } catch {
    // hung up
  }
}

/**
 * Copies a container's (or exec'd process's) output to the CLI's own stdout
 * or stderr. A reader that went away never crashes the CLI (nothing listened
 * for the stream's 'error': a stack trace, then Node's assertion): a closed
 * pipe (`| head`: EPIPE) ends the command quietly, as it ends a Unix tool —
 * or, with `passClosedPipe`, is passed on: the output is destroyed, so its
 * writer meets the closed pipe as it would have on the fd itself, and the
 * command goes on to the process's end (exec, as the helper it hands over to
 * natively: `exec c yes | head` exits 141); a terminal that hung up (EIO: its
 * window closed, the ssh session dropped) is written to no more, the output
 * drained into nothing so the container never blocks on it, and the run goes
 * on to its end (the hangup's SIGHUP reached it), when the CLI ends by SIGHUP
 * (`exitCli`).
 */
export function relayOutput(source: Readable, dest: NodeJS.WriteStream, options: { passClosedPipe?: boolean } = {}): void {
  dest.on("error", (err: NodeJS.ErrnoException) => {
    source.unpipe(dest);
    if (err.code === "EPIPE" && options.passClosedPipe) return void source.destroy();
    if (err.code === "EPIPE") readerGone();
    if (err.code === "EIO") terminalHungUp();
    source.resume();
  });
  source.pipe(dest, { end: false });
}
