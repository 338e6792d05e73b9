/**
 * xterm.js and its fit add-on: the bulk of the page's script (≈ 330 KB),
 * imported by playground.ts once the guest's Worker is on its way, so the
 * Worker's start does not wait for it to be parsed.
 */
export { FitAddon } from "@xterm/addon-fit";
export { Terminal } from "@xterm/xterm";
