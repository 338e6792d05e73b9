/**
 * xterm.js and its fit add-on: the bulk of the page's script (≈ 340 KB),
 * imported by playground.ts once the guest's Worker runs, so that parsing
 * it does not hold the Worker's start up.
 */
export { FitAddon } from "@xterm/addon-fit";
export { Terminal } from "@xterm/xterm";
