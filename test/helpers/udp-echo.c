/* A UDP echo server for the tests of `-p PORT/udp` (busybox has no UDP
 * server): udp-echo PORT answers every datagram with "echo:" + its bytes,
 * on 0.0.0.0, forever. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(argv[1]));
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("udp-echo");
    return 1;
  }
  printf("listening\n");
  fflush(stdout);
  for (;;) {
    char buf[2048];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &len);
    if (n < 0) continue;
    memcpy(buf, "echo:", 5);
    sendto(s, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, len);
  }
}
