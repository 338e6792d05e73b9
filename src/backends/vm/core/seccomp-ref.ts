/**
 * A create request's seccomp profile by reference. Nearly every container
 * brings the same (the default) profile, 5.6 KB of a 9.5 KB create request,
 * and every byte of a request crosses the guest's console (the hvc tty layer)
 * and the agent's JSON parser under emulation. So within one session (from a
 * `hello` whose reply says `seccompRef: true`) a profile goes to the agent in
 * full once, with a new `seccompRef` number, and later creates with the same
 * profile send only that number and no `linux.seccomp`. The agent keeps the
 * last profile it was sent and its number (native-rs/agent/src/ops/create.rs),
 * so the host keeps exactly that one too. Only the link that talks to the
 * guest itself does this (the `tsbox vm` daemon's clients never say hello).
 * Contract: test/fixtures/contract/seccomp-ref.json.
 */
export class SeccompRefs {
  private last: { json: string; ref: number } | undefined;
  private nextRef = 1;
  private enabled = false;

  /** A new session: the agent holds no profile of ours; `allowed` is its hello reply's say. */
  reset(allowed: boolean): void {
    this.enabled = allowed;
    this.last = undefined;
  }

  /** The create request's fields as they go on the wire. */
  encode(fields: Record<string, unknown>): Record<string, unknown> {
    const spec = fields.spec as { linux?: { seccomp?: unknown } } | undefined;
    const profile = spec?.linux?.seccomp;
    if (!this.enabled || profile === undefined) return fields;
    const json = JSON.stringify(profile);
    if (this.last?.json === json) {
      const { seccomp: _sent, ...linux } = spec!.linux!;
      return { ...fields, spec: { ...spec, linux }, seccompRef: this.last.ref };
    }
    this.last = { json, ref: this.nextRef++ };
    return { ...fields, seccompRef: this.last.ref };
  }
}
