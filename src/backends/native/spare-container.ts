/**
 * The native backend's spare container: a fork of the warm helper that sets a container up at once and waits
 * for the run that takes it (native-rs/runtime/src/run.rs `spare`, serve/request.rs; docs/architecture.md
 * "Spare containers of the warm helper"). We talk to its supervisor on a socket pair of our own, the channel:
 * it says `{"event":"ready"}` (or the `error` event) there, a run takes it by sending its process, status
 * socket and stdio there (`take`), and our end's close drops it.
 */
import { Socket } from "node:net";
import type { SpareContainer } from "../backend.js";
import type { ProcessSpec } from "../../spec/container-spec.js";
import type { NativeAddon } from "./addon.js";
import type { WarmRun, WarmSpare } from "./warm-helper.js";

/** What a run brings to the spare it takes, as a warm `run` request would (serve/request.rs `Take`). */
export interface SpareTake {
  process: ProcessSpec;
  record: boolean;
  remove: boolean;
  newSession: boolean;
}

export class NativeSpare implements SpareContainer {
  readonly settled: Promise<boolean>;
  readonly ended: Promise<void>;
  /** Why it is not ready (its set-up's error), for tests and traces. */
  failure: string | undefined;
  private channel: Socket | undefined;

  constructor(
    private readonly addon: NativeAddon,
    private readonly supervisor: WarmSpare,
    private readonly channelFd: number,
  ) {
    const channel = new Socket({ fd: channelFd, readable: true, writable: false });
    this.channel = channel;
    // A spare never keeps Node running.
    channel.unref();
    channel.setEncoding("utf8");
    this.ended = supervisor.reaped.then(() => {});
    this.settled = new Promise<boolean>((resolve) => {
      let text = "";
      channel.on("data", (chunk: string) => {
        text += chunk;
        const nl = text.indexOf("\n");
        if (nl < 0) return;
        try {
          const event = JSON.parse(text.slice(0, nl)) as { event?: string; message?: string };
          if (event.event !== "ready") this.failure = event.message ?? text.slice(0, nl);
          resolve(event.event === "ready");
        } catch {
          this.failure = text.slice(0, nl);
          resolve(false);
        }
      });
      const gone = () => resolve(false);
      channel.on("end", gone);
      channel.on("close", gone);
      channel.on("error", gone);
      supervisor.forked.catch(gone);
      void supervisor.reaped.then(gone);
    });
  }

  /** Awaited (a run waits for it), the channel keeps Node running until it settles; otherwise it never does. */
  get ready(): Promise<boolean> {
    const channel = this.channel;
    channel?.ref();
    return this.settled.finally(() => channel?.unref());
  }

  /**
   * The run that takes it (it is ready): its process, status socket and stdio go to the supervisor, which is
   * that run's from now on; the caller closes its copies of the descriptors afterwards.
   */
  take(take: SpareTake, status: number, stdio: [number | undefined, number | undefined, number | undefined]): WarmRun {
    const fds = [status, ...stdio.filter((f): f is number => f !== undefined)];
    const line = JSON.stringify({ ...take, stdio: stdio.map((f) => f !== undefined) }) + "\n";
    this.supervisor.going();
    this.addon.sendFds(this.channelFd, line, ...fds);
    // It has what it needs: our end goes (the supervisor has stopped reading it).
    this.closeChannel();
    return this.supervisor;
  }

  drop(): void {
    // Its end is awaited (Runtime.close): Node stays until it is reaped, a few ms.
    this.supervisor.going();
    this.closeChannel();
  }

  private closeChannel(): void {
    this.channel?.destroy();
    this.channel = undefined;
  }
}
