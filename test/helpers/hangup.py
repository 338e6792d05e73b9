# Runs a command as the session leader of a new pty, its stderr to a file; once the
# terminal showed MARKER, closes the terminal (a window closed, an ssh session dropped)
# and prints the command's end as JSON: {"code": N|null, "signal": N|null, "seen": bool}.
# With --signal NAME, the terminal stays: NAME is sent to the command instead (`kill` from
# elsewhere, a multiplexer ending the job), and "restored" says whether the command left
# the terminal's modes as it found them.
# usage: hangup.py [--signal NAME] MARKER STDERR_FILE COMMAND [ARG...]
import fcntl, json, os, select, signal, sys, termios, time

args = sys.argv[1:]
sig = None
if args[0] == "--signal":
    sig, args = getattr(signal, args[1]), args[2:]
marker, err_file, argv = args[0].encode(), args[1], args[2:]
master, slave = os.openpty()
before = termios.tcgetattr(slave)
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1):
        os.dup2(slave, fd)
    os.dup2(os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
    os.close(slave)
    os.execvp(argv[0], argv)

def read_some(timeout):
    if select.select([master], [], [], timeout)[0]:
        try:
            return os.read(master, 4096)
        except OSError:
            return None
    return b""

seen, deadline = b"", time.time() + 60
while marker not in seen and time.time() < deadline:
    chunk = read_some(1)
    if chunk is None:
        break
    seen += chunk
end = {"seen": marker in seen}
if sig is None:
    os.close(slave)
    os.close(master)
    _, status = os.waitpid(pid, 0)
else:
    os.kill(pid, sig)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        read_some(0.05)  # whatever it still writes must not block it
    end["restored"] = termios.tcgetattr(slave) == before
end.update(code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
           signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
print(json.dumps(end))
