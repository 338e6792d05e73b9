/**
 * What `run` and `exec` ask of the runtime without a terminal: the native
 * helper takes this process over (execve, `Backend.handOff`), so Node's
 * child_process, fork and exit are not paid. bin/tsbox.js writes its V8 code
 * cache on "tsbox:exec", since the exit it otherwise waits for never comes.
 */
export const CLI_HAND_OFF = { beforeExec: (): void => void (process as NodeJS.EventEmitter).emit("tsbox:exec") };
