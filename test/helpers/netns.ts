/**
 * A network namespace of the test's own, standing in for "the host" of the
 * containers under test: root bridge tests make their bridge, NAT rules and
 * addresses here, never in the machine's network (other engineers test on
 * it at the same time). It has lo and a veth pair with a TEST-NET-2 address
 * and a default route, so it looks like a host with an uplink (pasta wants
 * one); nothing answers on that uplink.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { netnsStateDir } from "../../src/network/netns-state.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class TestNetns {
  readonly name: string;
  readonly path: string;

  /** The namespace's own address, on its default route's link: the "host's address" its containers see. */
  static readonly address = "198.51.100.2";

  private constructor(name: string) {
    this.name = name;
    this.path = `/run/netns/${name}`;
  }

  static create(): TestNetns {
    // The pid in the name: another test process's namespaces are its own (helpers/leaks.ts).
    const ns = new TestNetns(`tsbox-t-${process.pid}-${randomBytes(4).toString("hex")}`);
    execFileSync("ip", ["netns", "add", ns.name]);
    const ip = (...args: string[]) => execFileSync("ip", ["-n", ns.name, ...args]);
    ip("link", "set", "lo", "up");
    ip("link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1");
    ip("addr", "add", `${TestNetns.address}/24`, "dev", "uplink0");
    ip("link", "set", "uplink0", "up");
    ip("link", "set", "uplink1", "up");
    ip("route", "add", "default", "via", "198.51.100.1");
    return ns;
  }

  /**
   * A second namespace behind this one, standing in for a server on the
   * internet: 203.0.113.80 there, 203.0.113.1 here (TEST-NET-3), joined by a
   * relay in user space (helpers/tun-relay.py) for a round trip of a real
   * network's length. Unlike this namespace's own addresses (and a veth's
   * microseconds) pasta treats connections to it as remote ones: it handles
   * local and very near ones apart. `close` takes it away.
   */
  async remote(): Promise<{ host: TestNetns; close: () => void }> {
    const host = new TestNetns(`${this.name}-r`);
    execFileSync("ip", ["netns", "add", host.name]);
    const relay = this.spawn(["python3", fileURLToPath(new URL("./tun-relay.py", import.meta.url)), "remote0", "remote1"]);
    const close = () => {
      relay.kill("SIGKILL");
      execFileSync("ip", ["netns", "delete", host.name]);
    };
    try {
      await new Promise<void>((resolve, reject) => {
        relay.stdout!.setEncoding("utf8").once("data", () => resolve());
        relay.once("exit", () => reject(new Error("the tun relay did not start")));
      });
      const here = (...args: string[]) => execFileSync("ip", ["-n", this.name, ...args]);
      const there = (...args: string[]) => execFileSync("ip", ["-n", host.name, ...args]);
      here("link", "set", "remote1", "netns", host.name);
      here("addr", "add", "203.0.113.1", "peer", "203.0.113.80", "dev", "remote0");
      here("link", "set", "remote0", "up");
      there("link", "set", "lo", "up");
      there("addr", "add", "203.0.113.80", "peer", "203.0.113.1", "dev", "remote1");
      there("link", "set", "remote1", "up");
      there("route", "add", "default", "dev", "remote1");
    } catch (e) {
      close();
      throw e;
    }
    return { host, close };
  }

  /** Runs a command in the namespace as root. */
  run(argv: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(argv);
      let stdout = "";
      let stderr = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`${argv.join(" ")} timed out in ${this.name}; stderr: ${stderr}`));
      }, options.timeoutMs ?? 20_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      // A command that exits before reading its stdin (wget) must not fail the test with EPIPE (a flake seen here).
      child.stdin!.on("error", () => {});
      child.stdin!.end(options.input ?? "");
    });
  }

  spawn(argv: string[]): ChildProcess {
    return spawn("ip", ["netns", "exec", this.name, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
  }

  /** Interfaces in the namespace (its own lo and uplink pair excluded). */
  links(): string[] {
    const out = execFileSync("ip", ["-n", this.name, "-o", "link", "show"]).toString();
    return out
      .split("\n")
      .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? "")
      .filter((n) => n !== "" && !["lo", "uplink0", "uplink1"].includes(n));
  }

  /** iptables rules that name a subnet, bridge or container (tsbox's empty chains and their jumps are allowed to stay). */
  rules(): string[] {
    const lines: string[] = [];
    for (const table of ["nat", "filter"]) {
      const out = execFileSync("ip", ["netns", "exec", this.name, "iptables", "-w", "-t", table, "-S"]).toString();
      lines.push(...out.split("\n").filter((l) => l.startsWith("-A TSBOX-")));
    }
    return lines;
  }

  /** Root's leases in this namespace, `BRIDGE/IP` (src/network/store.ts `stateDir`: keyed by namespace and bridge). */
  leases(): string[] {
    const dir = netnsStateDir(this.path);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap((bridge) => {
      const leases = join(dir, bridge, "leases");
      return existsSync(leases) ? readdirSync(leases).map((ip) => `${bridge}/${ip}`) : [];
    });
  }

  destroy(): void {
    // The namespace's network state (locks, the allocator's last pick) goes with it.
    rmSync(netnsStateDir(this.path), { recursive: true, force: true });
    execFileSync("ip", ["netns", "delete", this.name]);
  }
}

/** Namespaces a crashed earlier run left (named tsbox-t-*). */
export function staleTestNamespaces(): string[] {
  try {
    return readdirSync("/run/netns").filter((n) => n.startsWith("tsbox-t-"));
  } catch {
    return [];
  }
}
