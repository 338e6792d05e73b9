/** A network's name (docker's rule): also a file name in the data dir (`networks/<name>/`, `attach-<name>.json`). */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function isNetworkName(name: string): boolean {
  return NETWORK_NAME.test(name);
}
