import { errorMessage, hasReason, UsageError } from "../errors.js";
import { defaultDataDir } from "../paths.js";
import { Runtime } from "../runtime.js";
import type { Container } from "../container.js";
import type { CliContext } from "./context.js";

export function cliRuntime(ctx: CliContext): Runtime {
  return new Runtime({ dataDir: defaultDataDir(ctx.env) });
}

/** How many containers `kill`, `rm`, `pause`… handle at once (docker's parallelOperation takes 50; this is a CLI). */
const AT_ONCE = 8;
/**
 * `stop` and `restart` mostly wait for the containers' ends, up to their timeouts: docker's 50 at once. With 8,
 * twenty services ignoring SIGTERM took three timeouts to stop (30 s), docker's one.
 */
const WAITING_AT_ONCE = 50;

/**
 * docker's rhythm for verbs over several containers (`stop a b c`): each is
 * tried, a success prints what `act` returns (default: the name as given),
 * a failure one `tsbox: …` line on stderr, in the order given; exit 1 if any
 * failed. `parallel`: docker's stop, restart, kill, rm, pause and unpause act
 * on all at once (ten services ignoring SIGTERM stop in 10 s, not 100);
 * "waiting" (stop, restart): as many as docker's, for their waits.
 * `missingOk`: a container that does not exist is said on stderr but is no
 * failure (docker-cli's `rm -f`: `if opts.force && errdefs.IsNotFound(err)`).
 */
export async function eachContainer(
  ctx: CliContext,
  command: string,
  refs: string[],
  act: (container: Container, ref: string) => Promise<string | void>,
  options: { parallel?: boolean | "waiting"; missingOk?: boolean } = {},
): Promise<number> {
  if (refs.length === 0) throw new UsageError(`"tsbox ${command}" requires at least one container`);
  const runtime = cliRuntime(ctx);
  const attempt = (ref: string) => runtime.get(ref).then((c) => act(c, ref)).then((printed) => ({ ok: true as const, line: printed ?? ref }), (err: unknown) => ({ ok: false as const, line: errorMessage(err), missing: hasReason(err, "no_such_container") }));
  const results: Promise<{ ok: boolean; line: string; missing?: boolean }>[] = [];
  let code = 0;
  for (let next = 0; next < refs.length; next++) {
    // Started up to AT_ONCE ahead of the one whose result is printed next (one at a time without `parallel`).
    const ahead = options.parallel === "waiting" ? WAITING_AT_ONCE : options.parallel ? AT_ONCE : 1;
    while (results.length < Math.min(refs.length, next + ahead)) results.push(attempt(refs[results.length]!));
    const r = await results[next]!;
    if (r.ok) ctx.stdout.write(`${r.line}\n`);
    else {
      ctx.stderr.write(`tsbox: ${r.line}\n`);
      if (!(options.missingOk && r.missing)) code = 1;
    }
  }
  return code;
}

/** `-t`/`--time`/`--timeout` seconds: a whole number (negative: wait for ever). */
export function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new UsageError(`invalid value "${value}" for ${flag}: whole seconds`);
  return Number(value);
}
