/**
 * Networking on the vm backend: the guest's agent runs the same network
 * code as tsbox-runtime (bridge, veths, leases, the network's DNS server),
 * and a published port is a listener on this host whose connections the
 * agent carries to the container (`connect` op). Everything but the host's
 * listeners lives in the guest, so these run in the test's own process.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Runtime } from "../src/index.js";
import { VmBackend } from "../src/backends/vm/node/vm-backend.js";
import { vmSkip } from "./helpers/vm.js";

describe("vm networking", { skip: vmSkip }, () => {
  const scratch = mkdtempSync(join(tmpdir(), "tsbox-vm-net-"));
  const dataDir = join(scratch, "data");
  // One guest for the whole suite: it stays up between containers.
  const backend = new VmBackend({ idleMs: 120_000 });
  const rt = new Runtime({ dataDir, backend, network: "bridge" });

  before(() => {
    rt.networks.create("vmapp");
  });
  after(async () => {
    await backend.shutdown();
    rmSync(scratch, { recursive: true, force: true });
  });

  const httpd = (text: string) => ["sh", "-c", `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

  it("two containers on a user network talk TCP by name and alias", async () => {
    const srv = await rt.run({ image: "busybox", name: "srv", network: "vmapp", networkAliases: ["web"], cmd: httpd("hello-from-srv"), remove: true });
    try {
      const c = await rt.run({ image: "busybox", network: "vmapp", cmd: ["sh", "-c", "wget -q -O - http://srv/ && wget -q -O - http://web/ && cat /etc/resolv.conf"], remove: true });
      const out = await c.output();
      assert.equal(out.exitCode, 0, out.stderr);
      assert.match(out.stdout, /^hello-from-srv\nhello-from-srv\nnameserver 10\.89\.0\.1\n/);
    } finally {
      await srv.kill("SIGKILL");
      await srv.wait();
    }
  });

  it("publishes a port: busybox httpd in the guest answers a client on 127.0.0.1", async () => {
    const cmd = ["sh", "-c", "mkdir -p /www && head -c 1048576 /dev/zero > /www/big && echo hello-through-the-agent > /www/index.html && exec httpd -f -p 80 -h /www"];
    const srv = await rt.run({ image: "busybox", name: "pub", publish: ["127.0.0.1::80"], cmd, remove: true });
    let port = 0;
    try {
      const nets = await rt.containerNetworks("pub");
      assert.equal(nets[0]?.network, "bridge");
      assert.match(nets[0]!.ip, /^10\.88\.\d+\.\d+$/);
      port = nets[0]!.ports[0]!.hostPort;
      assert.ok(port > 0, "the host port the kernel picked is recorded");
      let body = "";
      for (let i = 0; i < 100 && body === ""; i++) {
        body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => "");
        if (body === "") await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(body, "hello-through-the-agent\n");
      // A bigger answer (1 MiB) crosses the link's stream flow control.
      const big = await fetch(`http://127.0.0.1:${port}/big`).then((r) => r.arrayBuffer());
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
