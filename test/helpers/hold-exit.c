/* Holds a PID namespace's init in its exit, for the tests of a container
 * that is stopping: hold-exit PID seizes (ptrace) PID, a process of the
 * container that is not its init, and never waits for it. Once the init is
 * killed, the kernel kills PID, whose zombie is ours to reap: the init waits
 * for it in its exit, its namespaces released, no zombie yet. Prints "held",
 * then lets go (exits, which detaches) at end of stdin. Run as root. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  if (ptrace(PTRACE_SEIZE, (pid_t)atoi(argv[1]), NULL, NULL) != 0) {
    perror("hold-exit: PTRACE_SEIZE");
    return 1;
  }
  printf("held\n");
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}
