/** The agent protocol in the Worker: stdio channels as callbacks, no Node streams. */
import { InputPump, OutputChannelBase } from "../agent-channels.js";
import { AgentProtocol, type ConsoleTransport } from "../agent-protocol.js";

export class WorkerLink extends AgentProtocol<Uint8Array> {
  constructor(transport: ConsoleTransport) {
    super(transport, (bytes) => bytes);
  }

  /** Output goes to `onData` as it arrives (the page buffers it): credit is granted at once. */
  openOutput(onData: (data: Uint8Array) => void): CallbackOutput {
    return this.addOutput((channel, grant, release, window) => new CallbackOutput(channel, grant, release, window, onData));
  }

  openInput(): InputPump {
    return this.addInput((channel, window, send, release, room) => new InputPump(channel, window, send, release, room));
  }
}

export class CallbackOutput extends OutputChannelBase {
  constructor(
    channel: number,
    grant: (n: number) => void,
    release: () => void,
    window: number,
    private readonly sink: (data: Uint8Array) => void,
  ) {
    super(channel, grant, release, window);
  }

  protected deliver(data: Uint8Array): boolean {
    this.sink(data);
    return true;
  }

  protected end(): void {}

  protected abort(): void {}
}
