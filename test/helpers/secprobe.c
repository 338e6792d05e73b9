/*
 * secprobe: what a hostile process inside a container tries, as one static
 * binary the security tests put into containers through a read-only volume
 * (busybox has no keyctl, and its shell is too slow to race the runtime).
 * Built by test/helpers/secprobe.ts with gcc (i686-linux-gnu-gcc for the vm guest).
 *
 *   secprobe keyring          session keyring id, or "errno N"
 *   secprobe add-key          add_key("user", ...) to the session keyring
 *   secprobe unshare-user     unshare(CLONE_NEWUSER)
 *   secprobe mount            mount a tmpfs on /tmp
 *   secprobe io-uring         io_uring_setup(4, {0}): a ring's fd, or "errno N"
 *   secprobe tty TEXT         open /dev/tty and write TEXT to it
 *   secprobe session          "sid=S pid=P pgrp=G"
 *   secprobe ids              "ruid=R euid=E" (made setuid-root: whether exec honoured that)
 *   secprobe poll-exe         until stdin ends, open every other process's
 *                             /proc/PID/exe; report what could be opened
 *                             (and whether it could be opened for writing;
 *                             nothing is ever written)
 *   secprobe fds              the open fds and their targets
 *   secprobe join-keyring CMD...  (on the host) join a new session keyring,
 *                             then exec CMD: a caller with a keyring of its own
 *
 * Every result is one line on stdout; the exit code is 0 unless the usage
 * was wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEY_SPEC_SESSION_KEYRING -3

static int result(long ret) {
  if (ret < 0) printf("errno %d\n", errno);
  else printf("ok %ld\n", ret);
  return 0;
}

/* Distinct exe targets seen, with whether one could be opened for writing. */
#define MAX_SEEN 32
static char seen[MAX_SEEN][256];
static int seen_writable[MAX_SEEN];
static int nseen;

static void note(const char *target, int writable) {
  for (int i = 0; i < nseen; i++) {
    if (strcmp(seen[i], target) == 0) {
      seen_writable[i] |= writable;
      return;
    }
  }
  if (nseen < MAX_SEEN) {
    snprintf(seen[nseen], sizeof seen[nseen], "%s", target);
    seen_writable[nseen++] = writable;
  }
}

/* True once stdin is at its end (or gone). */
static int input_ended(void) {
  struct pollfd p = {.fd = 0, .events = POLLIN};
  if (poll(&p, 1, 0) <= 0) return 0;
  char c;
  return read(0, &c, 1) <= 0;
}

static int poll_exe(void) {
  pid_t self = getpid(), parent = getppid();
  long scans = 0, opened = 0;
  char path[64], target[256];
  while (!input_ended()) {
    DIR *proc = opendir("/proc");
    if (!proc) return result(-1);
    struct dirent *e;
    while ((e = readdir(proc)) != NULL) {
      int pid = atoi(e->d_name);
      if (pid <= 1 || pid == self || pid == parent) continue;
      snprintf(path, sizeof path, "/proc/%d/exe", pid);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      opened++;
      snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(path, target, sizeof target - 1);
      target[n > 0 ? n : 0] = 0;
      /* Reopening through the fd is how CVE-2019-5736 writes the binary.
         Only the open is tried: a success is closed at once. */
      int w = open(path, O_WRONLY | O_CLOEXEC);
      if (w >= 0) close(w);
      note(target, w >= 0);
      close(fd);
    }
    closedir(proc);
    scans++;
  }
  printf("scans=%ld opened=%ld", scans, opened);
  for (int i = 0; i < nseen; i++) printf(" exe=%s%s", seen[i], seen_writable[i] ? "(writable)" : "");
  printf("\n");
  return 0;
}

static int list_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return result(-1);
  char path[300], target[256];
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    printf("%s=%s ", e->d_name, target);
  }
  closedir(d);
  printf("\n");
  return 0;
}

/* Rewrites its argv to read as an exec helper of PID's container (`tsbox-runtime exec --pid PID`: what top took for
   one, counting its children as PID's container's), then starts a child that sleeps. Needs a padding argument: the
   new command line must fit where the old one was. */
static int fake_exec_helper(int argc, char **argv) {
  char *start = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
  char fake[256];
  int n = snprintf(fake, sizeof fake, "/x/tsbox-runtime%cexec%c--pid%c%s%c", 0, 0, 0, argv[2], 0);
  if (n > end - start) {
    fprintf(stderr, "secprobe: the command line is too short for the fake one\n");
    return 2;
  }
  memset(start, 0, end - start);
  memcpy(start, fake, n);
  if (fork() == 0) {
    execl("/bin/sleep", "sleep", "7777", (char *)NULL);
    _exit(127);
  }
  for (;;) pause();
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  if (!strcmp(cmd, "keyring")) return result(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  if (!strcmp(cmd, "add-key")) return result(syscall(SYS_add_key, "user", "tsbox-secprobe", "x", 1, KEY_SPEC_SESSION_KEYRING));
  if (!strcmp(cmd, "unshare-user")) return result(unshare(CLONE_NEWUSER));
  if (!strcmp(cmd, "mount")) return result(mount("none", "/tmp", "tmpfs", 0, NULL));
  if (!strcmp(cmd, "vsock-high")) {
    /* socket(AF_VSOCK = 40, SOCK_STREAM) with high bits in the family, which the kernel (an int) drops. */
#if defined(__x86_64__) || defined(__aarch64__)
    return result(syscall(SYS_socket, 0x100000028L, 1L, 0L));
#else
    return result(syscall(SYS_socket, 40L, 1L, 0L));
#endif
  }
  if (!strcmp(cmd, "io-uring")) {
    /* struct io_uring_params is 120 bytes, all zero asks for the defaults (no liburing headers needed). */
    static char params[120];
    return result(syscall(425 /* io_uring_setup, x86_64 and i386 alike */, 4, params));
  }
  if (!strcmp(cmd, "session")) {
    printf("sid=%d pid=%d pgrp=%d\n", getsid(0), getpid(), getpgrp());
    return 0;
  }
  if (!strcmp(cmd, "ids")) {
    printf("ruid=%d euid=%d\n", getuid(), geteuid());
    return 0;
  }
  if (!strcmp(cmd, "tty") && argc > 2) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0) return result(-1);
    ssize_t n = write(fd, argv[2], strlen(argv[2]));
    return result(n);
  }
  if (!strcmp(cmd, "poll-exe")) return poll_exe();
  if (!strcmp(cmd, "fds")) return list_fds();
  if (!strcmp(cmd, "join-keyring") && argc > 2) {
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "tsbox-test-caller") < 0) {
      perror("secprobe: joining a session keyring");
      return 2;
    }
    execvp(argv[2], argv + 2);
    perror("secprobe: exec");
    return 2;
  }
  if (!strcmp(cmd, "fake-exec-helper") && argc > 3) return fake_exec_helper(argc, argv);
  fprintf(stderr, "usage: secprobe keyring|add-key|unshare-user|mount|session|ids|tty TEXT|poll-exe|fds|join-keyring CMD...|fake-exec-helper PID PADDING\n");
  return 2;
}
