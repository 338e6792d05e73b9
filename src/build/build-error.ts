import { nameErrors, TsboxError } from "../errors.js";

/** A build that failed: a bad Dockerfile, a missing source, a RUN that exited non-zero. Exit code 1, as docker build's. */
export class BuildError extends TsboxError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "build", exitCode: 1, cause });
  }
}

nameErrors({ BuildError });
