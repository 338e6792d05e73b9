/**
 * The agent protocol for Node callers: AgentProtocol (agent-protocol.ts,
 * shared with the browser Worker) with container stdio as Node streams.
 */
import { Readable, Writable } from "node:stream";
import { DatagramInput, DatagramOutput, InputPump, OutputChannelBase } from "../core/agent-channels.js";
import { AgentProtocol } from "../core/agent-protocol.js";

export { AgentRequestError, CONSOLE_EVENT_MAX, type AgentError, type ConsoleTransport, type Reply } from "../core/agent-protocol.js";

export class AgentLink extends AgentProtocol<Buffer> {
  /** A channel for container output (guest → host). */
  openOutput(): OutputChannel {
    return this.addOutput((channel, send, release, window) => new OutputChannel(channel, send, release, window));
  }

  /** A channel for container input (host → guest). */
  openInput(): InputChannel {
    return this.addInput((channel, window, send, release, room) => new InputChannel(channel, window, send, release, room));
  }

  /** Datagrams to the guest, one DATA frame each (a published UDP port's peer). */
  openDatagramInput(): DatagramInput {
    return this.addInput((channel, window, send, release, room) => new DatagramInput(channel, window, send, release, room));
  }

  /** Datagrams from the guest, one DATA frame each. */
  openDatagramOutput(handlers: { datagram(data: Uint8Array): void; end(): void }): DatagramOutput {
    return this.addOutput((channel, send, release, window) => new DatagramOutput(channel, send, release, window, handlers));
  }
}

/**
 * Container output as a Readable; credit goes back to the agent as the reader consumes. Destroyed before
 * its end, it hangs up: the process meets a closed pipe, as with a child process's stdout.
 */
export class OutputChannel extends OutputChannelBase {
  readonly readable = new Readable({
    // Node 22 raised the default to 64 KiB: a channel would hold its window plus that (docs/security.md's bound says 16).
    highWaterMark: 16 * 1024,
    read: () => this.giveCredit(),
    destroy: (err, cb) => {
      this.hangUp();
      cb(err);
    },
  });

  protected deliver(data: Uint8Array): boolean {
    return this.readable.push(data);
  }

  protected end(): void {
    this.readable.push(null);
  }

  /** An error for whoever listens for one, else a plain end. */
  protected abort(err: Error): void {
    if (this.readable.listenerCount("error") > 0) this.readable.destroy(err);
    else this.readable.push(null);
  }
}

/** Container input as a Writable; bytes go out only within the agent's credit. */
export class InputChannel extends InputPump {
  readonly writable = new Writable({
    write: (chunk: Buffer, _enc, cb) => this.write(chunk, cb),
    final: (cb) => this.end(cb),
    destroy: (err, cb) => {
      this.finish();
      cb(err);
    },
  });
}
