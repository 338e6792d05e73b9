/**
 * All of stdin, for the commands that take a whole document there (`build -f -`,
 * `build -`, `login --password-stdin`). Read through Node's stream, not
 * `readFileSync(0)`: a pipe in non-blocking mode (its other users may have
 * made it so) whose writer has not written yet fails a synchronous read with
 * EAGAIN, seen as `tsbox: EAGAIN … read` from `build -f -` under load.
 */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
