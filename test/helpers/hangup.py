# Runs a command as the session leader of a new pty, its stderr to a file; once the
# terminal showed MARKER, closes the terminal (a window closed, an ssh session dropped)
# and prints the command's end as JSON: {"code": N|null, "signal": N|null}.
# usage: hangup.py MARKER STDERR_FILE COMMAND [ARG...]
import json, os, pty, select, sys, time

marker, err_file, argv = sys.argv[1].encode(), sys.argv[2], sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    os.dup2(os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    os.execvp(argv[0], argv)
seen, deadline = b"", time.time() + 60
while marker not in seen and time.time() < deadline:
    if select.select([master], [], [], 1)[0]:
        try:
            seen += os.read(master, 4096)
        except OSError:
            break
os.close(master)
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                  "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, "seen": marker in seen}))
