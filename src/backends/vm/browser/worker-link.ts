/** The agent protocol in the Worker: stdio channels posted to the page, no Node streams. */
import { InputPump, OutputChannelBase } from "../core/agent-channels.js";
import { AgentProtocol, type ConsoleTransport } from "../core/agent-protocol.js";

/** Bytes of a channel's output posted to the page and not yet taken by its reader, before the agent is told to wait. */
const PAGE_WINDOW = 256 * 1024;

export class WorkerLink extends AgentProtocol<Uint8Array> {
  constructor(transport: ConsoleTransport) {
    super(transport, (bytes) => bytes);
  }

  /**
   * Output goes to `post` as it arrives; credit goes back as the page's
   * reader takes it. `channel`: one a restored guest already uses.
   */
  openOutput(post: (data: Uint8Array) => void, channel?: number): PageOutput {
    return this.addOutput((ch, send, release, window) => new PageOutput(ch, send, release, window, post), channel);
  }

  openInput(channel?: number): InputPump {
    return this.addInput((ch, window, send, release, room) => new InputPump(ch, window, send, release, room), channel);
  }
}

/** A channel's output on its way to the page: the agent waits once PAGE_WINDOW bytes are unread there. */
export class PageOutput extends OutputChannelBase {
  private unread = 0;

  constructor(
    channel: number,
    send: (type: number, payload?: Uint8Array) => void,
    release: () => void,
    window: number,
    private readonly post: (data: Uint8Array) => void,
  ) {
    super(channel, send, release, window);
  }

  /** The page's reader took `bytes` (its `ack`). */
  taken(bytes: number): void {
    this.unread = Math.max(0, this.unread - bytes);
    if (this.unread < PAGE_WINDOW) this.giveCredit();
  }

  protected deliver(data: Uint8Array): boolean {
    this.unread += data.length;
    this.post(data);
    return this.unread < PAGE_WINDOW;
  }

  protected end(): void {}

  protected abort(): void {}
}
