/**
 * Control characters (ESC, CR, newline, DEL…) of a name a container or an
 * image chose, shown as `\xNN`: printed raw they could rewrite the user's
 * terminal (escape sequences) or forge lines of our output.
 */
export function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f\x9b]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
