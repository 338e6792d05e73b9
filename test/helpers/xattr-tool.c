/*
 * Sets or shows one extended attribute, inside a container (busybox has no
 * setcap, setfattr or getfattr): what `setcap cap_net_raw+ep FILE` does is
 * `xattr-tool set FILE security.capability <v2 value in hex>`.
 *
 *   xattr-tool set PATH NAME HEX   (exit 1 with the error when refused)
 *   xattr-tool get PATH NAME       (the value in hex, or "none")
 */
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

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
  fputs("usage: xattr-tool set PATH NAME HEX | get PATH NAME\n", stderr);
  return 2;
}
