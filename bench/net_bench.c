/*
 * net_bench.c -- TCP over loopback, with either end inside moat.
 * Built by bench/run.sh with `gcc -static -O2`; not a test.
 *
 *     net_bench server ADDR PORT
 *     net_bench client ADDR PORT [--smoke] [--quit] [OP...]
 *
 * The server accepts one connection at a time and answers commands, one
 * byte each, until a client sends 'q':
 *
 *     'p'          ping: answer one byte
 *     'u' LEN      upload: read LEN (8 bytes, host order) bytes, answer 'k'
 *     'd' LEN      download: send LEN bytes
 *     'c'          close the connection (the server closes first, so the
 *                  TIME_WAIT sockets are the server's, not the client's)
 *     'q'          answer 'k', close and exit 0
 *
 * The client connects (retrying for up to 10 s while the server starts),
 * sets TCP_NODELAY and 20 s send/receive timeouts, and times
 *
 *     tcp_rtt      a 1-byte ping-pong round trip, on one connection
 *     tcp_up       1 MiB sent to the server (1 MiB writes; one request of
 *                  n MiB per batch, which ends when the server's 'k' is
 *                  back, so nothing is left in flight when the clock stops)
 *     tcp_down     1 MiB received from the server (1 MiB reads)
 *     tcp_connect  connect + one ping + close, a new connection each time
 *
 * printing "OP ITERATIONS NS_REP1 ..." lines (benchlib.h): ns per round
 * trip, per MiB, per connection.  A repetition takes about 50 ms (5 ms
 * with --smoke); 5 (3) repetitions.  --quit stops the server at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchlib.h"

#define MIB (1u << 20)

static char buf[MIB];
static struct sockaddr_in peer;
static int conn = -1;

static void parse_addr(const char *addr, const char *port)
{
	peer.sin_family = AF_INET;
	peer.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, addr, &peer.sin_addr) != 1) {
		fprintf(stderr, "net_bench: bad address %s\n", addr);
		exit(2);
	}
}

/* 0 on success, -1 on EOF or error (errno set; 0 for EOF). */
static int read_full(int fd, void *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = read(fd, (char *)p + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, (const char *)p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* best effort */
}

/* --- server --- */

/* Serve one connection: 1 when told to quit, 0 when it ends. */
static int serve(int c)
{
	for (;;) {
		unsigned char cmd;
		uint64_t len;
		if (read_full(c, &cmd, 1) < 0)
			return 0;
		switch (cmd) {
		case 'p':
			if (write_full(c, &cmd, 1) < 0)
				return 0;
			break;
		case 'u':
			if (read_full(c, &len, 8) < 0)
				return 0;
			while (len) {
				size_t n = len < MIB ? (size_t)len : MIB;
				ssize_t r = read(c, buf, n);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					return 0;
				len -= (uint64_t)r;
			}
			if (write_full(c, "k", 1) < 0)
				return 0;
			break;
		case 'd':
			if (read_full(c, &len, 8) < 0)
				return 0;
			while (len) {
				size_t n = len < MIB ? (size_t)len : MIB;
				if (write_full(c, buf, n) < 0)
					return 0;
				len -= n;
			}
			break;
		case 'c':
			return 0;
		case 'q':
			write_full(c, "k", 1);
			return 1;
		default:
			fprintf(stderr, "net_bench server: unknown command 0x%02x\n", cmd);
			return 0;
		}
	}
}

static int server(void)
{
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&peer, sizeof(peer)) < 0)
		die("bind");
	if (listen(s, 16) < 0)
		die("listen");
	memset(buf, 'x', sizeof(buf));
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		nodelay(c);
		int quit = serve(c);
		close(c);
		if (quit)
			break;
	}
	close(s);
	return 0;
}

/* --- client --- */

static int dial(int retry)
{
	for (int tries = 0;; tries++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0)
			die("socket");
		if (connect(c, (struct sockaddr *)&peer, sizeof(peer)) == 0) {
			struct timeval tv = { 20, 0 };
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			nodelay(c);
			return c;
		}
		int e = errno;
		close(c);
		if (!retry || e != ECONNREFUSED || tries >= 200) {
			errno = e;
			die("connect");
		}
		usleep(50000);
	}
}

static void must(int ok, const char *what)
{
	if (ok < 0) {
		if (!errno)
			fprintf(stderr, "net_bench: %s: the server closed the connection\n", what);
		else
			die(what);
		exit(1);
	}
}

static void request(char cmd, uint64_t len)
{
	char h[9];
	h[0] = cmd;
	memcpy(h + 1, &len, 8);
	must(write_full(conn, h, 9), "send request");
}

static void op_rtt(long n)
{
	for (long i = 0; i < n; i++) {
		char c = 'p';
		must(write_full(conn, &c, 1), "send ping");
		must(read_full(conn, &c, 1), "read pong");
	}
}

static void op_up(long n)
{
	char k;
	request('u', (uint64_t)n * MIB);
	for (long i = 0; i < n; i++)
		must(write_full(conn, buf, MIB), "upload");
	must(read_full(conn, &k, 1), "read upload ack");
}

static void op_down(long n)
{
	request('d', (uint64_t)n * MIB);
	for (long i = 0; i < n; i++)
		must(read_full(conn, buf, MIB), "download");
}

static void op_connect(long n)
{
	for (long i = 0; i < n; i++) {
		int c = dial(0);
		char b = 'p';
		must(write_full(c, &b, 1), "send ping (connect)");
		must(read_full(c, &b, 1), "read pong (connect)");
		b = 'c';
		must(write_full(c, &b, 1), "send close");
		ssize_t r = read(c, &b, 1); /* EOF: the server closed first */
		if (r != 0) {
			fprintf(stderr, "net_bench: expected EOF after 'c', read returned %zd\n", r);
			exit(1);
		}
		close(c);
	}
}

/* The server serves one connection at a time: tcp_connect needs the
 * long-lived one closed, the others need it open. */
static void hold_conn(int want)
{
	if (want && conn < 0) {
		conn = dial(1);
	} else if (!want && conn >= 0) {
		char c = 'c';
		must(write_full(conn, &c, 1), "send close");
		close(conn);
		conn = -1;
	}
}

static const struct {
	const char *name;
	void (*fn)(long);
	int long_lived;
} ops[] = {
	{ "tcp_rtt", op_rtt, 1 },
	{ "tcp_up", op_up, 1 },
	{ "tcp_down", op_down, 1 },
	{ "tcp_connect", op_connect, 0 },
};

static int client(int argc, char **argv)
{
	int smoke = 0, quit = 0, n_only = 0;
	char *only[16];
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke"))
			smoke = 1;
		else if (!strcmp(argv[i], "--quit"))
			quit = 1;
		else if (n_only < 16)
			only[n_only++] = argv[i];
	}
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 'y', sizeof(buf));
	const uint64_t target_ns = smoke ? 5000000u : 50000000u;
	const int reps = smoke ? 3 : 5;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		if (!bench_wanted(ops[k].name, only, n_only))
			continue;
		hold_conn(ops[k].long_lived);
		bench_op(ops[k].name, ops[k].fn, target_ns, reps, 1);
	}
	hold_conn(1);
	if (quit) {
		char c = 'q';
		must(write_full(conn, &c, 1), "send quit");
		must(read_full(conn, &c, 1), "read quit ack");
	}
	close(conn);
	return 0;
}

int main(int argc, char **argv)
{
	bench_prog = "net_bench";
	if (argc < 4 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: net_bench server ADDR PORT\n"
				"       net_bench client ADDR PORT [--smoke] [--quit] [OP...]\n");
		return 2;
	}
	parse_addr(argv[2], argv[3]);
	return !strcmp(argv[1], "server") ? server() : client(argc - 4, argv + 4);
}
