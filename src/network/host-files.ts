import { readFileSync } from "node:fs";

/** The host's /etc/resolv.conf, as far as a container's copy needs it. */
export interface ResolvConf {
  servers: string[];
  search: string[];
  options: string[];
}

export function readResolvConf(file = "/etc/resolv.conf"): ResolvConf {
  const out: ResolvConf = { servers: [], search: [], options: [] };
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const [key, ...values] = line.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (key === "nameserver" && values[0]) out.servers.push(values[0]);
    else if (key === "search" || key === "domain") out.search = values;
    else if (key === "options") out.options.push(...values);
  }
  return out;
}

/** Loopback servers (systemd-resolved's 127.0.0.53, say) are the host's own: unreachable from a bridge. */
export function reachableFromBridge(servers: string[]): string[] {
  return servers.filter((s) => /^\d+\.\d+\.\d+\.\d+$/.test(s) && !s.startsWith("127."));
}
