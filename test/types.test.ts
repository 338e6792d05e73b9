/**
 * The published declarations as a user's TypeScript project meets them:
 * `strict`, `skipLibCheck: false`, and no `types` listed (TypeScript 6's
 * default is none): the README's library example must compile, with
 * @types/node found through tsbox's own reference to it (before stop 40,
 * ~40 errors inside dist/*.d.ts: `node:stream`, `NodeJS`, `Buffer`).
 * No containers: `tsc` on dist/ as `npm run build:ts` made it.
 */
import { it, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../src/package-root.js";

const project = mkdtempSync(join(tmpdir(), "tsbox-types-"));
after(() => rmSync(project, { recursive: true, force: true }));

it("a strict project with no `types` compiles the README's library example against dist/*.d.ts", () => {
  mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
  symlinkSync(packageRoot(), join(project, "node_modules", "tsbox"));
  symlinkSync(join(packageRoot(), "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module" }));
  const compilerOptions = { target: "es2022", module: "nodenext", strict: true, noEmit: true, types: [], skipLibCheck: false };
  writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions }));
  writeFileSync(
    join(project, "example.ts"),
    [
      'import { Runtime } from "tsbox";',
      "const rt = new Runtime();",
      'const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo hello from $(hostname)"], remove: true });',
      "const { exitCode, stdout } = await c.output();",
      "const n: number = exitCode;",
      "const s: string = stdout;",
      "console.log(n, s);",
      // The types the public signatures use can be named; kill takes docker's signal names.
      'import type { LogEntry, LogsOptions, StopOptions, PullEvent, PullOptions, ResourceOptions, PortMapping, HealthcheckOptions, PruneFilter, HealthState, WaitForHealthyOptions } from "tsbox";',
      "const stop: StopOptions = { timeout: 1 };",
      "const logs: LogsOptions = { since: \"2024-01-01T00:00:00Z\" };",
      "const resources: ResourceOptions = { memory: \"64m\" };",
      "const filter: PruneFilter = { until: new Date() };",
      "const ready: WaitForHealthyOptions = { timeoutMs: 1000 };",
      "export type Named = [LogEntry, PullEvent, PullOptions, PortMapping, HealthcheckOptions, HealthState, typeof stop, typeof logs, typeof resources, typeof filter, typeof ready];",
      // Before, these were in public signatures without a name to import (networks.create's result, push's, …).
      'import type { NetworkConfig, NetworkCreateOptions, Platform, PushResult, RemoveOptions, RemoveImageOptions, ContainerPruneResult, ImagePruneResult, VolumePruneResult } from "tsbox";',
      "const net: NetworkConfig = rt.networks.create(\"typed-net\");",
      "const removal: RemoveOptions = { force: true };",
      "export type MoreNamed = [NetworkCreateOptions, Platform, PushResult, RemoveImageOptions, ContainerPruneResult, ImagePruneResult, VolumePruneResult, typeof net, typeof removal];",
      // testcontainers' readiness helpers type-check.
      "const port: number = await c.mappedPort(80);",
      "const health: HealthState = await c.waitForHealthy(ready);",
      "console.log(port, health.Status, (await c.ports()).map((p: PortMapping) => p.hostPort));",
      'await c.kill("TERM");',
      "await rt.close();",
    ].join("\n"),
  );
  const tsc = spawnSync(process.execPath, [join(packageRoot(), "node_modules", "typescript", "bin", "tsc"), "-p", project], { encoding: "utf8" });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});

it("a browser project set up as Vite's template sets one up compiles the README's browser example against tsbox/browser", () => {
  const web = join(project, "web");
  mkdirSync(join(web, "node_modules"), { recursive: true });
  symlinkSync(packageRoot(), join(web, "node_modules", "tsbox"));
  const readme = readFileSync(join(packageRoot(), "README.md"), "utf8");
  const example = /```ts\n(import \{ Runtime[^\n]*"tsbox\/browser";[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, "the README's browser example");
  // Vite's lib (no "DOM.AsyncIterable": before, `for await` over a container's stdout did not compile), plus what `await using` needs.
  const lib = ["ES2022", "DOM", "DOM.Iterable", "ESNext.Disposable"];
  const compilerOptions = { target: "ES2022", module: "ESNext", moduleResolution: "bundler", lib, strict: true, noEmit: true, skipLibCheck: true, types: [], moduleDetection: "force" };
  writeFileSync(join(web, "tsconfig.json"), JSON.stringify({ compilerOptions }));
  writeFileSync(join(web, "main.ts"), `declare function show(chunk: Uint8Array): void;\ndeclare const droppedFile: File;\n${example}`);
  const tsc = spawnSync(process.execPath, [join(packageRoot(), "node_modules", "typescript", "bin", "tsc"), "-p", web], { encoding: "utf8" });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});
