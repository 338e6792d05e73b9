/** Where a warning goes (limits this host or user cannot apply): the caller's `onWarning`, else Node's warnings. */
export function warningSink(onWarning?: (message: string) => void): (message: string) => void {
  return onWarning ?? ((message) => process.emitWarning(message, { type: "TsboxWarning" }));
}
