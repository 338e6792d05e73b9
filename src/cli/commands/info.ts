import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, hostname, machine, release, totalmem } from "node:os";
import { addonPath, loadAddon } from "../../backends/native/addon.js";
import { findRuntimeBinary, runtimeBinaryCandidates } from "../../backends/native/runtime-binary.js";
import { chooseBackend } from "../../backends/select.js";
import { loadVmImages, v86Version } from "../../backends/vm/node/images.js";
import { errorMessage, UsageError } from "../../errors.js";
import { missingNativeParts, nativePackageName } from "../../parts.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import { type HostIdentity, type IdRange, idMappings, isHostRoot, listedRanges, overlapWarning, probeHostIdentity, rangeUnusedWarning, rootlessNetworking, subordinateIdAdvice, userForAdmin } from "../../spec/id-mappings.js";
import type { IdMapping } from "../../spec/container-spec.js";
import { NESTED_ROOT } from "../../spec/nested-root.js";
import { ID_HELPERS_PACKAGE, missingIdHelpers } from "../../spec/id-helpers.js";
import { idMapsChange } from "../../containers/id-record.js";
import { guestIdentity, guestIdMappings } from "../../backends/vm/node/guest-ids.js";
import { tsboxVersion } from "../../version.js";
import { type CliContext, cliWarning } from "../context.js";
import { lastValue, parseFlags } from "../flags.js";
import { hostChecks } from "../host-checks.js";
import { hintedMessage } from "../error-hints.js";
import { checkOverlayBacking, openDataDir } from "../../data-dir.js";
import { hostLoopbackClause, hostLoopbackSetting, networkLines, networkReport } from "../../network/host-report.js";
import { rootlessNetnsDir } from "../../network/rootless.js";
import { runningNestHolder } from "../../backends/native/nest-holder.js";

const USAGE = `Usage: tsbox info [--json | -f TEMPLATE | -f json]

Show the backend, its helper binaries, the data dir and what this host allows.
Templates also see docker's names: {{.ServerVersion}}, {{.KernelVersion}},
{{.Architecture}}, {{.NCPU}}, {{.MemTotal}}, {{.CgroupVersion}}, {{.CgroupDriver}},
{{.OperatingSystem}}, {{.OSVersion}}, {{.SecurityOptions}}, {{.DockerRootDir}}, …
`;

export async function infoCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "json" }, { name: "format", short: "f", value: true }, { name: "backend", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox info" takes no arguments`);

  const identity = probeHostIdentity();
  const backend = backendInfo(flags.values.get("backend")?.at(-1), ctx.env);
  // A vm container's ids are the guest's (backends/vm/node/guest-ids.ts): a range even where the host gives none.
  const vm = backend.backend === "vm";
  const maps = vm ? guestIdMappings(identity) : idMappings(identity);
  // The host's namespaces, cgroups and id ranges matter to the native backend only, which needs Linux.
  const linux = process.platform === "linux";
  const checks = linux ? hostChecks(identity.uid) : { kernel: `${process.platform} ${release()}`, cgroup: "n/a (not Linux)", overlayfs: false, warnings: [] };
  const warnings = [...checks.warnings];
  const runtime = findRuntimeBinary(ctx.env);
  // One warning for missing native parts, and none where the native backend cannot be (not Linux, no build for this CPU).
  const nativePossible = nativePackageName() !== undefined;
  const candidates = runtimeBinaryCandidates(ctx.env);
  if (!runtime && nativePossible) warnings.push(`the native backend is unavailable: ${missingNativeParts()}${candidates.length > 0 ? ` (no tsbox-runtime at ${candidates.join(", ")})` : ""}`);
  let addon: { path: string | null; version: string | null; error: string | null };
  try {
    addon = { path: addonPath() ?? null, version: (await loadAddon()).version(), error: null };
  } catch (err) {
    addon = { path: addonPath() ?? null, version: null, error: errorMessage(err) };
    if (runtime) warnings.push(`${errorMessage(err)} (needed for -t)`);
  }
  // The diagnosis goes on when the data dir cannot be used (another user's, not writable): that is one of its lines.
  let dataDir = defaultDataDir(ctx.env);
  let usable = true;
  try {
    dataDir = openDataDir(dataDir);
  } catch (err) {
    usable = false;
    warnings.push(hintedMessage(err, ctx.env));
  }
  // What containers will mount: an overlay on the data dir's file system, not $TMPDIR's (the probe's scratch).
  if (usable && linux && !vm && runtime) {
    try {
      checkOverlayBacking(dataDir, !isHostRoot(identity));
    } catch (err) {
      warnings.push(errorMessage(err));
    }
  }
  const probe = runtime ? runProbe(runtime, usable ? dataDir : undefined) : null;
  if (probe?.error) warnings.push(`tsbox-runtime probe failed: ${probe.error}`);
  // The automatic choice reads sysctls (and forks only on a sign of trouble): where the probe, which tries, finds
  // otherwise, the line says what the probe found rather than contradict it two lines below.
  const refused = (probe?.result as { userns?: boolean; usernsError?: string | null } | null | undefined)?.usernsError;
  if (backend.backend === "native" && backend.backendReason.startsWith("automatic") && refused) {
    backend.backendReason = `automatic, but creating a user namespace fails here: ${refused}`;
    warnings.push(`native containers cannot start here: creating a user namespace fails: ${refused}`);
  }
  // The host's cgroups and networking serve native containers; a vm container's are the guest's (its cgroup2 always
  // has every controller; its bridges are the guest's own), so under the vm backend the host's lines would mislead.
  // The cgroup layout as tsbox-runtime sees it (native-rs/container/src/cgroups/layout.rs).
  const hostCgroup = (probe?.result as { cgroup?: string } | null)?.cgroup ?? "unknown";
  const cgroups = vm ? { lines: ["cgroups:       the guest's cgroup2: limits, stats and pause of vm containers"] } : cgroupLines(probe?.result, isHostRoot(identity), hostCgroup);
  if (cgroups.warning) warnings.push(cgroups.warning);
  const hostReport = networkReport(rootlessNetworking(identity), ctx.env, usable ? rootlessNetnsDir(dataDir) : undefined);
  // A vm container's way out is this host's whoever runs it: the setting is the user's, root's too.
  const network = vm ? { ...hostReport, hostLoopback: hostLoopbackSetting(ctx.env) } : hostReport;
  const networkLine = vm
    ? { line: `network:       the guest's bridges and DNS between containers; published ports (-p) listen on this host; outbound TCP and DNS go through this host; ${hostLoopbackClause(ctx.env)}` }
    : networkLines(network, rootlessNetworking(identity), ctx.env);
  if (linux && networkLine.warning) warnings.push(networkLine.warning);
  const rangeState = linux && !vm && identity.uid !== 0 ? subordinateIdState(identity, (probe?.result as { idHelpers?: string | null } | null)?.idHelpers) : undefined;
  warnings.push(...(rangeState?.warnings ?? []));
  const idChange = linux && !vm && usable ? idMapsChange(dataDir, identity) : undefined;
  if (idChange) warnings.push(idChange);
  if (linux && !vm && identity.uid !== 0 && usable) {
    const cutOff = await new Runtime({ dataDir }).cutOffContainers();
    if (cutOff.length > 0) {
      warnings.push(
        `the rootless network's helper (pasta/slirp4netns and its netns holder) died under running containers: ${cutOff.join(", ")} ` +
          "have no network, and no rootless container can join a network until they are gone: stop them all, then start them again",
      );
    }
  }

  // The process a rootless user's one-shot runs leave behind on purpose (README "Rootless"): named, not a mystery in ps.
  const nestHolder = linux && !vm && identity.uid !== 0 && usable ? runningNestHolder(dataDir) : null;

  const info = {
    version: tsboxVersion(),
    ...backend,
    runtime: runtime ?? null,
    addon,
    uid: identity.uid,
    gid: identity.gid,
    rootless: identity.uid !== 0,
    // Root, but of a user namespace inside a container (spec/nested-root.ts): the rootless paths where root's need the host's.
    nestedRoot: identity.nested !== undefined,
    idMapping: rangeState?.line ?? idMappingLine(identity, vm),
    uidMappings: maps.uidMappings,
    gidMappings: maps.gidMappings,
    dataDir,
    kernel: checks.kernel ?? null,
    // The host's, or the guest's (v2).
    cgroup: vm ? "v2" : hostCgroup,
    // What containers run on: the guest's Linux under the vm backend, as Docker Desktop reports its VM's.
    containerKernel: vm ? backend.guest : null,
    probe: probe?.result ?? null,
    network,
    nestHolder,
    warnings,
  };
  // What scripts read: tsbox's fields, then docker's names for the same host.
  const machineReadable = { ...info, ...dockerInfo(info) };
  const format = lastValue(flags, "format");
  if (format !== undefined) {
    const { formatTemplate, renderTemplate, strictContext } = await import("../format-template-exec.js");
    // docker's system.Info is a struct: a field it does not have (a typo) is an error, not "<no value>".
    const fields = { ...machineReadable, ...(usable ? await dockerCounts(new Runtime({ dataDir })) : {}) };
    ctx.stdout.write(renderTemplate(formatTemplate(format), strictContext("system.Info", fields)) + "\n");
    return 0;
  }
  if (flags.bools.has("json")) {
    ctx.stdout.write(JSON.stringify(machineReadable, null, 2) + "\n");
    return 0;
  }
  const lines = [
    `tsbox:         ${info.version}`,
    `backend:       ${info.backend} (${info.backendReason})`,
    `vm image:      ${info.vmImage}`,
    `runtime:       ${info.runtime ?? "not found"}`,
    `addon:         ${addon.version ? `${addon.path} (${addon.version})` : "not loaded"}`,
    `user:          uid ${info.uid}, gid ${info.gid}${info.rootless ? " (rootless)" : info.nestedRoot ? ` (${NESTED_ROOT})` : ""}`,
    `id mapping:    ${info.idMapping}`,
    `data dir:      ${info.dataDir}`,
    ...(info.containerKernel
      ? [`kernel:        ${info.containerKernel.kernel} ${info.containerKernel.arch} (the guest's; this host: ${info.kernel ?? "unknown"})`]
      : [`kernel:        ${info.kernel ?? "unknown"}`]),
    `cgroup:        ${info.cgroup}`,
    ...cgroups.lines,
    networkLine.line,
    ...(nestHolder
      ? [`nest holder:   process ${nestHolder.pid}, the user namespace of this data dir's id maps that runs join (leaves after TSBOX_NEST_IDLE s unused, default 60)`]
      : []),
  ];
  if (probe?.result !== undefined && probe.result !== null) {
    // Its cgroups part is summarised above (--json has it all).
    const { cgroups: _summarised, ...rest } = probe.result as Record<string, unknown>;
    lines.push("host probe:", ...formatProbe(typeof probe.result === "object" ? rest : probe.result));
  }
  ctx.stdout.write(lines.join("\n") + "\n");
  for (const w of warnings) cliWarning(ctx)(w);
  return 0;
}

interface CgroupReport {
  controllers: Record<string, { root: boolean; user: boolean }>;
  userCgroups: string[];
  userReason: string | null;
}

/** The probe's per-controller cgroup report as text: what root gets, what this user gets. */
function cgroupLines(probe: unknown, hostRoot: boolean, layout: string): { lines: string[]; warning?: string } {
  const report = (probe as { cgroups?: CgroupReport } | null)?.cgroups;
  if (!report) return { lines: [] };
  const names = (pick: (c: { root: boolean; user: boolean }) => boolean) =>
    Object.entries(report.controllers)
      .filter(([, c]) => pick(c))
      .map(([n]) => n)
      .join(" ") || "none";
  const lines = [`cgroups root:  ${names((c) => c.root)}`];
  // Root inside a container gets a cgroup only where one is delegated to it, as a rootless user.
  if (!hostRoot) {
    const mine = names((c) => c.user);
    lines.push(`cgroups you:   ${mine}${report.userCgroups.length > 0 ? ` (in ${report.userCgroups.join(", ")})` : report.userReason ? ` (${report.userReason})` : ""}`);
    if (mine === "none") {
      return {
        lines,
        warning: `${report.userReason ?? "no cgroup is delegated to this user"}: containers run without resource limits (-m, --cpus, --pids-limit, …), stats and pause; ${delegationHint(layout)}`,
      };
    }
  }
  return { lines };
}

/**
 * How a user gets a cgroup of its own. systemd delegates only cgroup v2 to a user (its v1 controllers are never
 * delegated): on a v1 or hybrid host, root gives the user a directory of each controller's hierarchy, or the host
 * boots with the unified hierarchy (README "Rootless").
 */
function delegationHint(layout: string): string {
  if (layout !== "v1" && layout !== "hybrid") return "a systemd user session with Delegate=yes gives one on a cgroup v2 host (systemd-run --user --scope, or user@.service)";
  return `on a ${layout} host systemd delegates no v1 controller to a user: root can give this user its own cgroup of each controller (chown the directories /proc/self/cgroup names, with their cgroup.procs), or the host can boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)`;
}

/**
 * A rootless user's ranges as the native backend gets them, and what is wrong: which of /etc/subuid, /etc/subgid
 * and the helpers is missing (adding a second range helps none of them), or helpers that cannot apply the range.
 */
function subordinateIdState(identity: HostIdentity, helperProblems: string | null | undefined): { line: string; warnings: string[] } {
  const listed = listedRanges(identity.uid);
  const only0 = "containers have only uid 0 (-u with another id fails)";
  if (identity.subuid) {
    const line = idMappingLine(identity, false);
    const small = Math.min(identity.subuid.count, identity.subgid!.count) < 65_536;
    const narrow = small ? `your subordinate range (${shownRange(identity.subuid)} uids, ${shownRange(identity.subgid!)} gids) has fewer than 65536 ids: files and users of images past it (nobody is 65534) fail or become root's; an administrator can widen it in /etc/subuid and /etc/subgid` : undefined;
    return { line, warnings: [helperProblems, narrow, overlapWarning(identity)].filter((w): w is string => Boolean(w)) };
  }
  if (listed.subuid && listed.subgid && identity.rangeUnused?.cause === "no-new-privs") {
    return { line: `single id (/etc/subuid gives ${shownRange(listed.subuid)}, but no_new_privs is set)`, warnings: [rangeUnusedWarning(identity)!] };
  }
  const missing = missingIdHelpers();
  if (listed.subuid && listed.subgid) {
    const absent = `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not installed`;
    return { line: `single id (/etc/subuid gives ${shownRange(listed.subuid)}, but ${absent})`, warnings: [`${absent}: ${only0}; install ${missing.length > 1 ? "them" : "it"} (${ID_HELPERS_PACKAGE}) to use your range`] };
  }
  const [has, lacks, flag] = listed.subuid ? (["/etc/subuid", "/etc/subgid", "--add-subgids"] as const) : (["/etc/subgid", "/etc/subuid", "--add-subuids"] as const);
  const range = listed.subuid ?? listed.subgid;
  if (range) {
    return {
      line: `single id (${has} gives ${shownRange(range)}, but ${lacks} has no range for this user)`,
      warnings: [`no ${lacks} range for this user, though ${has} has one: ${only0}; an administrator can add the same one with: usermod ${flag} ${range.start}-${range.start + range.count - 1} ${userForAdmin()}`],
    };
  }
  return {
    line: idMappingLine(identity, false),
    warnings: [`no /etc/subuid and /etc/subgid range for this user: ${only0}; an administrator can add one with: ${subordinateIdAdvice()}`],
  };
}

function shownRange(r: IdRange): string {
  return `${r.start}+${r.count}`;
}

/** Whose ids a container's user namespace maps, as `info` says it. */
function idMappingLine(identity: HostIdentity, vm: boolean): string {
  if (identity.nested) {
    const shown = (maps: IdMapping[]) => maps.map((m) => `${m.containerID}+${m.size}`).join(", ");
    return `identity over this namespace's uids ${shown(identity.nested.uids)}, gids ${shown(identity.nested.gids)} (root of a user namespace: an image's other ids become root's; no device nodes)`;
  }
  if (identity.uid === 0) return "identity (root)";
  if (identity.subuid) return `subordinate ids ${identity.subuid.start}+${identity.subuid.count} via newuidmap`;
  if (!vm) return "single id (no /etc/subuid range)";
  const guest = guestIdentity(identity).subuid!;
  return `the guest's ids ${guest.start}+${guest.count} (vm backend; this host gives the user no /etc/subuid range)`;
}

/** Which backend `tsbox run` would use here, and why; whether the vm guest image is built, and the guest's Linux. */
function backendInfo(requested: string | undefined, env: NodeJS.ProcessEnv): { backend: string; backendReason: string; vmImage: string; guest: { kernel: string; arch: string } | null } {
  const choice = chooseBackend(requested, env);
  let vmImage: string;
  let guest: { kernel: string; arch: string } | null = null;
  try {
    const images = loadVmImages(env);
    vmImage = `${images.dir} (guest ${images.manifest.imageId.slice(0, 12)}, v86 ${v86Version()})`;
    // The kernel is built from Debian's linux-source with no local version: its release is the upstream part.
    const source = Object.entries(images.manifest.packages).find(([name]) => name.startsWith("linux-source"))?.[1];
    guest = { kernel: source?.replace(/-[^-]*$/, "") ?? "unknown", arch: images.manifest.arch === "386" ? "i686" : images.manifest.arch };
  } catch (err) {
    vmImage = `not usable: ${errorMessage(err)}`;
  }
  return { backend: choice.name, backendReason: choice.reason, vmImage, guest };
}

/** `tsbox-runtime probe`: JSON when it can, else its text. */
function runProbe(binary: string, dataDir: string | undefined): { result: unknown; error: string | null } {
  const r = spawnSync(binary, ["probe"], { encoding: "utf8", timeout: 10_000, ...(dataDir ? { env: { ...process.env, TMPDIR: dataDir } } : {}) });
  if (r.error) return { result: null, error: r.error.message };
  const out = r.stdout.trim();
  if (r.status !== 0 && out === "") return { result: null, error: r.stderr.trim() || `exit code ${r.status}` };
  try {
    return { result: JSON.parse(out), error: null };
  } catch {
    return { result: out, error: null };
  }
}

/** docker info's counts (`docker info -f '{{.ContainersRunning}}'`): containers by state, images (one per id). */
async function dockerCounts(runtime: Runtime): Promise<Record<string, number>> {
  const states = await runtime.containers({ all: true });
  const running = states.filter((c) => c.status === "running" || c.status === "restarting").length;
  const paused = states.filter((c) => c.status === "paused").length;
  const images = new Set((await runtime.images()).map((i) => i.id)).size;
  return { Containers: states.length, ContainersRunning: running, ContainersPaused: paused, ContainersStopped: states.length - running - paused, Images: images };
}

/** docker info's names for what scripts ask of it (`docker info -f '{{.CgroupVersion}}'`): daemonless, the server is this tsbox. */
function dockerInfo(info: { version: string; kernel: string | null; containerKernel: { kernel: string; arch: string } | null; cgroup: string; dataDir: string; rootless: boolean; probe: unknown }): Record<string, unknown> {
  // What containers run on: the guest under the vm backend (Docker Desktop names its VM the same way).
  const os = info.containerKernel ? { name: "tsbox vm guest", version: "" } : osRelease();
  return {
    OperatingSystem: os.name,
    OSVersion: os.version,
    ServerVersion: info.version,
    OSType: "linux",
    KernelVersion: info.containerKernel?.kernel ?? info.kernel ?? release(),
    Architecture: info.containerKernel?.arch ?? machine(),
    NCPU: availableParallelism(),
    MemTotal: totalmem(),
    Name: hostname(),
    DockerRootDir: info.dataDir,
    Driver: "overlay",
    // docker says 1 on a hybrid host too: its controllers are v1's.
    CgroupVersion: info.cgroup === "v2" ? "2" : info.cgroup === "v1" || info.cgroup === "hybrid" ? "1" : "",
    // tsbox-runtime writes the cgroup files itself (docker's "cgroupfs"); rootless without a delegated cgroup, "none" as docker's.
    CgroupDriver: info.containerKernel || usableControllers(info.probe) ? "cgroupfs" : "none",
    LoggingDriver: "json-file",
    DefaultRuntime: "tsbox-runtime",
    // Every container gets docker's seccomp filter and its own cgroup namespace unless a flag says otherwise.
    SecurityOptions: ["name=seccomp,profile=builtin", ...(info.rootless ? ["name=rootless"] : []), "name=cgroupns"],
  };
}

/** Whether this user can limit containers: any controller the probe found usable (tsbox-runtime's `probe`). */
function usableControllers(probe: unknown): boolean {
  const controllers = (probe as { cgroups?: { controllers?: Record<string, { user?: boolean }> } } | null)?.cgroups?.controllers ?? {};
  return Object.values(controllers).some((c) => c.user === true);
}

/** The host's name and version as docker reads them: /etc/os-release's PRETTY_NAME and VERSION_ID. */
function osRelease(): { name: string; version: string } {
  let text = "";
  for (const file of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      text = readFileSync(file, "utf8");
      break;
    } catch {
      // the next one, as systemd's os-release(5) says
    }
  }
  const field = (key: string) => /^(?:"(.*)"|'(.*)'|(.*))$/.exec(new RegExp(`^${key}=(.*)$`, "m").exec(text)?.[1]?.trim() ?? "")!.slice(1).find((v) => v !== undefined) ?? "";
  return { name: field("PRETTY_NAME") || (process.platform === "linux" ? "Linux" : process.platform), version: field("VERSION_ID") };
}

function formatProbe(result: unknown, indent = "  "): string[] {
  if (typeof result !== "object" || result === null) return String(result).split("\n").map((l) => indent + l);
  return Object.entries(result as Record<string, unknown>).flatMap(([key, value]) =>
    typeof value === "object" && value !== null && !Array.isArray(value) ? [`${indent}${key}:`, ...formatProbe(value, indent + "  ")] : [`${indent}${key}: ${JSON.stringify(value)}`],
  );
}
