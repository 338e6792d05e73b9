/**
 * The `--format` engine without containers: Go text/template semantics for
 * the values docker formats, docker's functions, `table` with Go's
 * tabwriter settings, and the shapes docker's documentation shows.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderTemplate, strictContext } from "../src/cli/format-template-exec.js";
import { withTypedNils } from "../src/cli/inspect-typed-nils.js";
import { prepareFormat, renderFormatted, tabwrite, type FormatDefaults } from "../src/cli/format-output.js";
import { bytesSize, humanDuration, humanSize } from "../src/cli/format.js";
import { parseNetDev } from "../src/network/net-io.js";
import { sprintf } from "../src/cli/format-template-funcs.js";
import { parseMount, parseUlimit, readKeyValueFile } from "../src/cli/run-flags-data.js";
import { parseRunArgs, parseVolume, securityOptions } from "../src/cli/run-flags.js";
import { displayablePorts, parseFilters, statusText } from "../src/cli/commands/ps-context.js";
import type { ContainerInspect } from "../src/containers/inspect.js";
import { UsageError } from "../src/errors.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const inspect = {
  Id: "4fa6e0f0c6786287e131c3852c58a2e01cc697a68231826813597e4994f1d6e2",
  State: { Status: "running", Running: true, Paused: false, Pid: 4242, ExitCode: 0, StartedAt: "2024-05-01T10:00:00Z" },
  Name: "/web",
  LogPath: "/var/lib/docker/containers/4fa6/4fa6-json.log",
  Config: { Env: ["PATH=/bin", "A=1"], Cmd: ["sh", "-c", "sleep 9"], Entrypoint: null, Labels: { "com.example.vendor": "ACME", tier: "1" }, Tty: false },
  HostConfig: { Memory: 33554432, NanoCpus: 200000000, PidsLimit: null, Binds: ["/h:/c:ro"], RestartPolicy: { Name: "no", MaximumRetryCount: 0 } },
  NetworkSettings: { Networks: { bridge: { IPAddress: "172.17.0.2" } } },
  Mounts: [{ Type: "volume", Name: "data", Destination: "/data", RW: true }],
};

const render = (t: string, data: unknown = inspect) => renderTemplate(t, data);

describe("Go template semantics", () => {
  it("prints values as Go's fmt does", () => {
    assert.equal(render("{{.State.Running}}"), "true");
    assert.equal(render("{{.State.Pid}}"), "4242");
    assert.equal(render("{{.HostConfig.Memory}}"), "33554432");
    assert.equal(render("{{.Config.Env}}"), "[PATH=/bin A=1]");
    assert.equal(render("{{.Config.Labels}}"), "map[com.example.vendor:ACME tier:1]");
    assert.equal(render("{{.Config.Entrypoint}}"), "<nil>");
    assert.equal(render("{{.HostConfig.PidsLimit}}"), "<nil>");
    assert.equal(render("{{.NoSuchField}}"), "<no value>", "a map's missing key");
    assert.equal(render("{{.Config.Labels.missing}}|"), "|", "a map of strings gives the zero string");
    assert.equal(render("{{index .Config.Labels \"com.example.vendor\"}}"), "ACME");
  });

  it("runs docker's documented inspect formats", () => {
    assert.equal(render("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"), "172.17.0.2");
    assert.equal(render("{{.LogPath}}"), "/var/lib/docker/containers/4fa6/4fa6-json.log");
    assert.equal(render("{{json .Config.Labels}}"), '{"com.example.vendor":"ACME","tier":"1"}');
    assert.equal(render("{{json .State.Running}}"), "true");
    assert.equal(render("{{.Name}}"), "/web");
    assert.equal(render("{{range $p, $conf := .NetworkSettings.Networks}}{{$p}} -> {{$conf.IPAddress}}{{end}}"), "bridge -> 172.17.0.2");
    assert.equal(render("{{range .Mounts}}{{.Name}}:{{.Destination}}{{if .RW}} rw{{end}}{{end}}"), "data:/data rw");
    assert.equal(render("{{join .Config.Cmd \" \"}}"), "sh -c sleep 9");
    assert.equal(render("{{upper .State.Status}} {{lower \"ABC\"}} {{title \"hello world\"}}"), "RUNNING abc Hello World");
    assert.equal(render("{{split \"a:b:c\" \":\"}}"), "[a b c]");
    assert.equal(render("{{len .Config.Env}} {{index .Config.Env 1}}"), "2 A=1");
  });

  it("prints an inspected object's nil slices and maps as docker's typed structs do: [] and map[], json null or left out", () => {
    const container = { Args: [], Config: { Cmd: ["true"], Entrypoint: null, Volumes: null, Labels: {} }, HostConfig: { Binds: null, LogConfig: { Type: "json-file" } } };
    const typed = withTypedNils("container", container);
    // Before: `<nil>` for a null slice or map, `<no value>` for the omitempty ExposedPorts the JSON leaves out.
    assert.equal(renderTemplate("{{.Config.Entrypoint}}|{{.HostConfig.Binds}}|{{.Config.Volumes}}|{{.Config.ExposedPorts}}|{{.HostConfig.LogConfig.Config}}|{{.Config.Cmd}}", typed), "[]|[]|map[]|map[]|map[]|[true]");
    assert.equal(renderTemplate("{{len .Config.Entrypoint}} {{if .HostConfig.Binds}}y{{else}}n{{end}} {{range .Config.ExposedPorts}}x{{end}}.", typed), "0 n .");
    assert.equal(renderTemplate("{{json .Config.Entrypoint}} {{json .Config.ExposedPorts}} {{json .Config.Labels}}", typed), "null null {}");
    // A whole struct's json is the JSON inspect prints: null fields stay null, absent ones stay absent.
    assert.equal(renderTemplate("{{json .Config}}", typed), JSON.stringify(container.Config));
    assert.equal(renderTemplate("{{json .}}", typed), JSON.stringify(container));
    assert.equal(JSON.stringify(container.Config), '{"Cmd":["true"],"Entrypoint":null,"Volumes":null,"Labels":{}}', "the inspected object is not changed");
    const image = withTypedNils("image", { RepoTags: ["busybox:latest"], Config: { Cmd: ["sh"] }, RootFS: { Type: "layers", Layers: ["sha256:a"] } });
    assert.equal(renderTemplate("{{.Config.Entrypoint}}|{{.Config.Labels}}|{{.RepoDigests}}|{{.RootFS.Layers}}", image), "[]|map[]|[]|[sha256:a]");
  });

  it("has if/else if/else, with, range/else, variables, break and trimming", () => {
    assert.equal(render('{{if eq .State.Status "exited"}}x{{else if .State.Running}}up{{else}}?{{end}}'), "up");
    assert.equal(render("{{with .HostConfig.RestartPolicy}}{{.Name}}/{{.MaximumRetryCount}}{{end}}"), "no/0");
    assert.equal(render("{{with .HostConfig.PidsLimit}}set{{else}}unset{{end}}"), "unset");
    assert.equal(render("{{range .HostConfig.Nothing}}x{{else}}empty{{end}}"), "empty");
    assert.equal(render("{{$n := .Name}}{{range .Config.Env}}{{$n}}{{end}}"), "/web/web");
    assert.equal(render("{{range $i, $e := .Config.Env}}{{if $i}},{{end}}{{$i}}={{$e}}{{end}}"), "0=PATH=/bin,1=A=1");
    assert.equal(render("{{range .Config.Env}}{{.}}{{break}}{{end}}"), "PATH=/bin");
    assert.equal(render("a  {{- /* comment */ -}}  b"), "ab");
    assert.equal(render("{{if and .State.Running (not .State.Paused)}}live{{end}}"), "live");
    assert.equal(render("{{if or .State.Paused (gt .State.Pid 1)}}ok{{end}}"), "ok");
    assert.equal(render("{{(index .Mounts 0).Name}}"), "data");
  });

  it("printf, print and pipelines", () => {
    assert.equal(render('{{printf "%s has pid %d" .Name .State.Pid}}'), "/web has pid 4242");
    assert.equal(render('{{.Name | printf "%q"}}'), '"/web"');
    assert.equal(render('{{printf "%-6s|%5s|%05d|%x|%.2f|%t|%v" "ab" "cd" 42 255 3.14159 true .Config.Env}}'), "ab    |   cd|00042|ff|3.14|true|[PATH=/bin A=1]");
    assert.equal(sprintf("%d %s", [1]), "1 %!s(MISSING)");
    // Go's escapers (text/template builtins).
    assert.equal(render(`{{html "<a href='x'>&\\"</a>"}}`), "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;");
    assert.equal(render(`{{js "a\\\\b'<=>\\n"}}`), "a\\\\b\\'\\u003C\\u003D\\u003E\\u000A");
    assert.equal(render('{{urlquery "a b/c?d=é&*~" 1 2}}'), "a+b%2Fc%3Fd%3D%C3%A9%26%2A~1+2");
    assert.equal(render('{{print "a" 1 2 "b"}}'), "a1 2b");
    assert.equal(render('{{pad "x" 1 2}}|{{truncate "abcdef" 3}}'), " x  |abc");
  });

  it("reports errors in Go's words", () => {
    const ctx = strictContext("*formatter.ContainerContext", { ID: "abc", Label: (k: unknown) => String(k) });
    assert.throws(() => renderTemplate("{{.Nope}}", ctx), /template: :1:2: executing "" at <\.Nope>: can't evaluate field Nope in type \*formatter\.ContainerContext/);
    assert.equal(renderTemplate('{{.Label "x"}}', ctx), "x");
    assert.throws(() => render("{{.Name"), /template parsing error: .*unclosed action/);
    assert.throws(() => render("{{if .Name}}x"), /unexpected EOF/);
    assert.throws(() => render("{{end}}"), /unexpected \{\{end\}\}/);
    assert.throws(() => render("{{nosuchfunc .Name}}"), /function "nosuchfunc" not defined/);
    assert.throws(() => render("{{.State.Pid.X}}"), /can't evaluate field X in type int/);
    assert.throws(() => render("{{index .Config.Env 9}}"), /index out of range: 9/);
  });
});

describe("listing output", () => {
  const defaults: FormatDefaults = {
    table: "table {{.ID}}\t{{.Image}}\t{{.Names}}",
    quiet: "{{.ID}}",
    typeName: "*formatter.ContainerContext",
    headers: { ID: "CONTAINER ID", Image: "IMAGE", Names: "NAMES", Label: (n: unknown) => String(n).toUpperCase() },
  };
  const rows = [
    strictContext(defaults.typeName, { ID: "4fa6e0f0c678", Image: "busybox", Names: "web", Label: () => "x" }),
    strictContext(defaults.typeName, { ID: "0123456789ab", Image: "registry.local/app:1", Names: "db", Label: () => "" }),
  ];
  const out = (format: string | undefined, quiet = false) => renderFormatted(rows, prepareFormat(format, defaults, quiet), defaults);

  it("aligns tables like docker (Go tabwriter: minwidth 10, padding 3)", () => {
    assert.equal(
      out(undefined),
      ["CONTAINER ID   IMAGE                  NAMES", "4fa6e0f0c678   busybox                web", "0123456789ab   registry.local/app:1   db", ""].join("\n"),
    );
    assert.equal(out("table {{.Names}}\\t{{.ID}}"), ["NAMES     CONTAINER ID", "web       4fa6e0f0c678", "db        0123456789ab", ""].join("\n"));
    assert.equal(out('table {{.Names}}\t{{.Label "tier"}}'), ["NAMES     TIER", "web       x", "db        ", ""].join("\n"), "Go pads a cell before an empty last one");
    assert.equal(tabwrite("a\tb\tc\nlonger-than-ten\tb\n"), "a                 b         c\nlonger-than-ten   b\n");
  });

  it("json, quiet and plain templates", () => {
    assert.equal(out("json").split("\n")[0], '{"ID":"4fa6e0f0c678","Image":"busybox","Names":"web"}');
    assert.equal(out(undefined, true), "4fa6e0f0c678\n0123456789ab\n");
    assert.equal(out("{{.Names}}: {{.Image}}"), "web: busybox\ndb: registry.local/app:1\n");
    assert.equal(out("table"), out(undefined));
    // `\t` typed inside a quoted string becomes a raw tab there too, which Go's lexer takes (a newline it does not).
    assert.equal(out('{{.Names}}{{"\\t"}}{{.Image}}'), "web\tbusybox\ndb\tregistry.local/app:1\n");
    assert.equal(out('{{printf "%s\\t%s" .Names .ID}}'), "web\t4fa6e0f0c678\ndb\t0123456789ab\n");
    assert.throws(() => out('{{"a\\nb"}}'), /unterminated quoted string|invalid syntax/);
  });

  it("docker's units", () => {
    assert.equal(humanDuration(500), "Less than a second");
    assert.equal(humanDuration(1000), "1 second");
    assert.equal(humanDuration(45_000), "45 seconds");
    assert.equal(humanDuration(61_000), "About a minute");
    assert.equal(humanDuration(5 * 60_000), "5 minutes");
    assert.equal(humanDuration(3_600_000), "About an hour");
    assert.equal(humanDuration(3 * 3_600_000), "3 hours");
    assert.equal(humanDuration(3 * 86_400_000), "3 days");
    assert.equal(humanSize(0), "0B");
    assert.equal(humanSize(1234), "1.23kB");
    assert.equal(humanSize(4_300_000), "4.3MB");
    assert.equal(bytesSize(0), "0B");
    assert.equal(bytesSize(616_448), "602KiB");
    assert.equal(bytesSize(25_277_000_000), "23.54GiB");
  });

  it("NET I/O from /proc/<pid>/net/dev: every interface but loopback", () => {
    const text = [
      "Inter-|   Receive                                                |  Transmit",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
      "    lo:    5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0",
      "  eth0:    1200      12    0    0    0     0          0         0      300       3    0    0    0     0       0          0",
      "  eth1:      34       1    0    0    0     0          0         0        6       1    0    0    0     0       0          0",
    ].join("\n");
    assert.deepEqual(parseNetDev(text), { rxBytes: 1234, txBytes: 306 });
  });

  it("docker's ps status texts", () => {
    const now = Date.parse("2024-05-01T10:00:10Z");
    const c = (state: Partial<ContainerInspect["State"]>) =>
      ({ State: { Status: "running", Running: false, Paused: false, Restarting: false, Dead: false, ExitCode: 0, StartedAt: "2024-05-01T10:00:05Z", FinishedAt: "0001-01-01T00:00:00Z", ...state } }) as ContainerInspect;
    assert.equal(statusText(c({ Running: true }), now), "Up 5 seconds");
    assert.equal(statusText(c({ Running: true, Paused: true }), now), "Up 5 seconds (Paused)");
    assert.equal(statusText(c({ Status: "created" }), now), "Created");
    assert.equal(statusText(c({ Status: "exited", ExitCode: 3, FinishedAt: "2024-05-01T09:58:10Z" }), now), "Exited (3) 2 minutes ago");
    assert.equal(statusText(c({ Status: "restarting", Restarting: true, ExitCode: 1, FinishedAt: "2024-05-01T10:00:07Z" }), now), "Restarting (1) 3 seconds ago");
    assert.equal(statusText(c({ Status: "restarting", Restarting: true, ExitCode: 1 }), now), "Restarting (1)");
    assert.throws(() => parseFilters(["status=sleeping"]), /invalid filter 'status=sleeping'/);
  });

  it("docker's ps PORTS: unpublished exposed ports too, runs grouped, other mappings last", () => {
    const bound = (HostIp: string, HostPort: string) => [{ HostIp, HostPort }];
    assert.equal(displayablePorts({ Ports: { "9000/tcp": null } }), "9000/tcp");
    assert.equal(displayablePorts({ Ports: { "80/tcp": bound("0.0.0.0", "8080"), "8443/tcp": null } }), "8443/tcp, 0.0.0.0:8080->80/tcp");
    assert.equal(displayablePorts({ Ports: { "81/tcp": bound("0.0.0.0", "81"), "80/tcp": bound("0.0.0.0", "80"), "53/udp": null, "54/udp": null, "56/udp": null } }), "53-54/udp, 56/udp, 0.0.0.0:80-81->80-81/tcp");
    assert.equal(displayablePorts({ Ports: { "80/tcp": bound("::", "8080") } }), "[::]:8080->80/tcp");
    assert.equal(displayablePorts({ Ports: {} }), "");
    assert.throws(() => parseFilters(["colour=red"]), /invalid filter 'colour'/);
  });
});

describe("data flags", () => {
  it("parses -v, --mount and --ulimit like docker", () => {
    assert.deepEqual(parseVolume("/h:/c:ro"), { host: "/h", container: "/c", readonly: true });
    assert.deepEqual(parseVolume("data:/c"), { volume: "data", container: "/c" });
    assert.deepEqual(parseVolume("/anon"), { container: "/anon" });
    assert.deepEqual(parseVolume("data:/c:nocopy,ro"), { volume: "data", container: "/c", noCopy: true, readonly: true });
    assert.deepEqual(parseVolume("/h:/c:ro,rslave"), { host: "/h", container: "/c", readonly: true, propagation: "rslave" });
    // Every option the parser takes is named (before: z/Z and cached/delegated/consistent were not).
    assert.throws(() => parseVolume("data:/c:rshared"), /unknown option "rshared" \(ro, rw, nocopy, z, Z, cached, delegated, consistent\)$/);
    assert.throws(() => parseVolume("/h:/c:bogus"), /unknown option "bogus" \(ro, rw, rro, private, rprivate, slave, rslave, shared, rshared, idmap, z, Z, cached, delegated, consistent\)$/);
    // docker's linuxValidMountMode: one option of each kind (before: the last one won, `ro,rw` a writable bind).
    for (const spec of ["/h:/c:ro,rw", "/h:/c:rw,ro", "/h:/c:z,Z", "/h:/c:rslave,private", "/h:/c:ro,ro", "/h:/c:cached,delegated", "data:/c:nocopy,nocopy", "data:/c:ro,rw", "/h:/c:rro,ro"]) {
      assert.throws(() => parseVolume(spec), new RegExp(`^UsageError: invalid volume ${spec}: invalid mode: ${spec.split(":")[2]} \\(at most one option of each kind: `), spec);
    }
    assert.deepEqual(parseVolume("/h:/c:ro,z,rslave,cached"), { host: "/h", container: "/c", readonly: true, propagation: "rslave" });
    // docker 25's rro: `--mount …,readonly,bind-recursive=readonly`, which needs rprivate.
    assert.deepEqual(parseVolume("/h:/c:rro"), { host: "/h", container: "/c", readonly: true, recursive: "readonly" });
    assert.deepEqual(parseVolume("/h:/c:rro,rprivate"), { host: "/h", container: "/c", readonly: true, recursive: "readonly", propagation: "rprivate" });
    assert.throws(() => parseVolume("/h:/c:rro,rslave"), /requires 'bind-propagation=rprivate'.*\(rro is bind-recursive=readonly\)$/);
    assert.throws(() => parseVolume("data:/c:rro"), /unknown option "rro"/);
    // podman's idmap (with --userns=auto): a bind's only; a volume is idmapped anyway.
    assert.deepEqual(parseVolume("/h:/c:idmap,ro"), { host: "/h", container: "/c", idmap: true, readonly: true });
    assert.throws(() => parseVolume("data:/c:idmap"), /unknown option "idmap"/);
    assert.throws(() => parseVolume("rel/x:/c"), /must be absolute/);
    assert.deepEqual(parseMount("type=bind,source=/h,target=/c,readonly"), { type: "bind", source: "/h", target: "/c", readonly: true });
    assert.deepEqual(parseMount("src=data,dst=/d,volume-nocopy,volume-label=a=b"), { type: "volume", source: "data", target: "/d", noCopy: true, labels: { a: "b" } });
    assert.deepEqual(parseMount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770"), { type: "tmpfs", target: "/t", size: 64 * 1024 * 1024, mode: 0o1770 });
    // docker's strconv.ParseUint(v, 8, 32): a leading 0, the sticky bit kept; more than 4 significant digits refused.
    assert.deepEqual(parseMount("type=tmpfs,target=/t,tmpfs-mode=01777"), { type: "tmpfs", target: "/t", mode: 0o1777 });
    assert.deepEqual(parseMount("type=tmpfs,target=/t,tmpfs-mode=0700"), { type: "tmpfs", target: "/t", mode: 0o700 });
    for (const bad of ["17777", "0x1ff", "8", ""]) assert.throws(() => parseMount(`type=tmpfs,target=/t,tmpfs-mode=${bad}`), /tmpfs-mode must be an octal mode of at most 07777/, bad);
    assert.throws(() => parseMount("type=bind,target=/c"), /needs a source/);
    assert.throws(() => parseMount("type=tmpfs,target=/t,bind-propagation=shared"), /unexpected key 'bind-propagation'/);
    assert.deepEqual(parseUlimit("nofile=1024:2048"), { name: "nofile", soft: 1024, hard: 2048 });
    assert.deepEqual(parseUlimit("nproc=-1"), { name: "nproc", soft: -1, hard: -1 });
    assert.throws(() => parseUlimit("nofile"), /invalid ulimit argument/);
    // Suffixes compose files carry, taken as docker on Linux takes them.
    assert.deepEqual(parseVolume("/h:/c:cached,z"), { host: "/h", container: "/c" });
    assert.deepEqual(parseVolume("/h:/c:rshared"), { host: "/h", container: "/c", propagation: "rshared" });
  });

  it("parses docker's everyday run flags: --net, --pull, --cidfile, --userns host, --security-opt label/apparmor, --dns checks", () => {
    const run = (...args: string[]) => {
      const r = parseRunArgs([...args, "busybox"], {});
      assert.notEqual(r, "help");
      return r as Exclude<typeof r, "help">;
    };
    assert.equal(run("--net", "none").options.network, "none");
    assert.equal(run("--pull", "never").options.pull, "never");
    assert.throws(() => run("--pull", "sometimes"), /invalid --pull sometimes: missing, always or never/);
    assert.equal(run("--cidfile", "/tmp/x").cidfile, "/tmp/x");
    assert.equal(run("--userns", "host").options.userns, undefined);
    assert.deepEqual(securityOptions(["label=disable", "apparmor=unconfined", "label:disable"]), {});
    assert.throws(() => securityOptions(["apparmor=docker-default"]), /invalid --security-opt apparmor=docker-default/);
    assert.deepEqual(run("--dns", "1.1.1.1", "--dns", "2001:db8::1").options.dns, ["1.1.1.1", "2001:db8::1"]);
    assert.throws(() => run("--dns", "notanip"), /invalid --dns notanip: not an IP address/);
    // docker's older --dns-opt, --cgroupns private (what tsbox does), --disable-content-trust (it checks no signatures).
    assert.deepEqual(run("--dns-option", "timeout:2", "--dns-opt", "ndots:3").options.dnsOptions, ["timeout:2", "ndots:3"]);
    assert.equal(run("--cgroupns", "private", "--disable-content-trust").options.image, "busybox");
    assert.throws(() => run("--cgroupns", "host"), /^UsageError: --cgroupns host is not supported: a tsbox container always has a cgroup namespace of its own \(docker's private\)$/);
    assert.throws(() => run("--cgroupns", "x"), /invalid --cgroupns x: private or host/);
    assert.throws(() => run("--disable-content-trust=false"), /--disable-content-trust=false: tsbox has no content trust/);
    // --log-driver: json-file and its aliases as it, none (no log; any --log-opt taken), others refused.
    assert.deepEqual(run("--log-driver", "none", "--log-opt", "tag=x").options.log, { driver: "none" });
    assert.equal(run("--log-driver", "local").options.log, undefined);
    assert.throws(() => run("--log-driver", "syslog"), /unsupported --log-driver syslog/);
    // --domainname and --mac-address reach the options (checked where they are used: ipc-pid.ts, network/plan.ts).
    assert.deepEqual([run("--domainname", "example.test").options.domainname, run("--mac-address", "02:42:ac:11:00:02").options.macAddress], ["example.test", "02:42:ac:11:00:02"]);
  });

  it("refuses an env or label file that is not UTF-8, naming the line (docker's parseKeyValueFile)", () => {
    const dir = mkdtempSync(join(tmpdir(), "kv-file-"));
    try {
      const file = join(dir, "vars.env");
      // A Latin-1 é on line 3: its bytes became U+FFFD in the container's variable, silently.
      writeFileSync(file, Buffer.concat([Buffer.from("\ufeffA=1\n# caf\u00e9\nB=caf"), Buffer.of(0xe9), Buffer.from("\nC=3\n")]));
      assert.throws(() => readKeyValueFile(file, "env"), (err: Error) => err instanceof UsageError && err.message === `env file ${file} contains invalid utf8 bytes at line 3`);
      assert.throws(() => readKeyValueFile(file, "label"), /label file .* contains invalid utf8 bytes at line 3$/);
      // UTF-8, a byte order mark and CRLF lines included, is read as it was.
      writeFileSync(file, "\ufeffA=1\r\n# caf\u00e9\n  B=caf\u00e9 \u65e5\u672c\n\nC=a=b\n");
      assert.deepEqual(readKeyValueFile(file, "env"), ["A=1", "B=caf\u00e9 \u65e5\u672c", "C=a=b"]);
      // A file that cannot be read says why in words, as docker's "open F: no such file or directory" (before: "ENOENT").
      assert.throws(() => readKeyValueFile(join(dir, "missing.env"), "env"), (err: Error) => err instanceof UsageError && err.message === `cannot read env file ${join(dir, "missing.env")}: no such file or directory`);
      assert.throws(() => readKeyValueFile(dir, "label"), /^UsageError: cannot read label file .*: illegal operation on a directory$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
