/*
 * Sets or shows one extended attribute, inside a container (busybox has no
 * setcap, setfattr or getfattr): what `setcap cap_net_raw+ep FILE` does is
 * `xattr-tool set FILE security.capability <v2 value in hex>`. A copy of it
 * with a file capability shows what the kernel grants at exec.
 *
 *   xattr-tool set PATH NAME HEX   (exit 1 with the error when refused)
 *   xattr-tool get PATH NAME       (the value in hex, or "none")
 *   xattr-tool caps                (this process's effective set: "CapEff: <hex>")
 *   xattr-tool noroot PROG ARG...  (runs PROG with SECBIT_NOROOT: uid 0 gets only
 *                                   what the file grants, as any other uid, so a
 *                                   container with only uid 0 can see a file capability)
 */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SECBIT_NOROOT 0x1
#define SECBIT_NOROOT_LOCKED 0x2

int main(int argc, char **argv) {
  unsigned char v[4096];
  if (argc == 5 && strcmp(argv[1], "set") == 0) {
    size_t n = strlen(argv[4]) / 2;
    if (n > sizeof v) return 2;
    for (size_t i = 0; i < n; i++) sscanf(argv[4] + 2 * i, "%2hhx", &v[i]);
    if (lsetxattr(argv[2], argv[3], v, n, 0) != 0) {
      perror("lsetxattr");
      return 1;
    }
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "get") == 0) {
    ssize_t n = lgetxattr(argv[2], argv[3], v, sizeof v);
    if (n < 0) {
      puts("none");
      return 0;
    }
    for (ssize_t i = 0; i < n; i++) printf("%02x", v[i]);
    putchar('\n');
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "caps") == 0) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 1;
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "CapEff:", 7) == 0) fputs(line, stdout);
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "noroot") == 0) {
    if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED) != 0) {
      perror("prctl");
      return 1;
    }
    execv(argv[2], argv + 2);
    perror("execv");
    return 127;
  }
  fputs("usage: xattr-tool set PATH NAME HEX | get PATH NAME | caps | noroot PROG ARG...\n", stderr);
  return 2;
}
