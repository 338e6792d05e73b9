import { errorMessage, UsageError } from "../errors.js";
import { defaultDataDir } from "../paths.js";
import { Runtime } from "../runtime.js";
import type { Container } from "../container.js";
import type { CliContext } from "./context.js";

export function cliRuntime(ctx: CliContext): Runtime {
  return new Runtime({ dataDir: defaultDataDir(ctx.env) });
}

/**
 * docker's rhythm for verbs over several containers (`stop a b c`): each is
 * tried, a success prints what `print` returns (default: the name as given),
 * a failure one `tsbox: …` line on stderr; exit 1 if any failed.
 */
export async function eachContainer(
  ctx: CliContext,
  command: string,
  refs: string[],
  act: (container: Container, ref: string) => Promise<string | void>,
): Promise<number> {
  if (refs.length === 0) throw new UsageError(`"tsbox ${command}" requires at least one container`);
  const runtime = cliRuntime(ctx);
  let code = 0;
  for (const ref of refs) {
    try {
      const printed = await act(await runtime.get(ref), ref);
      ctx.stdout.write(`${printed ?? ref}\n`);
    } catch (err) {
      ctx.stderr.write(`tsbox: ${errorMessage(err)}\n`);
      code = 1;
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
