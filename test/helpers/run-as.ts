/** Runs a TypeScript scenario script in a child Node process as a test identity; resolves with the JSON it prints. */
import { spawn } from "node:child_process";
import type { Identity } from "./identities.js";
import { identityEnv, repoRoot } from "./cli.js";

export function runScriptAs(who: Identity, script: string, args: string[] = []): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      uid: who.uid, gid: who.gid, cwd: repoRoot, env: identityEnv(who), stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${err}`));
      resolve(JSON.parse(out));
    });
  });
}
