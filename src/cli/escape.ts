/**
 * Control characters (ESC, CR, newline, DEL…) of a name a container or an
 * image chose, shown as `\xNN`: printed raw they could rewrite the user's
 * terminal (escape sequences) or forge lines of our output.
 */
export function escapeControls(text: string): string {
  // C1 too (U+0080–U+009F): xterm and others take U+009B as CSI and U+009D as OSC (a clipboard write with OSC 52).
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
