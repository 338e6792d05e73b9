/**
 * Networking on the vm backend: the guest's agent runs the same network
 * code as tsbox-runtime (bridge, veths, leases, the network's DNS server),
 * and a published port is a listener on this host whose connections the
 * agent carries to the container (`connect` op). Containers reach out
 * through the agent's relay (net_relay: `dial`/`resolve` events), which
 * this process answers. Everything but the host's sockets lives in the
 * guest, so these run in the test's own process.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createSocket } from "node:dgram";
import { connect, createServer, type Server } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Runtime } from "../src/index.js";
import { VmBackend } from "../src/backends/vm/node/vm-backend.js";
import { hostAddress } from "../src/network/host-loopback.js";
import { vmSkip } from "./helpers/vm.js";
import { removeStaticTools, staticToolDir } from "./helpers/static-tool.js";
import { until } from "./helpers/until.js";

/** Sends `text` from a socket of its own to 127.0.0.1:port until an answer comes (at most 10 s). */
async function udpAsk(port: number, text: string): Promise<string> {
  const s = createSocket("udp4");
  try {
    return await new Promise<string>((resolve, reject) => {
      let n = 0;
      const t = setInterval(() => (n++ === 50 ? reject(new Error(`no UDP answer from 127.0.0.1:${port}`)) : s.send(text, port, "127.0.0.1")), 200);
      s.on("message", (m) => {
        clearInterval(t);
        resolve(m.toString());
      });
      s.send(text, port, "127.0.0.1");
    });
  } finally {
    s.close();
  }
}

/**
 * Writes `text` to 127.0.0.1:port and half-closes at once (as `echo req | nc host port` does), then reads
 * until the server closes: "" when nothing came back (or nothing listens yet).
 */
function askHalfClosed(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    let got = "";
    s.setEncoding("utf8");
    s.setTimeout(10_000, () => s.destroy());
    s.on("data", (d: string) => (got += d));
    s.on("error", () => {});
    s.on("close", () => resolve(got));
    s.end(text);
  });
}

describe("vm networking", { skip: vmSkip }, () => {
  const scratch = mkdtempSync(join(tmpdir(), "tsbox-vm-net-"));
  const dataDir = join(scratch, "data");
  // One guest for the whole suite: it stays up between containers.
  // Its own cache dir: never a `tsbox vm` daemon some other run left on this machine (another guest, another agent).
  const backend = new VmBackend({ idleMs: 120_000, env: { ...process.env, TSBOX_CACHE_DIR: join(scratch, "cache") } });
  const rt = new Runtime({ dataDir, backend, network: "bridge" });

  before(() => {
    rt.networks.create("vmapp");
  });
  after(async () => {
    removeStaticTools();
    await backend.shutdown();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** The guest daemon a test's runtime started on demand (its status file in `env`'s cache dir), ended. */
  const stopDaemon = async (env: NodeJS.ProcessEnv) => {
    const { daemonStatus } = await import("../src/backends/vm/node/session.js");
    const daemon = daemonStatus(env);
    if (!daemon) return;
    process.kill(daemon.pid, "SIGTERM");
    for (let i = 0; i < 100 && daemonStatus(env); i++) await new Promise((r) => setTimeout(r, 100));
  };
  /** vmapp's /24 as a pattern (`network create` picks the first free one: another data dir's networks may hold 10.89.0.0/24). */
  const vmapp = () => rt.networks.get("vmapp").subnet.split(".").slice(0, 3).join("\\.");
  const httpd = (text: string) => ["sh", "-c", `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

  it("two containers on a user network talk TCP by name, alias and NAME.<network>; an FQDN hostname's short name is in /etc/hosts", async () => {
    const srv = await rt.run({ image: "busybox", name: "srv", network: "vmapp", networkAliases: ["web"], cmd: httpd("hello-from-srv"), remove: true });
    try {
      const script = "wget -q -O - http://srv/ && wget -q -O - http://web/ && wget -q -O - http://srv.vmapp/ && cat /etc/resolv.conf && tail -n 1 /etc/hosts";
      const c = await rt.run({ image: "busybox", network: "vmapp", hostname: "cli.example.com", cmd: ["sh", "-c", script], remove: true });
      const out = await c.output();
      assert.equal(out.exitCode, 0, out.stderr);
      assert.match(out.stdout, new RegExp(`^hello-from-srv\\nhello-from-srv\\nhello-from-srv\\nnameserver ${vmapp()}\\.1\\n`));
      assert.match(out.stdout, new RegExp(`\\n${vmapp()}\\.\\d+\\tcli\\.example\\.com cli\\n$`));
    } finally {
      await srv.kill("SIGKILL");
      await srv.wait();
    }
  });

  it("--domainname and --mac-address reach the guest's container: its UTS domain, its /etc/hosts names, its interface's address", async () => {
    const c = await rt.run({ image: "busybox", hostname: "web", domainname: "example.test", macAddress: "02:42:AC:11:00:5A", cmd: ["sh", "-c", "cat /proc/sys/kernel/domainname /etc/hostname /sys/class/net/eth0/address; tail -n 1 /etc/hosts"], remove: true });
    const out = await c.output();
    assert.equal(out.exitCode, 0, out.stderr);
    assert.match(out.stdout, /^example\.test\nweb\n02:42:ac:11:00:5a\n10\.88\.\d+\.\d+\tweb\.example\.test web\n$/);
  });

  it("publishes a port: busybox httpd in the guest answers a client on 127.0.0.1", async () => {
    const cmd = ["sh", "-c", "mkdir -p /www && head -c 1048576 /dev/zero > /www/big && echo hello-through-the-agent > /www/index.html && exec httpd -f -p 80 -h /www"];
    const srv = await rt.run({ image: "busybox", name: "pub", publish: ["127.0.0.1::80"], cmd, remove: true });
    let port = 0;
    try {
      const nets = await rt.containerNetworks("pub");
      assert.equal(nets[0]?.network, "bridge");
      // 10.88.0.0/16, or the next /16 down when the host routes that one (its own tsbox0 as root, say).
      assert.match(nets[0]!.ip, /^10\.8\d\.\d+\.\d+$/);
      port = nets[0]!.ports[0]!.hostPort;
      assert.ok(port > 0, "the host port the kernel picked is recorded");
      let body = "";
      for (let i = 0; i < 100 && body === ""; i++) {
        // Until httpd listens the port accepts and closes at once (as docker's proxy does); undici's fetch
        // can hang on such a connection forever, so each try has its own deadline.
        body = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => "");
        if (body === "") await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(body, "hello-through-the-agent\n");
      // A bigger answer (1 MiB) crosses the link's stream flow control.
      const big = await fetch(`http://127.0.0.1:${port}/big`, { signal: AbortSignal.timeout(60_000) }).then((r) => r.arrayBuffer());
      assert.equal(big.byteLength, 1 << 20);
    } finally {
      await srv.kill("SIGKILL");
      await srv.wait();
    }
    // Released with the container: the port can be bound again.
    await new Promise<void>((resolve, reject) => {
      const s = createServer().once("error", reject);
      s.listen(port, "127.0.0.1", () => s.close(() => resolve()));
    });
    assert.deepEqual(readdirSync(join(dataDir, "containers")), [], "the bundle is gone");
  });

  it("publishes a port: a client that half-closes first still gets the answer, and the connection then ends", async () => {
    // The answer is written only after the client's EOF reached the container (cat ends there).
    const cmd = ["sh", "-c", `while :; do nc -l -p 80 -e sh -c 'read l; cat >/dev/null; echo got-$l'; done`];
    const srv = await rt.run({ image: "busybox", name: "halfclose", publish: ["127.0.0.1::80"], cmd, remove: true });
    try {
      const port = (await rt.containerNetworks("halfclose"))[0]!.ports[0]!.hostPort;
      let answer = "";
      // Until nc listens the port accepts and closes at once: "" again.
      for (let i = 0; i < 100 && answer === ""; i++) {
        answer = await askHalfClosed(port, "ping\n");
        if (answer === "") await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(answer, "got-ping\n");
    } finally {
      await srv.kill("SIGKILL");
      await srv.wait();
    }
  });

  it("fails clearly when the host port is taken", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", () => resolve()));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(rt.run({ image: "busybox", publish: [`127.0.0.1:${port}:80`], cmd: ["true"], remove: true }), {
        message: `cannot publish port 127.0.0.1:${port}/tcp: it is already in use`,
        exitCode: 125,
      });
    } finally {
      taken.close();
    }
  });

  it("publishes a UDP port: each host peer gets its own answers through the agent, and the port is released", async () => {
    const tools = staticToolDir("udp-echo", "ia32");
    const srv = await rt.run({ image: "busybox", name: "udp", publish: ["127.0.0.1::7777/udp"], volumes: [{ host: tools, container: "/tools", readonly: true }], cmd: ["/tools/udp-echo", "7777"], remove: true });
    let port = 0;
    try {
      port = (await rt.containerNetworks("udp"))[0]!.ports[0]!.hostPort;
      assert.ok(port > 0);
      // Two peers at once: each answer goes back to the socket that asked.
      const [a, b] = await Promise.all([udpAsk(port, "first"), udpAsk(port, "second")]);
      assert.equal(a, "echo:first");
      assert.equal(b, "echo:second");
      const big = "x".repeat(1400);
      assert.equal(await udpAsk(port, big), `echo:${big}`);
      const shown = (await rt.inspectContainer("udp")).NetworkSettings;
      assert.deepEqual(shown.Ports, { "7777/udp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] });
    } finally {
      await srv.kill("SIGKILL");
      await srv.wait();
    }
    await new Promise<void>((resolve, reject) => {
      const s = createSocket("udp4").once("error", reject);
      s.bind(port, "127.0.0.1", () => s.close(() => resolve()));
    });
  });

  it("connects a running container to a user network (with an alias) and disconnects it", async () => {
    const box = await rt.run({ image: "busybox", name: "box", network: "bridge", cmd: ["sleep", "600"], remove: true });
    try {
      const resolv = async () => (await box.exec(["cat", "/etc/resolv.conf"])).stdout;
      const before = await resolv();
      await rt.connectNetwork("vmapp", "box", { aliases: ["second"] });
      assert.notEqual(await resolv(), before, "the network's server asked from now on");
      const nets = await rt.containerNetworks("box");
      assert.deepEqual(nets.map((n) => n.network).sort(), ["bridge", "vmapp"]);
      const shown = (await rt.inspectContainer("box")).NetworkSettings as { Networks: Record<string, { IPAddress: string; Aliases: string[] | null }> };
      assert.match(shown.Networks.vmapp!.IPAddress, new RegExp(`^${vmapp()}\\.\\d+$`));
      assert.deepEqual(shown.Networks.vmapp!.Aliases, ["second"]);
      const reach = await rt.run({ image: "busybox", network: "vmapp", cmd: ["sh", "-c", "ping -c 1 -W 2 second >/dev/null && ping -c 1 -W 2 box >/dev/null && echo reached"], remove: true });
      const out = await reach.output();
      assert.equal(out.stdout, "reached\n", out.stderr);
      await rt.disconnectNetwork("vmapp", "box");
      assert.deepEqual((await rt.containerNetworks("box")).map((n) => n.network), ["bridge"]);
      assert.equal(await resolv(), before, "the gone network's server is not asked any more");
      const gone = await rt.run({ image: "busybox", network: "vmapp", cmd: ["sh", "-c", "ping -c 1 -W 1 second >/dev/null 2>&1 && echo reached || echo gone"], remove: true });
      assert.equal((await gone.output()).stdout, "gone\n", "the alias went with the attachment");
      // Connected again, then the container ends: its keeper releases the lease there too.
      await rt.connectNetwork("vmapp", "box");
    } finally {
      await box.kill("SIGKILL");
      await box.wait();
    }
    // The network connected while it ran has a keeper of its own, which releases the lease (and the name) once it
    // sees the container end: soon after wait() resolves, not before it (the start's keeper releases first).
    await until("the name gone with the container", async () => {
      const after = await rt.run({ image: "busybox", network: "vmapp", cmd: ["sh", "-c", "ping -c 1 -W 1 box >/dev/null 2>&1 && echo reached || echo gone"], remove: true });
      return (await after.output()).stdout === "gone\n";
    }, 20_000, 500);
  });

  // Detached: the `tsbox vm` daemon's guest runs it (a second guest, of this suite's cache dir), stopped at the end.
  it("a detached container keeps a connected network across restart (the daemon's monitor)", async () => {
    const env = { ...process.env, TSBOX_CACHE_DIR: join(scratch, "cache") };
    const box = await rt.create({ image: "busybox", name: "kept", network: "bridge", cmd: ["sleep", "600"] });
    try {
      await box.start();
      await rt.connectNetwork("vmapp", "kept", { aliases: ["second"] });
      await box.restart({ timeout: 0 });
      assert.deepEqual((await rt.containerNetworks("kept")).map((n) => n.network).sort(), ["bridge", "vmapp"]);
      const ip = await box.spawn(["sh", "-c", "ip -4 -o addr show eth1"]);
      assert.match((await ip.output()).stdout, new RegExp(`inet ${vmapp()}\\.\\d+/`), "eth1 is on vmapp again after the restart");
      await rt.disconnectNetwork("vmapp", "kept");
      await box.restart({ timeout: 0 });
      assert.deepEqual((await rt.containerNetworks("kept")).map((n) => n.network), ["bridge"], "disconnect took it off the record");
    } finally {
      await box.remove({ force: true });
      await stopDaemon(env);
    }
  });

  // The CLI's runtime is native by default: a vm container's pid is the guest's, which its native keeper took for a
  // host pid and put the network into the host's own namespace (an interface, an address and a route, as root).
  it("network connect of a vm container from a native runtime goes to its guest: this host's namespace gains no interface", async () => {
    const env = { ...process.env, TSBOX_CACHE_DIR: join(scratch, "cache") };
    const box = await rt.create({ image: "busybox", name: "viahost", network: "bridge", cmd: ["sleep", "600"] });
    const saved = { backend: process.env.TSBOX_BACKEND, cache: process.env.TSBOX_CACHE_DIR };
    delete process.env.TSBOX_BACKEND;
    // The native runtime's vm sibling finds the same daemon.
    process.env.TSBOX_CACHE_DIR = env.TSBOX_CACHE_DIR;
    try {
      await box.start();
      const native = new Runtime({ dataDir, network: "bridge" });
      const links = () => readdirSync("/sys/class/net").sort();
      const before = links();
      await native.connectNetwork("vmapp", "viahost");
      assert.deepEqual(links(), before, "no interface was added to this host's network namespace");
      const eth1 = await box.spawn(["sh", "-c", "ip -4 -o addr show eth1"]);
      assert.match((await eth1.output()).stdout, new RegExp(`inet ${vmapp()}\\.\\d+/`), "the container got it");
      await native.disconnectNetwork("vmapp", "viahost");
      assert.deepEqual((await rt.containerNetworks("viahost")).map((n) => n.network), ["bridge"]);
      const gone = await box.spawn(["sh", "-c", "ls /sys/class/net"]);
      assert.equal((await gone.output()).stdout, "eth0\nlo\n", "the guest's keeper took it down");
    } finally {
      for (const [k, v] of [["TSBOX_BACKEND", saved.backend], ["TSBOX_CACHE_DIR", saved.cache]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await box.remove({ force: true });
      await stopDaemon(env);
    }
  });

  /** This host's own address, which host-gateway names (its loopback is closed to containers: below). */
  const own = hostAddress();
  const noAddress = own === undefined ? "this host has no address but loopback" : false;

  /** An HTTP server on this host's every address (a port the guest knows nothing of). */
  async function hostHttp(text: string, address = "0.0.0.0"): Promise<{ port: number; server: Server }> {
    const server = createHttpServer((_q, r) => r.end(text));
    await new Promise<void>((resolve) => server.listen(0, address, () => resolve()));
    return { port: (server.address() as { port: number }).port, server };
  }

  it("reaches a server on this host as host.tsbox.internal (host-gateway: this host's address), from the default bridge and a user network", { skip: noAddress }, async () => {
    const { port, server } = await hostHttp("hello from the host\n");
    try {
      for (const network of ["bridge", "vmapp"]) {
        const c = await rt.run({ image: "busybox", network, addHosts: ["host.tsbox.internal:host-gateway"], cmd: ["sh", "-c", `grep host.tsbox.internal /etc/hosts; wget -q -O - http://host.tsbox.internal:${port}/`], remove: true });
        const out = await c.output();
        assert.equal(out.exitCode, 0, `${network}: ${out.stderr}`);
        assert.equal(out.stdout, `${own}\thost.tsbox.internal\nhello from the host\n`, network);
      }
    } finally {
      server.close();
    }
  });

  it("an --internal network leads nowhere: no default route, and the relay takes nothing from it (not this host, nor its resolver), even over a route the container makes itself", { skip: noAddress }, async () => {
    rt.networks.create("vminternal", { internal: true });
    const { port, server } = await hostHttp("host secret\n");
    try {
      // NET_ADMIN stands for a container that crafts its own packets to the gateway (NET_RAW, a default capability).
      const script = [
        "ip route | grep -q ^default && echo has-default-route",
        `gw=$(ip route | sed -n 's|^\\([0-9.]*\\)\\.0/.*|\\1.1|p'); ip route add default via $gw`,
        `wget -q -T 3 -O - http://${own}:${port}/; echo wget=$?`,
        "nslookup localhost 10.0.2.3 >/dev/null 2>&1; echo nslookup=$?",
      ].join("; ");
      // docker publishes nothing for a container on internal networks only.
      const warnings: string[] = [];
      const c = await rt.run({ image: "busybox", network: "vminternal", capAdd: ["NET_ADMIN"], publish: ["127.0.0.1::80"], cmd: ["sh", "-c", script], remove: true }, { onWarning: (w) => warnings.push(w) });
      assert.deepEqual(warnings, ["published ports are discarded on the internal network vminternal"]);
      const out = await c.output();
      assert.doesNotMatch(out.stdout, /has-default-route|host secret/, out.stdout);
      assert.match(out.stdout, /^wget=[1-9]\d*\nnslookup=[1-9]\d*\n$/, out.stdout + out.stderr);
    } finally {
      server.close();
      await rt.networks.remove("vminternal");
    }
  });

  it("connects out to this host's address and streams 1 MiB each way; a closed port is refused at connect(), an unreachable address fails it, this host's loopback is closed", { skip: noAddress }, async () => {
    // An echo server on this host: what goes in comes back, byte for byte.
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, "0.0.0.0", () => resolve()));
    const port = (echo.address() as { port: number }).port;
    // One for this host's own users (127.0.0.1): before, every container reached it at 10.0.2.2.
    const { port: loopbackPort, server: loopback } = await hostHttp("loopback only\n", "127.0.0.1");
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "0.0.0.0", () => resolve()));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      // 192.0.2.1 (TEST-NET-1) is reached by nothing: the host's dial fails — refused where the host's own network
      // answers with a reset (this Firecracker VM's does), else no route or its 30 s timeout. The container must get
      // what the host got, at connect().
      const hostGot = await new Promise<string>((resolve) => {
        const s = connect(80, "192.0.2.1");
        s.setTimeout(35_000, () => (s.destroy(), resolve("ETIMEDOUT")));
        s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
        s.on("connect", () => (s.destroy(), resolve("connected")));
      });
      const unreachable = hostGot === "ECONNREFUSED" ? "Connection refused" : "No route to host";
      // Where this host has no route (root: two routes of its own, TEST-NET-3), its dial fails at once with
      // EHOSTUNREACH or ENETUNREACH, and so must the container's: the agent answers with ICMP (before stop 66 the SYN
      // was routed `unreachable` in a guest that forwards nothing, so no ICMP came, and nc waited out 2 minutes:
      // "Connection timed out").
      const noRoute = process.getuid?.() === 0;
      if (noRoute) {
        execFileSync("ip", ["route", "replace", "unreachable", "203.0.113.77/32"]);
        execFileSync("ip", ["route", "replace", "throw", "203.0.113.78/32"]);
      }
      const probe = (label: string, to: string) => `echo "${label}: $(nc ${to} </dev/null 2>&1; echo rc=$?)"`;
      const script = [
        probe("closed", `${own} ${closedPort}`),
        probe("unreachable", "192.0.2.1 80"),
        probe("loopback", `10.0.2.2 ${loopbackPort}`),
        ...(noRoute ? [probe("no host route", "203.0.113.77 80"), probe("no net route", "203.0.113.78 80")] : []),
        `head -c 1048576 /dev/urandom > /tmp/in; nc ${own} ${port} < /tmp/in > /tmp/out & pid=$!; for i in $(seq 300); do [ "$(wc -c < /tmp/out)" = 1048576 ] && break; sleep 0.1; done; kill $pid 2>/dev/null; cmp /tmp/in /tmp/out && echo same`,
      ].join("; ");
      const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", script], remove: true });
      const out = await c.output();
      assert.equal(out.exitCode, 0, out.stderr);
      // The container's connect() has the host's outcome (before: it succeeded at once, the guest's kernel accepting
      // before the host tried, and a closed port showed only as EOF: wait-for-port loops passed).
      const failed = (label: string, to: string, why: string) => `${label}: nc: can't connect to remote host (${to}): ${why}\nrc=1\n`;
      assert.equal(
        out.stdout,
        failed("closed", own!, "Connection refused") +
          failed("unreachable", "192.0.2.1", unreachable) +
          failed("loopback", "10.0.2.2", "Connection refused") +
          (noRoute ? failed("no host route", "203.0.113.77", "No route to host") + failed("no net route", "203.0.113.78", "Network is unreachable") : "") +
          "same\n",
      );
    } finally {
      echo.close();
      loopback.close();
      if (process.getuid?.() === 0) {
        for (const route of [["unreachable", "203.0.113.77/32"], ["throw", "203.0.113.78/32"]]) execFileSync("ip", ["route", "del", ...route], { stdio: "ignore" });
      }
    }
  });

  it("connects out to a host server that half-closes first: the container reads to EOF and its answer still reaches the server", { skip: noAddress }, async () => {
    // The server says hello and half-closes at once; what the container sends after that EOF must still arrive.
    const server = createServer({ allowHalfOpen: true });
    const received = new Promise<string>((resolve) => {
      server.on("connection", (s) => {
        let got = "";
        s.setEncoding("utf8");
        s.on("data", (d: string) => (got += d));
        s.on("end", () => resolve(got));
        s.on("error", () => resolve(got));
        s.end("hello\n");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", () => resolve()));
    const port = (server.address() as { port: number }).port;
    try {
      const reply = `cat > /tmp/got; echo "after-eof $(cat /tmp/got)"`;
      const c = await rt.run({ image: "busybox", cmd: ["nc", own!, String(port), "-e", "sh", "-c", reply], remove: true });
      const out = await c.output();
      assert.equal(out.exitCode, 0, out.stderr);
      // Before: the relay's socket ended with the server's FIN (no allowHalfOpen), and the answer was lost.
      assert.equal(await received, "after-eof hello\n");
    } finally {
      server.close();
    }
  });

  it("resolves names through this host's resolver (nameserver 10.0.2.3), an unknown one is NXDOMAIN", async () => {
    const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "cat /etc/resolv.conf; nslookup localhost 2>&1; nslookup no-such-name.invalid 2>&1; true"], remove: true });
    const out = await c.output();
    assert.equal(out.exitCode, 0, out.stderr);
    assert.match(out.stdout, /^nameserver 10\.0\.2\.3$/m);
    // The whole answer, not its last lines: where busybox puts the (empty) AAAA part varies.
    assert.match(out.stdout, /Name:\s+localhost\nAddress: 127\.0\.0\.1$/m);
    assert.match(out.stdout, /can't find no-such-name\.invalid: NXDOMAIN/);
    // A user network's DNS answers containers' names itself and forwards the rest to the same relay.
    const u = await rt.run({ image: "busybox", network: "vmapp", cmd: ["sh", "-c", "nslookup no-such-name.invalid 2>&1"], remove: true });
    const uo = await u.output();
    assert.match(uo.stdout, /can't find no-such-name\.invalid: NXDOMAIN/, uo.stdout + uo.stderr);
  });

  it("another network's containers are out of reach: a connect() from the default bridge fails at once, no route to them", async () => {
    const srv = await rt.run({ image: "busybox", name: "walled", network: "vmapp", cmd: httpd("walled"), remove: true });
    try {
      const shown = (await rt.inspectContainer("walled")).NetworkSettings as { Networks: Record<string, { IPAddress: string }> };
      const ip = shown.Networks.vmapp!.IPAddress;
      // Before stop 66 the SYN was routed `unreachable` in a guest that forwards nothing: no ICMP, and nc waited 2 minutes.
      const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", `nc ${ip} 80 </dev/null; echo rc=$?`], remove: true });
      const out = await c.output();
      assert.equal(out.stdout, "rc=1\n");
      assert.equal(out.stderr, `nc: can't connect to remote host (${ip}): No route to host\n`);
    } finally {
      await srv.kill("SIGKILL");
      await srv.wait();
    }
  });

  it("--network none has only lo and reaches nothing", async () => {
    const srv = await rt.run({ image: "busybox", name: "lonely", network: "vmapp", cmd: httpd("unreachable"), remove: true });
    try {
      const c = await rt.run({ image: "busybox", network: "none", cmd: ["sh", "-c", "ls /sys/class/net; wget -q -O - http://10.89.0.1/ 2>&1 || echo unreachable"], remove: true });
      const out = await c.output();
      assert.equal(out.exitCode, 0, out.stderr);
      assert.deepEqual(out.stdout.trim().split("\n").filter((l) => l === "lo" || l === "unreachable"), ["lo", "unreachable"]);
    } finally {
      await srv.kill("SIGKILL");
      await srv.wait();
    }
  });
});
