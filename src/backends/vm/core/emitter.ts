/** The few EventEmitter calls the agent link needs, without node:events (it also runs in browsers). */
export class Emitter {
  private readonly listeners = new Map<string, ((arg: any) => void)[]>();

  on(event: string, fn: (arg: any) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
    return this;
  }

  once(event: string, fn: (arg: any) => void): this {
    const wrapped = (arg: unknown) => {
      this.off(event, wrapped);
      fn(arg);
    };
    return this.on(event, wrapped);
  }

  off(event: string, fn: (arg: any) => void): this {
    const left = (this.listeners.get(event) ?? []).filter((f) => f !== fn);
    if (left.length > 0) this.listeners.set(event, left);
    else this.listeners.delete(event);
    return this;
  }

  emit(event: string, arg?: unknown): boolean {
    const fns = this.listeners.get(event);
    if (!fns) return false;
    for (const fn of fns) fn(arg);
    return true;
  }

  listenerCount(event: string): number {
    return this.listeners.get(event)?.length ?? 0;
  }
}
