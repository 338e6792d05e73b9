import type { PullEvent } from "../image/registry/pull-image.js";
import { humanSize } from "./format.js";

/**
 * Docker-style progress for pulls and pushes on a terminal: one line per
 * blob, redrawn in place (at most every 100 ms). Only used when stderr is a
 * TTY; otherwise commands stay quiet.
 */
export class ProgressDisplay {
  private readonly rows = new Map<string, PullEvent>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly out: NodeJS.WritableStream & { columns?: number }) {}

  readonly onEvent = (event: PullEvent): void => {
    if (this.finished) return;
    const prev = this.rows.get(event.id);
    this.rows.set(event.id, { ...prev, ...event });
    this.timer ??= setTimeout(() => this.render(), 100);
  };

  /**
   * The last redraw; later calls do nothing. A second one moved the cursor up
   * over what was printed after the bars (pull's "Pulled …/Digest:" lines).
   */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.render();
  }

  private render(): void {
    this.timer = undefined;
    const width = Math.max(40, (this.out.columns ?? 80) - 1);
    const lines = [...this.rows.values()].map((e) => line(e).slice(0, width));
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    for (const l of lines) text += `\r\x1b[2K${l}\n`;
    this.drawn = lines.length;
    this.out.write(text);
  }
}

const LABEL: Record<PullEvent["status"], string> = {
  waiting: "Waiting",
  exists: "Already exists",
  resuming: "Resuming",
  downloading: "Downloading",
  retrying: "Retrying",
  extracting: "Extracting",
  done: "Pull complete",
  mounted: "Mounted from another repository",
  uploading: "Pushing",
  pushed: "Pushed",
};

function line(e: PullEvent): string {
  // docker's words (moby distribution/xfer: "Retrying in 5 seconds").
  if (e.status === "retrying") return `${e.id}: Retrying in ${e.retryIn ?? 0} second${e.retryIn === 1 ? "" : "s"}`;
  const label = e.kind === "config" && e.status === "downloading" ? "Downloading config" : LABEL[e.status];
  if ((e.status === "downloading" || e.status === "resuming" || e.status === "uploading") && e.total) {
    const current = e.current ?? 0;
    const filled = Math.min(30, Math.floor((current / e.total) * 30));
    const bar = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? ">" : "") + " ".repeat(30 - filled);
    return `${e.id}: ${label} [${bar}] ${humanSize(current)}/${humanSize(e.total)}`;
  }
  return `${e.id}: ${label}`;
}

/**
 * `run` and `create` pulling an image they do not have: docker's "Unable to
 * find image" line (on stderr, terminal or not), then the display; nothing
 * with `-q`. Said once the layers come (a pull that fails before, such as
 * one of the wrong platform, has only its error). Undefined when nothing is
 * to be shown.
 */
export function runPullProgress(stderr: NodeJS.WritableStream & { isTTY?: boolean }, image: string, quiet: boolean): { onPullProgress: (event: PullEvent) => void; finish: () => void } | undefined {
  if (quiet) return undefined;
  const display = progressFor(stderr, false);
  let started = false;
  const early: PullEvent[] = [];
  return {
    onPullProgress: (event) => {
      if (!started && event.kind !== "layer") return void early.push(event);
      if (!started) stderr.write(`Unable to find image '${image}' locally\n`);
      started = true;
      for (const e of early.splice(0)) display?.onEvent(e);
      display?.onEvent(event);
    },
    finish: () => {
      if (started) display?.finish();
      started = false;
    },
  };
}

/** A progress callback for the CLI: a display on a terminal, nothing otherwise. */
export function progressFor(stderr: NodeJS.WritableStream & { isTTY?: boolean }, quiet: boolean): ProgressDisplay | undefined {
  return !quiet && stderr.isTTY ? new ProgressDisplay(stderr) : undefined;
}
