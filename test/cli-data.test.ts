/**
 * The data side of the CLI against real containers: `ps` (docker's columns,
 * statuses, filters, --format), `inspect` (docker's field names for
 * containers and images, -f templates), and the run flags --ulimit, -l,
 * --label-file, --env-file. As root and as the unprivileged users.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync, chownSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { identities, cleanupIdentities, notAsSingle } from "./helpers/identities.js";
import { cliPath, signalSpawned, tsbox, type CliResult } from "./helpers/cli.js";
import { TestNetns } from "./helpers/netns.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { removeContainersAndVolumes, tsboxExpect } from "./helpers/cli-cases.js";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "../src/spec/defaults.js";

after(cleanupIdentities);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const who of identities()) {
  describe(`ps and inspect as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      await removeContainersAndVolumes(who);
      await assertNoLeaks(snap, [who]);
    });
    const cli = (args: string[], expect = 0) => tsboxExpect(who, args, { expect });

    /** Starts `tsbox run` in the background and waits until ps shows it running (wrapped: an async function would await the run). */
    async function background(name: string, args: string[]): Promise<{ done: Promise<CliResult>; kill: () => void }> {
      let pid = 0;
      const done = tsbox(who, ["run", "--name", name, ...args], { timeoutMs: 60_000, onSpawn: (p) => (pid = p) });
      const kill = () => signalSpawned(pid, "SIGKILL");
      for (let i = 0; i < 200; i++) {
        const r = await tsbox(who, ["ps", "--filter", `name=^${name}$`, "--format", "{{.State}}"]);
        if (r.stdout === "running\n") return { done, kill };
        await sleep(50);
      }
      throw new Error(`${name} did not start`);
    }

    it("ps shows docker's columns and statuses; -a, -q, -n, -l, --no-trunc, filters", notAsSingle(who), async () => {
      await cli(["run", "--name", "done0", "-l", "tier=web", "busybox", "true"]);
      await cli(["run", "--name", "done3", "busybox", "sh", "-c", "exit 3"], 3);
      // Long enough for a loaded machine (at 30 s it had exited, once, before the checks that need it running).
      const running = await background("up", ["-l", "tier=db", "busybox", "sleep", "300"]);

      const table = (await cli(["ps"])).stdout.split("\n");
      assert.match(table[0]!, /^CONTAINER ID   IMAGE     COMMAND       CREATED\s+STATUS\s+PORTS     NAMES$/);
      assert.equal(table.length, 3, "the header, one running container, the final newline");
      assert.match(table[1]!, /^[0-9a-f]{12}   busybox   "sleep 300"   \S.* ago\s+Up (Less than a second|\d+ seconds?)\s+up$/);

      const all = (await cli(["ps", "-a", "--format", "{{.Names}}|{{.Status}}|{{.State}}|{{.Command}}"])).stdout.trim().split("\n");
      assert.equal(all.length, 3);
      assert.match(all[0]!, /^up\|Up .*\|running\|"sleep 300"$/);
      assert.match(all[1]!, /^done3\|Exited \(3\) .* ago\|exited\|"sh -c 'exit 3'"|^done3\|Exited \(3\) .* ago\|exited\|"sh -c exit 3"$/);
      assert.match(all[2]!, /^done0\|Exited \(0\) .* ago\|exited\|"true"$/);

      assert.equal((await cli(["ps", "-l", "--format", "{{.Names}}"])).stdout, "up\n");
      assert.equal((await cli(["ps", "-n", "2", "--format", "{{.Names}}"])).stdout, "up\ndone3\n");
      assert.match((await cli(["ps", "-q"])).stdout, /^[0-9a-f]{12}\n$/);
      assert.match((await cli(["ps", "-q", "--no-trunc"])).stdout, /^[0-9a-f]{64}\n$/);
      const names = (args: string[]) => cli(["ps", "-a", ...args, "--format", "{{.Names}}"]).then((r) => r.stdout.trim().split("\n").filter(Boolean).sort());
      assert.deepEqual(await names(["--filter", "status=exited"]), ["done0", "done3"]);
      assert.deepEqual(await names(["--filter", "exited=3"]), ["done3"]);
      assert.deepEqual(await names(["--filter", "label=tier"]), ["done0", "up"]);
      assert.deepEqual(await names(["--filter", "label=tier=db"]), ["up"]);
      assert.deepEqual(await names(["--filter", "name=done"]), ["done0", "done3"]);
      assert.deepEqual(await names(["--filter", "ancestor=busybox"]), ["done0", "done3", "up"]);
      assert.deepEqual(await names(["--filter", "ancestor=busybox:nope"]), []);
      assert.deepEqual(await names(["--filter", "since=done0"]), ["done3", "up"]);
      assert.deepEqual(await names(["--filter", "before=done3"]), ["done0"]);
      // --json lists what the table would (-a, --filter, -n/-l), and refuses -q and --format rather than ignore them.
      const jsonNames = (args: string[]) => cli(["ps", "--json", ...args]).then((r) => (JSON.parse(r.stdout) as { name: string }[]).map((c) => c.name));
      assert.deepEqual(await jsonNames([]), ["up"]);
      assert.deepEqual(await jsonNames(["-a", "--filter", "label=tier=web"]), ["done0"]);
      assert.deepEqual(await jsonNames(["-n", "2"]), ["up", "done3"]);
      assert.deepEqual(await jsonNames(["-l"]), ["up"]);
      for (const extra of [["-q"], ["--format", "{{.Names}}"]]) {
        const refused = await tsbox(who, ["ps", "--json", ...extra]);
        assert.deepEqual([refused.code, refused.stdout], [125, ""]);
        assert.match(refused.stderr, /^tsbox: --json and (-q|--format) cannot be combined/);
      }
      // publish= and expose=: the container ports of -p and of EXPOSE/--expose (a port, a range, a protocol).
      await cli(["create", "--name", "exp", "--expose", "53/udp", "--network", "bridge", "-p", "127.0.0.1::8080", "busybox", "true"]);
      assert.deepEqual(await names(["--filter", "expose=53/udp"]), ["exp"]);
      assert.deepEqual(await names(["--filter", "publish=8000-8100"]), ["exp"]);
      assert.deepEqual(await names(["--filter", "publish=53/udp"]), []);
      assert.match((await tsbox(who, ["ps", "--filter", "publish=web"])).stderr, /^tsbox: invalid publish filter "web": expected PORT\[-PORT\]\[\/tcp\|udp\|sctp\]\n$/);
      await cli(["rm", "exp"]);
      const json = JSON.parse((await cli(["ps", "--format", "json"])).stdout) as Record<string, string>;
      assert.deepEqual(Object.keys(json), ["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"]);
      assert.equal(json.Labels, "tier=db");
      assert.match(json.CreatedAt!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
      // Unnamed: docker's adjective_surname, which the container answers to, and which its removal frees.
      const unnamed = (await cli(["create", "busybox", "true"])).stdout.trim();
      const generated = (await cli(["inspect", "-f", "{{.Name}}", unnamed])).stdout.trim().slice(1);
      assert.match(generated, /^[a-z]+_[a-z_]+\d?$/);
      assert.equal((await cli(["ps", "-a", "--filter", `id=${unnamed}`, "--format", "{{.Names}}"])).stdout, `${generated}\n`);
      assert.equal((await cli(["rm", generated])).code, 0);
      assert.equal((await cli(["create", "--name", generated, "busybox", "true"])).code, 0, "the name is free again");
      await cli(["rm", generated]);
      // Sizes: ps computes them when the template asks for .Size (docker-cli), inspect -s adds SizeRw and SizeRootFs.
      await cli(["run", "--name", "sized", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /f"]);
      assert.match((await cli(["ps", "-a", "--filter", "name=^sized$", "--format", "{{.Size}}"])).stdout, /^1\d\dkB \(virtual [\d.]+MB\)\n$/);
      const [rw, rootFs] = (await cli(["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "sized"])).stdout.trim().split(" ").map(Number);
      assert.ok(rw! >= 100000 && rw! < 200000 && rootFs! > rw! + 500000, `${rw} ${rootFs}`);
      assert.equal((await cli(["inspect", "-f", "{{.SizeRw}}", "sized"])).stdout, "<no value>\n", "only with -s, as docker's");
      // Nil slices and maps as docker's typed structs print them (before: `<nil>`, and `<no value>` for an absent map).
      assert.equal((await cli(["inspect", "-f", "{{.Config.Entrypoint}}|{{.HostConfig.Binds}}|{{.Config.ExposedPorts}}|{{json .Config.Entrypoint}}", "sized"])).stdout, "[]|[]|map[]|null\n");
      assert.equal((await cli(["image", "inspect", "-f", "{{.Config.Entrypoint}}|{{.Config.Labels}}|{{.Config.Cmd}}", "busybox"])).stdout, "[]|map[]|[sh]\n");
      await cli(["rm", "sized"]);
      const bad = await tsbox(who, ["ps", "-a", "--format", "{{.Nope}}"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /can't evaluate field Nope in type \*formatter\.ContainerContext/);

      // inspect of the running container
      const f = (await cli(["inspect", "-f", "{{.State.Status}} {{.State.Running}} {{gt .State.Pid 0}} {{.Name}} {{.RestartCount}} {{.Config.Labels.tier}} {{json .Config.Cmd}}", "up"])).stdout;
      assert.equal(f, 'running true true /up 0 db ["sleep","300"]\n');
      // What .Name prints (`/up`) names the container everywhere, as docker's name lookup takes it.
      assert.equal((await cli(["inspect", "-f", "{{.Name}}", "/up"])).stdout, "/up\n");
      assert.equal((await cli(["logs", "/up"])).code, 0);
      await cli(["rename", "/done0", "done0b"]);
      assert.deepEqual(await names(["--filter", "exited=0"]), ["done0b"]);
      assert.equal((await cli(["rm", "/done0b"])).stdout, "/done0b\n");
      // Its CLI dies and the container with it (`rm -f` racing the CLI's exit bookkeeping is the lifecycle's business).
      running.kill();
      await running.done;
    });

    it("inspect uses docker's field names for containers and images", notAsSingle(who), async () => {
      const envFile = join(who.scratch, "env.list");
      const labelFile = join(who.scratch, "labels.list");
      writeFileSync(envFile, "# comment\nFROM_FILE=1\n\nOTHER=two words\n");
      writeFileSync(labelFile, "team=storage\nplain\n");
      for (const f of [envFile, labelFile]) chownSync(f, who.uid, who.gid);
      const r = await cli([
        "run", "--name", "insp", "-w", "/tmp", "-h", "box", "-e", "X=1", "--env-file", envFile,
        "-l", "a=b", "--label-file", labelFile, "-v", `${who.scratch}:/host:ro`, "-v", "named:/named",
        "--ulimit", "nofile=512:1024", "--ulimit", "nproc=2000:3000", "--read-only", "--tmpfs", "/run",
        "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--add-host", "a:1.2.3.4", "--dns", "8.8.8.8",
        "--security-opt", "no-new-privileges", "--sysctl", "kernel.shmmni=1000",
        "busybox", "sh", "-c", "echo $FROM_FILE $OTHER; ulimit -n; ulimit -Hn; exit 7",
      ], 7);
      assert.equal(r.stdout, "1 two words\n512\n1024\n");
      const [c] = JSON.parse((await cli(["inspect", "insp"])).stdout) as Record<string, any>[];
      assert.match(c!.Id, /^[0-9a-f]{64}$/);
      assert.equal(c!.Name, "/insp");
      assert.equal(c!.Path, "sh");
      assert.deepEqual(c!.Args, ["-c", "echo $FROM_FILE $OTHER; ulimit -n; ulimit -Hn; exit 7"]);
      assert.match(c!.Image, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(Object.keys(c!.State), ["Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"]);
      assert.equal(c!.State.Status, "exited");
      assert.equal(c!.State.ExitCode, 7);
      assert.equal(c!.State.Running, false);
      assert.ok(Date.parse(c!.State.FinishedAt) >= Date.parse(c!.State.StartedAt));
      // The user's options as docker shows them back; the foreground run kept its output, as docker does.
      const h = c!.HostConfig;
      assert.deepEqual([h.CapAdd, h.CapDrop, h.ExtraHosts, h.Dns, h.SecurityOpt, h.Sysctls], [["CAP_NET_ADMIN"], ["CAP_MKNOD"], ["a:1.2.3.4"], ["8.8.8.8"], ["no-new-privileges=true"], { "kernel.shmmni": "1000" }]);
      assert.match(c!.LogPath, /\/container\.log$/);
      assert.match(c!.HostsPath, /\/net\/hosts$/);
      assert.equal(c!.Config.Hostname, "box");
      assert.equal(c!.Config.WorkingDir, "/tmp");
      assert.equal(c!.Config.Image, "busybox");
      assert.ok(c!.Config.Env.includes("X=1") && c!.Config.Env.includes("OTHER=two words"));
      assert.deepEqual(c!.Config.Labels, { a: "b", team: "storage", plain: "" });
      assert.deepEqual(c!.Config.Cmd, ["sh", "-c", "echo $FROM_FILE $OTHER; ulimit -n; ulimit -Hn; exit 7"]);
      assert.equal(c!.Config.Entrypoint, null);
      assert.deepEqual(c!.HostConfig.Binds, [`${who.scratch}:/host:ro`, "named:/named"]);
      assert.equal(c!.HostConfig.ReadonlyRootfs, true);
      assert.equal(c!.HostConfig.AutoRemove, false);
      assert.deepEqual(c!.HostConfig.Tmpfs, { "/run": "" });
      assert.deepEqual(c!.HostConfig.Ulimits, [{ Name: "nofile", Hard: 1024, Soft: 512 }, { Name: "nproc", Hard: 3000, Soft: 2000 }]);
      assert.deepEqual(c!.HostConfig.RestartPolicy, { Name: "no", MaximumRetryCount: 0 });
      assert.equal(c!.HostConfig.Memory, 0);
      assert.deepEqual(c!.Mounts, [
        { Type: "bind", Source: who.scratch, Destination: "/host", Mode: "ro", RW: false, Propagation: "rprivate" },
        { Type: "volume", Name: "named", Source: join(who.dataDir, "volumes", "named", "_data"), Destination: "/named", Driver: "local", Mode: "z", RW: true, Propagation: "" },
      ]);
      assert.equal(c!.GraphDriver.Name, "overlay");
      assert.match(c!.GraphDriver.Data.UpperDir, new RegExp(`^${who.dataDir}/containers/${c!.Id}/upper$`));
      assert.equal((await cli(["inspect", "--type", "container", "-f", "{{.State.ExitCode}} {{.HostConfig.ReadonlyRootfs}}", "insp"])).stdout, "7 true\n");

      const [image] = JSON.parse((await cli(["inspect", "--type", "image", "busybox"])).stdout) as Record<string, any>[];
      assert.equal(image!.Id, c!.Image, "the container's .Image is its image's id");
      assert.deepEqual(image!.RepoTags, ["busybox:latest"]);
      assert.equal(image!.Os, "linux");
      assert.equal(image!.RootFS.Type, "layers");
      assert.ok(Array.isArray(image!.Config.Cmd));
      assert.equal((await cli(["inspect", "-f", "{{.Os}}/{{.Architecture}}", "busybox"])).stdout.trim(), `linux/${process.arch === "x64" ? "amd64" : process.arch}`);

      const missing = await tsbox(who, ["inspect", "insp", "nosuchthing"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^tsbox: no such object: nosuchthing\n$/);
      assert.equal((JSON.parse(missing.stdout) as unknown[]).length, 1, "what was found is still printed");
      // An image by its id's first digits (before: twelve were needed), as docker takes one.
      const short = (image!.Id as string).slice("sha256:".length, "sha256:".length + 5);
      assert.equal((await cli(["inspect", "-f", "{{.Id}}", short])).stdout, `${image!.Id}\n`);
      // A container id prefix of several is said to be ambiguous (before: "no such object", as if there were none).
      const ids = [c!.Id as string];
      while (new Set(ids.map((id) => id[0])).size === ids.length) ids.push((await cli(["create", "busybox", "true"])).stdout.trim());
      const shared = ids.find((id, i) => ids.findIndex((o) => o[0] === id[0]) !== i)![0]!;
      const ambiguous = await tsbox(who, ["inspect", shared]);
      assert.deepEqual([ambiguous.code, ambiguous.stderr], [1, `tsbox: container id prefix ${shared} is ambiguous\n`]);
      await cli(["rm", ...ids.slice(1)]);
      await cli(["rm", "-v", "insp"]);
      await cli(["volume", "rm", "named"]);
    });

    it("inspect shows the masked and read-only paths the container got (none privileged or unconfined) and docker's spelling of --cap-add/--cap-drop", async () => {
      // Before: no MaskedPaths/ReadonlyPaths, and the capabilities as typed ("net_admin").
      const host = (name: string) => cli(["inspect", "-f", "{{json .HostConfig.MaskedPaths}}|{{json .HostConfig.ReadonlyPaths}}|{{json .HostConfig.CapAdd}}|{{json .HostConfig.CapDrop}}", name]);
      await cli(["create", "--name", "paths", "--cap-add", "net_admin", "--cap-add", "CAP_NET_ADMIN", "--cap-add", "Sys_Time", "--cap-drop", "all", "busybox", "true"]);
      const [masked, readonly, add, drop] = (await host("paths")).stdout.trim().split("|").map((j) => JSON.parse(j) as string[] | null);
      for (const path of DEFAULT_MASKED_PATHS) assert.ok(masked!.includes(path), `${path} in ${JSON.stringify(masked)}`);
      for (const path of DEFAULT_READONLY_PATHS) assert.ok(readonly!.includes(path), `${path} in ${JSON.stringify(readonly)}`);
      assert.deepEqual([add, drop], [["CAP_NET_ADMIN", "CAP_SYS_TIME"], ["ALL"]]);
      await cli(["create", "--name", "priv", "--privileged", "busybox", "true"]);
      await cli(["create", "--name", "unconfined", "--security-opt", "systempaths=unconfined", "--cap-drop", "chown", "busybox", "true"]);
      assert.equal((await host("priv")).stdout, "[]|[]|null|null\n");
      assert.equal((await host("unconfined")).stdout, '[]|[]|null|["CAP_CHOWN"]\n');
      await cli(["rm", "paths", "priv", "unconfined"]);
    });

    it("--init runs tsbox-init as PID 1: it reaps orphans and forwards signals", async () => {
      assert.equal((await cli(["run", "--rm", "--init", "busybox", "ps", "-o", "pid,args"])).stdout, "PID   COMMAND\n    1 /dev/init -- ps -o pid,args\n    2 ps -o pid,args\n");
      /** The states of every process under the container's PID 1, read on the host. */
      const zombiesUnder = (pid: number): string[] => {
        const out: string[] = [];
        const walk = (p: number) => {
          for (const child of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number)) {
            if (/^State:\s+Z/m.test(readFileSync(`/proc/${child}/status`, "utf8"))) out.push(String(child));
            walk(child);
          }
        };
        walk(pid);
        return out;
      };
      // An orphan (its parent sh is gone) is reparented to PID 1; a PID 1 that is `sleep` never reaps it.
      const orphan = ["sh", "-c", "sh -c 'sleep 0.2 &'; exec sleep 4"];
      for (const init of [false, true]) {
        const name = init ? "with-init" : "without-init";
        const bg = await background(name, [...(init ? ["--init"] : []), "busybox", ...orphan]);
        await sleep(1500);
        const pid = Number((await cli(["inspect", "-f", "{{.State.Pid}}", name])).stdout);
        assert.ok(pid > 0);
        assert.equal(zombiesUnder(pid).length, init ? 0 : 1, init ? "tsbox-init reaped the orphan" : "without --init the orphan stays a zombie");
        bg.kill();
        await bg.done;
      }
      // SIGTERM reaches the command through tsbox-init (a plain `sleep` as PID 1 ignores it).
      let cliPid = 0;
      const term = tsbox(who, ["run", "--rm", "--init", "busybox", "sleep", "30"], { timeoutMs: 60_000, onSpawn: (p) => (cliPid = p) });
      for (let i = 0; i < 100 && (await tsbox(who, ["ps", "-q"])).stdout === ""; i++) await sleep(100);
      await sleep(300);
      signalSpawned(cliPid, "SIGTERM");
      assert.equal((await term).code, 143);
      const missing = await tsbox(who, ["run", "--rm", "--init", "busybox", "nosuchcmd"]);
      assert.equal(missing.code, 127);
      assert.equal(missing.stderr, "tsbox-init: executable file not found in $PATH: nosuchcmd\n");
      assert.equal((await tsbox(who, ["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"])).code, 7);
      await cli(["run", "--name", "inited", "--init", "busybox", "true"]);
      assert.equal((await cli(["inspect", "-f", "{{.HostConfig.Init}} {{.Path}} {{json .Args}}", "inited"])).stdout, 'true true []\n');
      assert.equal((await cli(["diff", "inited"])).stdout, "", "nothing of the init reaches the writable layer");
    });

    it("--ulimit and --label errors are clear", notAsSingle(who), async () => {
      const bad = await tsbox(who, ["run", "--rm", "--ulimit", "nofiles=1", "busybox", "true"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /^tsbox: invalid ulimit "nofiles": expected one of /);
      const order = await tsbox(who, ["run", "--rm", "--ulimit", "nofile=10:5", "busybox", "true"]);
      assert.equal(order.code, 125);
      assert.match(order.stderr, /soft limit 10 is above the hard limit 5/);
      // This host's root lacks CAP_SYS_RESOURCE, and no unprivileged user has it: nothing may raise a hard limit.
      const above = await tsbox(who, ["run", "--rm", "--ulimit", "nofile=1048576", "busybox", "true"]);
      if (above.code !== 0) {
        assert.equal(above.code, 125);
        assert.match(above.stderr, /^tsbox: setting RLIMIT_NOFILE to 1048576:1048576 \(raising a hard limit above the host's needs CAP_SYS_RESOURCE on the host\): Operation not permitted\n$/);
      }
      // A low limit binds the process, not the set-up before it (its mounts ran out of descriptors), nor an exec.
      const low = await tsbox(who, ["run", "-d", "--name", "lowfd", "--ulimit", "nofile=8:8", "busybox", "sh", "-c", "ulimit -n; sleep 30"]);
      assert.equal(low.code, 0, low.stderr);
      assert.equal((await tsbox(who, ["exec", "lowfd", "sh", "-c", "ulimit -n"])).stdout, "8\n");
      assert.equal((await tsbox(who, ["logs", "lowfd"])).stdout, "8\n");
      await tsbox(who, ["rm", "-f", "lowfd"]);
      const file = await tsbox(who, ["run", "--rm", "--label-file", "/no/such/file", "busybox", "true"]);
      assert.equal(file.code, 125);
      assert.match(file.stderr, /^tsbox: cannot read label file \/no\/such\/file: no such file or directory\n$/);
      // A shell script's `export A=1` is no env-file line (docker's error), not a variable named "export A".
      const envFile = join(who.scratch, "script.env");
      writeFileSync(envFile, "A=1\nexport B=2\n");
      chownSync(envFile, who.uid, who.gid);
      const exported = await tsbox(who, ["run", "--rm", "--env-file", envFile, "busybox", "true"]);
      assert.equal(exported.code, 125);
      assert.match(exported.stderr, /variable 'export B' contains whitespaces/);
      // Every Node (20 to 26) reads an --env-file anywhere on its command line unless `--` comes first (a NODE_OPTIONS
      // line in it ran code in the CLI). The bin's first line gives Node its `--`: started as a project's install is
      // (`npx tsbox`), the file is the container's alone.
      const inject = join(who.scratch, "inject.cjs");
      const marker = join(who.scratch, "injected");
      writeFileSync(inject, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "")`);
      const nodeOptions = join(who.scratch, "node-options.env");
      writeFileSync(nodeOptions, `NODE_OPTIONS=--require ${inject}\nA=1\n`);
      chownSync(nodeOptions, who.uid, who.gid);
      const project = join(who.scratch, "my project");
      mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
      const localBin = join(project, "node_modules", ".bin", "tsbox");
      symlinkSync(cliPath, localBin);
      const runArgs = ["run", "--rm", "--env-file", nodeOptions, "busybox", "sh", "-c", "echo $A"];
      const direct = await tsbox(who, [], { argv: [localBin, ...runArgs], cwd: project });
      assert.deepEqual([direct.code, direct.stdout, existsSync(marker)], [0, "1\n", false], direct.stderr);
      // A container's own command line is the container's: the host's Node reads no file it names (`node --env-file=.env app.js`).
      const own = await tsbox(who, [], { argv: [localBin, "run", "--rm", "busybox", "echo", "node", `--env-file=${nodeOptions}`, "app.js"], cwd: project });
      assert.deepEqual([own.code, own.stdout, existsSync(marker)], [0, `node --env-file=${nodeOptions} app.js\n`, false], own.stderr);
      // A pipe (`--env-file <(…)`) is tsbox's to read: Node no longer empties it first.
      const piped = await tsbox(who, [], { argv: ["bash", "-c", `"$0" run --rm --env-file <(printf 'P=piped\\n') busybox sh -c 'echo $P'`, localBin], cwd: project });
      assert.equal(piped.stdout, "piped\n", piped.stderr);
      // Started without `--` (`node …/tsbox.js`), Node has read the file before tsbox: refused, saying so and how to start it.
      const bare = await tsbox(who, [], { argv: [process.execPath, localBin, ...runArgs], cwd: project });
      assert.equal(bare.code, 125);
      const hint = /^tsbox: Node was started without -- before tsbox, so it read the --env-file .* or as (node -- .*) …\n$/.exec(bare.stderr);
      assert.equal(hint?.[1], `node -- '${localBin}'`, bare.stderr);
      rmSync(marker, { force: true }); // Node ran the file's NODE_OPTIONS before tsbox could refuse
      const hinted = await tsbox(who, [], { argv: ["sh", "-c", `${hint![1]} "$@"`, "sh", ...runArgs], cwd: project });
      assert.deepEqual([hinted.code, hinted.stdout, existsSync(marker)], [0, "1\n", false], hinted.stderr);
      const separated = await tsbox(who, ["run", "--rm", "--env-file", nodeOptions, "busybox", "sh", "-c", "echo $A"]);
      assert.equal(separated.stdout, "1\n", separated.stderr);
      // docker's `version -f` / `info -f` for scripts.
      assert.match((await cli(["version", "-f", "{{.Client.Version}} {{.Server.Os}}"])).stdout, /^\d+\.\d+\.\d+\S* linux\n$/);
      assert.equal((await cli(["info", "-f", "{{.backend}}"])).stdout, "native\n");
      // docker's names, and its `json` keyword (the whole object), for info, version and inspect.
      assert.match((await cli(["info", "-f", "{{.ServerVersion}} {{.OSType}} {{.CgroupVersion}} {{.NCPU}}"])).stdout, /^\d+\.\d+\.\d+\S* linux [12] [1-9]\d*\n$/);
      // The host's os-release name, and the cgroup driver and security options scripts check (kind, minikube).
      const prettyName = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))![1];
      const [os, driver, security] = (await cli(["info", "-f", "{{.OperatingSystem}}|{{.CgroupDriver}}|{{json .SecurityOptions}}"])).stdout.trim().split("|");
      assert.equal(os, prettyName);
      const controllers = (JSON.parse((await cli(["info", "--json"])).stdout) as { probe: { cgroups: { controllers: Record<string, { user: boolean }> } } }).probe.cgroups.controllers;
      assert.equal(driver, Object.values(controllers).some((c) => c.user) ? "cgroupfs" : "none");
      if (who.uid === 0) assert.equal(driver, "cgroupfs");
      assert.deepEqual(JSON.parse(security!), ["name=seccomp,profile=builtin", ...(who.uid === 0 ? [] : ["name=rootless"]), "name=cgroupns"]);
      // docker's counts, which scripts test (`[ "$(docker info -f '{{.ContainersRunning}}')" -gt 0 ]`); a field it has not is an error.
      await cli(["create", "--name", "info-count", "busybox", "true"]);
      const lines = async (args: string[]) => (await cli(args)).stdout.split("\n").filter(Boolean);
      const counts = (await cli(["info", "-f", "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} {{.Images}}"])).stdout.trim().split(" ").map(Number);
      const [all, running, images] = [(await lines(["ps", "-aq"])).length, (await lines(["ps", "-q"])).length, (await lines(["images", "-q"])).length];
      assert.deepEqual(counts, [all, running, 0, all - running, images]);
      assert.ok(all >= 1 && images >= 1);
      await cli(["rm", "info-count"]);
      const typo = await tsbox(who, ["info", "-f", "{{.ContainersRunnig}}"]);
      assert.notEqual(typo.code, 0);
      assert.match(typo.stderr, /can't evaluate field ContainersRunnig in type system\.Info/);
      const infoJson = JSON.parse((await cli(["info", "--format", "json"])).stdout) as { backend: string; DockerRootDir: string };
      assert.equal(infoJson.backend, "native");
      assert.equal(infoJson.DockerRootDir, JSON.parse((await cli(["info", "--json"])).stdout).dataDir);
      assert.equal((JSON.parse((await cli(["version", "--format", "json"])).stdout) as { Client: { Os: string } }).Client.Os, "linux");
      // docker-cli's JSON inspector: the default array, compact on one line (`| jq '.[0].Os'`).
      const asJson = (await cli(["inspect", "--format", "json", "busybox", "busybox"])).stdout;
      assert.equal(asJson.split("\n").length, 2, asJson);
      assert.deepEqual((JSON.parse(asJson) as { Os: string }[]).map((i) => i.Os), ["linux", "linux"]);
      // docker's --platform: the backend's own runs; another is refused, naming what it runs.
      assert.equal((await cli(["run", "--rm", "--platform", `linux/${process.arch === "x64" ? "amd64" : process.arch}`, "busybox", "echo", "ok"])).stdout, "ok\n");
      const arm = await tsbox(who, ["run", "--rm", "--platform", "linux/s390x", "busybox", "true"]);
      assert.equal(arm.code, 125);
      assert.match(arm.stderr, /^tsbox: the native backend cannot run linux\/s390x images: it runs linux\/\w+ \(--backend vm runs linux\/386\)\n$/);
      // A name's control characters never reach the terminal raw (an escape sequence could rewrite it).
      const esc = await tsbox(who, ["run", "--name", "a\x1b[2Jb", "busybox", "true"]);
      assert.equal(esc.stderr, 'tsbox: invalid container name "a\\x1b[2Jb": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n');
      const long = "n".repeat(300);
      assert.match((await tsbox(who, ["run", "--name", long, "busybox", "true"])).stderr, /^tsbox: invalid container name "n{32}…": at most 128 characters\n$/);
      assert.match((await tsbox(who, ["rm", long])).stderr, /^tsbox: no such container: n{300}\n$/);
      // docker drops one leading "/" of --name and of rename's new name (before: refused as an invalid name).
      assert.equal((await cli(["run", "--name", "/slashed", "busybox", "true"])).code, 0);
      assert.equal((await cli(["rename", "slashed", "/reslashed"])).code, 0);
      assert.equal((await cli(["inspect", "-f", "{{.Name}}", "/reslashed"])).stdout, "/reslashed\n");
      await cli(["rm", "reslashed"]);
    });

    it("-v ./dir binds a directory relative to the current one (docker 23+)", async () => {
      const dir = join(who.scratch, "reldir");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "f"), "relative\n");
      chownSync(dir, who.uid, who.gid);
      assert.equal((await tsbox(who, ["run", "--rm", "-v", "./reldir:/x:ro", "busybox", "cat", "/x/f"], { cwd: who.scratch })).stdout, "relative\n");
      assert.match((await tsbox(who, ["run", "--rm", "-v", "rel/dir:/x", "busybox", "true"])).stderr, /host path rel\/dir must be absolute \(or start with \.\/\)/);
    });

    it("-v makes a missing host directory (docker's rule), --mount refuses it naming the source", async () => {
      const missing = join(who.scratch, "made-by-v", "sub");
      const made = await tsbox(who, ["run", "--rm", "-v", `${missing}:/x`, "busybox", "sh", "-c", "echo in > /x/f"]);
      assert.equal(made.code, 0, made.stderr);
      assert.equal(readFileSync(join(missing, "f"), "utf8"), "in\n", "before stop 40: refused, \"host path does not exist\"");
      const refused = await tsbox(who, ["run", "--rm", "--mount", `type=bind,source=${missing}-not,target=/x`, "busybox", "true"]);
      assert.equal(refused.code, 125);
      assert.equal(refused.stderr, `tsbox: invalid mount config for type "bind": bind source path does not exist: ${missing}-not\n`);
    });

    it("--sysctl sets its own namespaces' parameters, never the host's; ping needs no raw socket (docker's ping_group_range)", async () => {
      const icmp = join(who.scratch, "icmp-socket");
      execFileSync("gcc", ["-static", "-O2", "-o", icmp, fileURLToPath(new URL("fixtures/icmp-socket.c", import.meta.url))]);
      chownSync(icmp, who.uid, who.gid);
      const user = who.name === "single" ? [] : ["-u", "1000:1000"];
      const r = await tsbox(who, ["run", "--rm", ...user, "-v", `${icmp}:/icmp:ro`, "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl", "kernel.shmmni=1000", "busybox", "sh", "-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni; /icmp"]);
      assert.equal(r.stdout, "80\n1000\nicmp socket\n", r.stderr);
      // docker's other default: a user other than root may listen below 1024 in the container's own network.
      const low = await tsbox(who, ["run", "--rm", ...user, "busybox", "sh", "-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; httpd -p 80 && echo listening"]);
      assert.equal(low.stdout, "0\nlistening\n", low.stderr);
      // The UTS namespace's domain name, rootless too (by setdomainname: /proc/sys/kernel/domainname takes writes
      // from the initial namespace's root only): --sysctl kernel.domainname and docker's --domainname, which
      // inspect shows; /etc/hostname stays the hostname alone, as docker's.
      const uts = await tsbox(who, ["run", "--rm", "--sysctl", "kernel.domainname=dn.test", "busybox", "cat", "/proc/sys/kernel/domainname"]);
      assert.equal(uts.stdout, "dn.test\n", uts.stderr);
      const dn = await tsbox(who, ["run", "--name", `dn-${who.name}`, "--hostname", "web", "--domainname", "example.test", "busybox", "sh", "-c", "cat /proc/sys/kernel/domainname /etc/hostname; hostname"]);
      assert.equal(dn.stdout, "example.test\nweb\nweb\n", dn.stderr);
      assert.equal((await tsbox(who, ["inspect", "-f", "{{.Config.Hostname}} {{.Config.Domainname}}", `dn-${who.name}`])).stdout, "web example.test\n");
      await tsbox(who, ["rm", `dn-${who.name}`]);
      for (const [args, message] of [
        [["--uts", "host", "--domainname", "x"], /^tsbox: conflicting options: --domainname and --uts host$/m],
        [["--domainname", "a b"], /^tsbox: invalid value "a b" for --domainname: 1 to 64 characters without blanks$/m],
        [["--sysctl", "kernel.core_pattern=|/x"], /sysctl kernel\.core_pattern is not in a namespace of the container's own: it would change the host/],
        [["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"], /sysctl net\.ipv4\.ip_forward needs a network namespace of the container's own/],
        [["--sysctl", "net.ipv4..x=1"], /invalid sysctl name/],
      ] as const) {
        const refused = await tsbox(who, ["run", "--rm", ...args, "busybox", "true"]);
        assert.equal(refused.code, 125, refused.stderr);
        assert.match(refused.stderr, message);
      }
    });

    it("networks created at once by several processes get distinct subnets, and a name only once", notAsSingle(who), async () => {
      const tag = Math.random().toString(16).slice(2, 8);
      const names = [0, 1, 2, 3, 4, 5].map((i) => `par-${tag}-${i}`);
      // Root's bridges in a namespace of the test's own: the machine's is other test files' to check for leaks.
      const ns = who.uid === 0 ? TestNetns.create() : undefined;
      const inNs = (args: string[]) => tsbox(who, args, { netns: ns?.path });
      try {
        const made = await Promise.all(names.map((n) => inNs(["network", "create", n])));
        assert.deepEqual(made.map((r) => r.code), names.map(() => 0), made.map((r) => r.stderr).join(""));
        const subnets = (await inNs(["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", ...names])).stdout.trim().split("\n");
        assert.equal(new Set(subnets).size, names.length, subnets.join(" "));
        // docker's ls --format and --filter (of one key: any; of two keys: both).
        const listed = await inNs(["network", "ls", "--filter", `name=par-${tag}-1`, "--filter", `name=par-${tag}-2`, "--filter", "type=custom", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"]);
        assert.equal(listed.stdout, `par-${tag}-1 bridge local\npar-${tag}-2 bridge local\n`, listed.stderr);
        // name= and id= are regular expressions (moby's filters.Match), so `^N$` is the exact test scripts use.
        const ls = (...args: string[]) => inNs(["network", "ls", ...args, "--format", "{{.Name}}"]).then((r) => r.stdout);
        assert.equal(await ls("--filter", `name=^par-${tag}-1$`), `par-${tag}-1\n`);
        assert.equal(await ls("--filter", `name=^par-${tag}-$`), "");
        // dangling=: user networks without containers (never the pre-defined ones); --no-trunc: the whole id.
        await inNs(["run", "-d", "--name", `par-${tag}-ctr`, "--network", `par-${tag}-0`, "busybox", "sleep", "300"]);
        assert.equal(await ls("--filter", `name=^par-${tag}-[01]$`, "--filter", "dangling=true"), `par-${tag}-1\n`);
        assert.equal(await ls("--filter", `name=^par-${tag}-[01]$|^(bridge|host|none)$`, "--filter", "dangling=false"), `bridge\nhost\nnone\npar-${tag}-0\n`);
        await inNs(["rm", "-f", `par-${tag}-ctr`]);
        const full = (await inNs(["network", "ls", "-q", "--no-trunc", "--filter", `name=^par-${tag}-1$`])).stdout;
        assert.equal(full, (await inNs(["network", "inspect", "-f", "{{.Id}}", `par-${tag}-1`])).stdout);
        assert.match(full, /^[0-9a-f]{64}\n$/);
        // inspect finds networks with --type network, and without a type as docker's (container, image, network, volume).
        assert.equal((await inNs(["inspect", "-f", "{{.Name}} {{.Driver}}", `par-${tag}-1`, "host"])).stdout, `par-${tag}-1 bridge\nhost host\n`);
        assert.equal((await inNs(["inspect", "--type", "network", "-f", "{{.Name}}", `par-${tag}-2`])).stdout, `par-${tag}-2\n`);
        const notImage = await inNs(["inspect", "--type", "image", `par-${tag}-2`]);
        assert.equal(notImage.code, 1, notImage.stderr);
        // host and none are listed, inspected and kept as docker's pre-defined networks.
        assert.equal((await inNs(["network", "ls", "--filter", "type=builtin", "--format", "{{.Name}} {{.Driver}}"])).stdout, "bridge bridge\nhost host\nnone null\n");
        const none = await inNs(["network", "inspect", "-f", "{{.Name}} {{.Driver}} {{len .IPAM.Config}}", "none", "e555db4bf0d3"]);
        assert.equal(none.stdout, "none null 0\nhost host 0\n", none.stderr);
        assert.deepEqual(await inNs(["network", "rm", "host"]).then((r) => [r.code, r.stderr]), [1, "tsbox: host is a pre-defined network and cannot be removed\n"]);
        assert.equal((await inNs(["network", "ls", "--filter", "bogus=1"])).stderr, "tsbox: invalid filter 'bogus=1'\n");
        const same = await Promise.all([0, 1, 2].map(() => inNs(["network", "create", `par-${tag}-same`])));
        assert.equal(same.filter((r) => r.code === 0).length, 1, same.map((r) => r.stderr).join(""));
        for (const r of same.filter((r) => r.code !== 0)) assert.match(r.stderr, /^tsbox: network with name par-\w+-same already exists\n$/);
      } finally {
        await inNs(["network", "rm", ...names, `par-${tag}-same`]);
        ns?.destroy();
      }
    });

    it("docker's --group-add, --expose and --log-driver", notAsSingle(who), async () => {
      // A single-id user's container cannot set groups (setgroups is denied there): it says so.
      const groups = await tsbox(who, ["run", "--rm", "--group-add", "10", "--group-add", "root", ...(who.name === "single" ? [] : ["-u", "1000"]), "busybox", "id", "-G"]);
      if (who.name === "single") assert.match(groups.stderr, /^tsbox: --group-add needs a user namespace that may set groups, which one mapped id cannot \(rootless without an \/etc\/subuid range/);
      else assert.equal(groups.stdout, "0 10\n", groups.stderr);
      // A gid past the user namespace's range: setgroups would fail (EINVAL; podman's crun says so), so it is refused
      // naming the gid and the range, not dropped (before: exit 0, `id -G` without it). Root maps every gid.
      const unmapped = await tsbox(who, ["run", "--rm", "--group-add", "70000", "busybox", "id", "-G"]);
      if (who.name === "root") assert.equal(unmapped.stdout, "0 70000\n", unmapped.stderr);
      else if (who.name === "single") assert.match(unmapped.stderr, /^tsbox: --group-add needs a user namespace that may set groups/);
      else {
        assert.match(unmapped.stderr, /^tsbox: --group-add 70000: gid 70000 is not mapped in the container's user namespace \(rootless, ids past 0 are your \/etc\/subuid and \/etc\/subgid range, \d+\+65536: ids 0-65536 inside;/);
        assert.equal(unmapped.code, 125);
      }
      const unknown = await tsbox(who, ["run", "--rm", "--group-add", "nosuch", "busybox", "true"]);
      assert.equal(unknown.stderr, "tsbox: unable to find group nosuch: no matching entries in group file\n");
      const name = `expose-${who.name}`;
      assert.equal((await tsbox(who, ["create", "--name", name, ...(who.name === "single" ? [] : ["--group-add", "10"]), "--expose", "80", "--expose", "9000-9001/udp", "busybox", "true"])).code, 0);
      const inspected = await tsbox(who, ["inspect", "-f", "{{json .Config.ExposedPorts}} {{json .HostConfig.GroupAdd}}", name]);
      assert.equal(inspected.stdout, `{"80/tcp":{},"9000/udp":{},"9001/udp":{}} ${who.name === "single" ? "null" : '["10"]'}\n`);
      await tsbox(who, ["rm", name]);
      // Exposed ports show only through a network (docker's ps and inspect; the grouping is format.test.ts's, one on a
      // network network.test.ts's): this suite's containers are on none, whose driver reports no ports, as docker's null.
      assert.equal((await tsbox(who, ["run", "-d", "--name", name, "--expose", "80", "--expose", "9000-9001/udp", "busybox", "sleep", "60"])).code, 0);
      assert.equal((await tsbox(who, ["ps", "--filter", `name=^${name}$`, "--format", "{{.Networks}}|{{.Ports}}"])).stdout, "none|\n");
      assert.equal((await tsbox(who, ["inspect", "-f", "{{json .NetworkSettings.Ports}}", name])).stdout, "{}\n");
      await tsbox(who, ["rm", "-f", name]);
      assert.match((await tsbox(who, ["run", "--rm", "--expose", "0", "busybox", "true"])).stderr, /^tsbox: invalid --expose 0: /);
      assert.equal((await tsbox(who, ["run", "--rm", "--log-driver", "json-file", "busybox", "true"])).code, 0);
      assert.match((await tsbox(who, ["run", "--rm", "--log-driver", "syslog", "busybox", "true"])).stderr, /^tsbox: unsupported --log-driver syslog: tsbox keeps docker's json-file log/);
    });

    it("--cidfile gets the id (a file already there is refused), --pull never does not pull, load of a missing file says so", notAsSingle(who), async () => {
      const cid = join(who.scratch, `cid-${Math.random().toString(16).slice(2)}`);
      const first = await tsbox(who, ["run", "--rm", "--cidfile", cid, "busybox", "true"]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(readFileSync(cid, "utf8"), /^[0-9a-f]{64}$/);
      const again = await tsbox(who, ["run", "-d", "--cidfile", cid, "busybox", "true"]);
      assert.equal(again.code, 125);
      assert.match(again.stderr, /container ID file found/);
      // A path that cannot be made fails before a container exists; a run that fails leaves no file.
      const before = (await tsbox(who, ["ps", "-aq"])).stdout;
      const nowhere = await tsbox(who, ["run", "--cidfile", join(who.scratch, "no-dir", "cid"), "busybox", "true"]);
      assert.equal(nowhere.code, 125);
      assert.equal(nowhere.stderr, `tsbox: cannot create --cidfile ${join(who.scratch, "no-dir", "cid")}: no such file or directory\n`);
      const unmade = join(who.scratch, `cid-${Math.random().toString(16).slice(2)}`);
      assert.equal((await tsbox(who, ["create", "--cidfile", unmade, "busybox:no-such-tag", "true"])).code, 125);
      assert.equal(existsSync(unmade), false, "the cidfile of a failed create was left");
      assert.equal((await tsbox(who, ["ps", "-aq"])).stdout, before, "a container was left behind");
      const never = await tsbox(who, ["run", "--rm", "--pull", "never", "127.0.0.1:1/nothing:1", "true"]);
      assert.equal(never.code, 125);
      assert.equal(never.stderr, "tsbox: no such image: 127.0.0.1:1/nothing:1 (--pull never)\n");
      const missing = await tsbox(who, ["load", "-i", join(who.scratch, "no-such.tar")]);
      assert.equal(missing.stderr, `tsbox: cannot read ${join(who.scratch, "no-such.tar")}: no such file or directory\n`);
    });
  });
}
