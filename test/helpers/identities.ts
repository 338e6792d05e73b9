/**
 * Who the tests run containers as. Every native feature is exercised as root
 * and as unprivileged users created here: `tsbox-test` has an /etc/subuid range
 * (id maps through newuidmap), `tsbox-single` is a system user without one
 * (the single-id mapping). When the suite itself runs unprivileged, the
 * invoking user is the only identity.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, chownSync, rmSync, chmodSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { removeTestCgroups } from "./cgroups.js";

export interface Identity {
  /** "root", "user" (subuid ranges) or "single" (one mapped id) */
  name: "root" | "user" | "single";
  uid: number;
  gid: number;
  /** A data dir owned by this identity, used as TSBOX_DATA_DIR. */
  dataDir: string;
  /** A scratch dir owned by this identity, for volumes. */
  scratch: string;
}

const isRoot = process.getuid!() === 0;

/** Creates the user when missing (a system user gets no /etc/subuid range); its uid and gid. */
export function ensureUser(name: string, system: boolean): { uid: number; gid: number } {
  ensureTunForUsers();
  try {
    execFileSync("id", ["-u", name], { stdio: "ignore" });
  } catch {
    // -r makes a system user: useradd gives it no /etc/subuid range.
    execFileSync("useradd", system ? ["-r", "-M", "-s", "/bin/sh", name] : ["-M", "-s", "/bin/sh", name], {
      stdio: "inherit",
    });
  }
  if (!system && !hasSubordinateIds(name)) {
    // useradd adds a range only where /etc/subuid already exists: make sure.
    execFileSync("usermod", ["--add-subuids", "200000-265535", "--add-subgids", "200000-265535", name], { stdio: "inherit" });
  }
  const uid = Number(execFileSync("id", ["-u", name]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", name]).toString().trim());
  return { uid, gid };
}

/**
 * Rootless bridge networking (pasta, slirp4netns) opens /dev/net/tun as the
 * user. Distributions ship it 0666 (udev); where it is 0600 (a fresh machine
 * here was) tsbox warns and runs with `--network none`, and every rootless
 * network test fails: the test users get the usual mode, with a notice.
 */
function ensureTunForUsers(): void {
  try {
    const mode = statSync("/dev/net/tun").mode & 0o777;
    if (mode === 0o666) return;
    process.stderr.write(`# test set-up: /dev/net/tun is ${mode.toString(8)}: making it 0666, as distributions ship it, for the unprivileged test users\n`);
    chmodSync("/dev/net/tun", 0o666);
  } catch {
    // no tun device: the networking tests report what the host lacks
  }
}

function hasSubordinateIds(name: string): boolean {
  const listed = (file: string) => {
    try {
      return readFileSync(file, "utf8").split("\n").some((line) => line.startsWith(`${name}:`));
    } catch {
      return false;
    }
  };
  return listed("/etc/subuid") && listed("/etc/subgid");
}

function ownedDir(prefix: string, uid: number, gid: number): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * The unprivileged users run this checkout's bin/tsbox.js and native builds:
 * every directory above it must be searchable by them. A clone under a
 * private home (mode 0700) is not, so the search bit is added, with a notice.
 */
function ensureCheckoutReachable(): void {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  for (let dir = repo; ; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      process.stderr.write(`# test set-up: adding o+x to ${dir} so the unprivileged test users can reach the checkout\n`);
      chmodSync(dir, (mode & 0o7777) | 0o001);
    }
    if (dirname(dir) === dir) break;
  }
}

/**
 * The identities a suite that both backends run (exec, isolation, security, cgroups) runs as. Under the vm backend
 * (TSBOX_BACKEND=vm) that is "user" only: the vm backend's users are on macOS, Windows and in browsers, never root,
 * and a host user without subordinate ids is given the guest range a user with them has
 * (src/backends/vm/node/guest-ids.ts), so the guest takes the same path for both. A single-id user's host side (its
 * layers' owners, 9p) is vm-rootless's and vm-layers'. Linux root's vm containers are the guest's own root, in no
 * user namespace: `guestRoot` keeps root for a suite about what such a root can do (security's escapes); the rest
 * of its path is vm.test.ts's, vm-lifecycle's and vm-network's. (CI time: the vm lane is one of its two long paths;
 * root's runs of exec, isolation and cgroups were ≈ 5 of its 37 minutes on a slow machine, stop 67.)
 */
export function sharedSuiteIdentities(options: { guestRoot?: boolean } = {}): Identity[] {
  if (process.env.TSBOX_BACKEND !== "vm") return identities();
  return identities().filter((w) => w.name === "user" || (options.guestRoot && w.name === "root"));
}

/**
 * `it` options for a test whose subject no id mapping changes (the CLI's verbs and flags, the monitor, logs,
 * networks, archives' formats): it runs as root and as "user" (the rootless headline), and skips "single", whose
 * container is set up by the same code as user's once its one id is mapped. Every test where ids matter (owners,
 * chown, -u, layers, volumes, the user namespace's set-up and teardown) keeps running as single. (CI time, stop 67:
 * single's runs were 28 of the native lane's 96 minutes of files, on a slow machine.)
 */
export function notAsSingle(who: Identity): { skip?: string } {
  return who.name === "single" ? { skip: "no id-specific path: run as root and user" } : {};
}

let cached: Identity[] | undefined;

/** The identities to test with; their dirs are removed by `cleanupIdentities`. */
export function identities(): Identity[] {
  if (cached) return cached;
  const list: { name: Identity["name"]; uid: number; gid: number }[] = [];
  if (isRoot) {
    ensureCheckoutReachable();
    list.push({ name: "root", uid: 0, gid: 0 });
    list.push({ name: "user", ...ensureUser("tsbox-test", false) });
    list.push({ name: "single", ...ensureUser("tsbox-single", true) });
  } else {
    list.push({ name: "user", uid: process.getuid!(), gid: process.getgid!() });
  }
  cached = list.map((who) => ({
    ...who,
    dataDir: ownedDir(`tsbox-data-${who.name}-`, who.uid, who.gid),
    scratch: ownedDir(`tsbox-scratch-${who.name}-`, who.uid, who.gid),
  }));
  return cached;
}

export function cleanupIdentities(): void {
  if (isRoot) removeTestCgroups();
  for (const who of cached ?? []) {
    rmSync(who.dataDir, { recursive: true, force: true });
    rmSync(who.scratch, { recursive: true, force: true });
  }
  cached = undefined;
}

/** A fresh, empty data dir for one test, owned by `who`, as the environment that selects it. */
export function freshStore(who: Identity): Record<string, string> {
  const dir = join(who.scratch, `store-${Math.random().toString(16).slice(2)}`);
  mkdirSync(dir);
  chownSync(dir, who.uid, who.gid);
  return { TSBOX_DATA_DIR: dir };
}
