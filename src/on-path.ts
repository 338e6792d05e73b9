import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** True when `command` is an executable on PATH or in the sbin dirs (often missing from a user's PATH). */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  // The system's own directories too, as native-rs/container/src/net/mod.rs `find_program` does: a
  // PATH cut down to Node's (npx in a bare environment) must not hide /usr/bin/pasta or newuidmap.
  const dirs = (env.PATH || "/usr/local/bin:/usr/bin:/bin").split(delimiter).concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
