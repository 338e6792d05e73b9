/* A hostile container's DNS flood for test/network.test.ts: dns-flood SERVER
 * SECONDS sends queries for an outside name (each with its own id) to
 * SERVER:53 as fast as it can from 16 sockets, reading what comes back, and
 * prints "sent N replies M". */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  static const unsigned char name[] = "\x05" "flood" "\x07" "example" "\x03" "com";
  unsigned char q[64] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t len = 12;
  memcpy(q + len, name, sizeof name); /* the trailing NUL ends the name */
  len += sizeof name;
  q[len++] = 0; q[len++] = 1; q[len++] = 0; q[len++] = 1; /* A, IN */
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  int socks[16];
  for (int i = 0; i < 16; i++) {
    socks[i] = socket(AF_INET, SOCK_DGRAM, 0);
    fcntl(socks[i], F_SETFL, O_NONBLOCK);
  }
  time_t end = time(NULL) + atoi(argv[2]);
  long sent = 0, replies = 0;
  unsigned short id = 1;
  while (time(NULL) < end) {
    for (int i = 0; i < 16; i++) {
      q[0] = (unsigned char)(id >> 8); q[1] = (unsigned char)id; id++;
      if (sendto(socks[i], q, len, 0, (struct sockaddr *)&to, sizeof to) > 0) sent++;
      char buf[512];
      while (recv(socks[i], buf, sizeof buf, 0) > 0) replies++;
    }
  }
  printf("sent %ld replies %ld\n", sent, replies);
  return 0;
}
