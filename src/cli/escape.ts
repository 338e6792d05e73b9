/**
 * Control characters (ESC, CR, newline, DEL…) of a name a container or an
 * image chose, shown as `\xNN`: printed raw they could rewrite the user's
 * terminal (escape sequences) or forge lines of our output.
 */
export function escapeControls(text: string): string {
  // C1 too (U+0080–U+009F): xterm and others take U+009B as CSI and U+009D as OSC (a clipboard write with OSC 52);
  // and so the raw bytes 0x80–0x9F of a name that is not UTF-8 (src/name-bytes.ts), which an 8-bit terminal reads as C1.
  return text.replace(/[\x00-\x1f\x7f-\x9f]|(?<![\ud800-\udbff])[\udc80-\udc9f]/g, (c) => `\\x${(c.charCodeAt(0) & 0xff).toString(16).padStart(2, "0")}`);
}
