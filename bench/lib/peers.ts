/**
 * What the benchmarks that compare tsbox with its peers share: a work dir
 * (anything a peer left mounted in it is unmounted at exit), the users to
 * measure as, running a command line as one of them, podman's configuration
 * for this host, and crun's hybrid-cgroup workaround.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureUser } from "../../test/helpers/identities.js";

export const isRoot = process.getuid!() === 0;

export interface Who {
  name: "root" | "user";
  uid: number;
  gid: number;
  home: string;
}

/** A fresh dir under /tmp, removed (after unmounting what peers left in it) when the process exits. */
export function benchWorkDir(): string {
  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-"));
  chmodSync(work, 0o755);
  process.on("exit", () => {
    if (isRoot) {
      const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "");
      for (const m of mounts.filter((m) => m.startsWith(work)).reverse()) spawnSync("umount", ["-l", m]);
    }
    rmSync(work, { recursive: true, force: true });
  });
  return work;
}

/** root (when we are) and the unprivileged test user (when `user`, always when we are not root). */
export function benchPeople(work: string, user: boolean): Who[] {
  const people: Who[] = [];
  if (isRoot) people.push({ name: "root", uid: 0, gid: 0, home: join(work, "root") });
  if (!isRoot || user) {
    const ids = isRoot ? ensureUser("tsbox-test", false) : { uid: process.getuid!(), gid: process.getgid!() };
    people.push({ name: "user", ...ids, home: join(work, "user") });
  }
  return people;
}

/** argv prefix that runs a command as `who` with a clean, predictable env. */
export function asWho(who: Who, argv: string[]): string[] {
  // --network none like the peers' configs (an empty network namespace); bench/net.ts times networks.
  const env = ["env", "-i", `PATH=${process.env.PATH}`, `HOME=${who.home}`, `TSBOX_DATA_DIR=${join(who.home, "data")}`, `XDG_RUNTIME_DIR=${join(who.home, "xdg")}`, "TSBOX_NETWORK=none"];
  if (!isRoot || who.uid === 0) return [...env, ...argv];
  return ["setpriv", `--reuid=${who.uid}`, `--regid=${who.gid}`, "--init-groups", "--", ...env, ...argv];
}

export function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/**
 * podman on this host: cgroupfs and file events (no systemd), runc (its
 * default crun refuses the hybrid cgroup host), no default ulimits. Returns
 * the argv prefix of a podman with its own storage under `who`'s home.
 */
export function podmanArgv(who: Who): string[] {
  const conf = join(who.home, "containers.conf");
  writeFileSync(conf, '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[containers]\ndefault_ulimits = []\n');
  chmodSync(conf, 0o644);
  return ["env", `CONTAINERS_CONF=${conf}`, "podman", "--root", join(who.home, "podman"), "--runroot", join(who.home, "podman-run"), "--runtime", "runc"];
}

/** podman's overlay storage stays mounted and rootless podman keeps a pause process: both go. */
export function resetPodman(who: Who, podman: string[]): void {
  const argv = asWho(who, [...podman, "system", "reset", "--force"]);
  spawnSync(argv[0]!, argv.slice(1), { stdio: "ignore" });
  const pausePid = join(who.home, "xdg", "libpod", "tmp", "pause.pid");
  if (existsSync(pausePid)) spawnSync("kill", [readFileSync(pausePid, "utf8").trim()]);
}

/** crun refuses a hybrid cgroup host unless the unified hierarchy's controllers file looks empty. */
export function hideUnifiedCgroup(work: string, argv: string[]): string[] {
  const ctl = "/sys/fs/cgroup/unified/cgroup.controllers";
  if (!isRoot || !existsSync(ctl)) return argv;
  const empty = join(work, "empty");
  writeFileSync(empty, "");
  return ["unshare", "-m", "--propagation", "private", "sh", "-c", `mount --bind ${empty} ${ctl} && exec "$@"`, "sh", ...argv];
}

/**
 * An OCI bundle for crun/runc over `rootfs` running `args`, with the same
 * namespaces as tsbox (user, pid, mount, uts, ipc, network, cgroup) and
 * `who`'s id map (a range as root, one id rootless), owned by `who`.
 */
export function peerBundle(who: Who, bundle: string, rootfs: string, args: string[]): void {
  // Its `spec` writes the bundle's config: without it the bench would fail on a missing config.json.
  if (!have("crun")) throw new Error("crun is not installed: `scripts/setup.sh --bench` installs the bench's peers");
  spawnSync("mkdir", ["-p", bundle]);
  spawnSync("chown", ["-R", `${who.uid}:${who.gid}`, bundle]);
  const specArgv = asWho(who, ["sh", "-c", `cd ${bundle} && crun spec ${who.uid === 0 ? "" : "--rootless"}`]);
  spawnSync(specArgv[0]!, specArgv.slice(1), { stdio: "ignore" });
  const cfg = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
  cfg.root = { path: rootfs, readonly: false };
  cfg.process.args = args;
  cfg.process.terminal = false;
  const ns: { type: string }[] = cfg.linux.namespaces;
  for (const type of ["user", "cgroup", "network"]) if (!ns.some((n) => n.type === type)) ns.push({ type });
  const size = who.uid === 0 ? 65536 : 1;
  cfg.linux.uidMappings = [{ containerID: 0, hostID: who.uid, size }];
  cfg.linux.gidMappings = [{ containerID: 0, hostID: who.gid, size }];
  cfg.mounts = cfg.mounts.filter((m: { destination: string }) => m.destination !== "/sys/fs/cgroup");
  writeFileSync(join(bundle, "config.json"), JSON.stringify(cfg, null, 2));
  spawnSync("chown", ["-R", `${who.uid}:${who.gid}`, bundle]);
}
