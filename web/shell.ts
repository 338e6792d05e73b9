/**
 * The playground's shell: what the page runs (playground.ts) and what its
 * served snapshot keeps started ahead (snapshot.ts), so both must be this one.
 */
export function shellOptions(image: string, size?: { cols: number; rows: number }) {
  return { image, cmd: ["sh"], tty: size ?? true, stdin: true, env: { PS1: "\\u@\\h:\\w\\$ " } };
}
