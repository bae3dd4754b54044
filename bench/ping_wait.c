/*
 * ping_wait.c -- bench/ckpt_criu.sh's first client of a resumed
 * redis-server: it tries to connect to 127.0.0.1:PORT every 250 µs until
 * it can, sends PING, reads the answer, and prints the wall clock
 * (CLOCK_REALTIME, microseconds) at which "+PONG" arrived.  It exits 1
 * if no PONG came within SECONDS.  Started before the resume, it is
 * waiting when the server comes back.
 *
 *   ping_wait PORT SECONDS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (unsigned long long)t.tv_sec * 1000000 + (unsigned long long)t.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ping_wait PORT SECONDS\n");
		return 2;
	}
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((unsigned short)atoi(argv[1])) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned long long end = now_us() + strtoull(argv[2], NULL, 10) * 1000000ULL;
	while (now_us() < end) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return 1;
		if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
			int one = 1;
			char buf[64];
			size_t got = 0;
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			struct timeval tv = { 10, 0 };
			setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
			if (write(s, "PING\r\n", 6) == 6) {
				while (got < 7) {
					ssize_t n = read(s, buf + got, sizeof buf - 1 - got);
					if (n <= 0)
						break;
					got += (size_t)n;
				}
			}
			unsigned long long t = now_us();
			close(s);
			if (got >= 7 && !memcmp(buf, "+PONG\r\n", 7)) {
				printf("%llu\n", t);
				return 0;
			}
			buf[got] = 0;
			fprintf(stderr, "ping_wait: the answer to PING was '%s'\n", buf);
			return 1;
		}
		close(s);
		struct timespec d = { 0, 250000 };
		nanosleep(&d, NULL);
	}
	fprintf(stderr, "ping_wait: no PONG on port %s within %s s\n", argv[1], argv[2]);
	return 1;
}
