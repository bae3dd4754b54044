/*
 * migrate.c -- live migration of a named picoprocess (docs/checkpoint.md,
 * "Migration"):
 *
 *   moat migrate NAME --to HOST:PORT|unix:PATH
 *   moat receive --listen HOST:PORT|unix:PATH [RUN OPTIONS]
 *
 * The source (migrate) connects to the target first, then asks NAME's
 * monitor for a migration stream (MOAT_CTL_CHECKPOINT, arg 1) and relays
 * it record by record: pre-copy rounds while the app runs, each answered
 * 'R' (again) or 'F' (final, and MOAT_CTL_PAUSE), then the final image.
 * The target (receive) keeps the stream (moat_mig_feed, KEEP), merges it
 * into an image that names the pre-copied pages instead of copying them
 * (moat_snap_merge_ref: the app is stopped meanwhile, so nothing that
 * goes with its size is done then), seals it, the base and the scratch,
 * and resumes it through moat run's own code, under the grants of its
 * own command line.  That moat run starts as soon as the manifest is in,
 * on a package of the manifest alone in a private directory: its
 * monitor and picoprocess are set up during the pre-copy, and the
 * picoprocess waits in "snapshot:in" until the memfds, checked, come
 * over a socket after the END (moat_run_later).
 * It says "running" once the resumed picoprocess runs; only then does
 * the source tell its checkpointer to end ('E').  Any failure before
 * that leaves the source running ('C').
 *
 * Everything the target reads from the network is hostile: bounded
 * lengths, a 10 s idle timeout on every read, the stream checked as it
 * comes and the image checked whole before anything runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "moat/control.h"
#include "moat/manifest.h"
#include "moat/monitor.h"
#include "moat/package.h"
#include "moat/snapshot.h"
#include "tools.h"

#define MIG_MAGIC "MOATMIG\x1a" /* the source's hello */
#define MIG_VERSION 2             /* 2: the saved /tmp follows the stream */
#define MIG_READY "moat-migrate 2 ready"
#define IDLE_MS 10000            /* no byte from the other side this long: give up */
#define ANSWER_MS 60000          /* the target's resume, at most */
#define CONNECT_MS 5000
#define LINE_MAX_ 512            /* an answer line, at most */
#define MANIFEST_MAX (1 << 20)
#define ROUND_SMALL 256          /* pages: a round this small is the last */
#define ROUNDS_MAX 8
#define CHUNK (1 << 20)
#define SCRATCH_MIN 40           /* an empty archive: its magic and its end */

struct mig_hello {
	char magic[8];           /* MIG_MAGIC */
	uint32_t version;        /* MIG_VERSION */
	uint32_t flags;          /* 0 */
};

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}


/* ---- addresses: HOST:PORT, [V6]:PORT or unix:PATH ---- */

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int unix_path;           /* a unix socket (remove it after a listen) */
	const char *text;
};

static int parse_addr(const char *s, int passive, struct addr *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->text = s;
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *u = (struct sockaddr_un *)&a->ss;
		if (!s[5] || strlen(s + 5) >= sizeof(u->sun_path)) {
			snprintf(err, errlen, "%s: a unix socket path of 1 to %zu bytes", s,
				 sizeof(u->sun_path) - 1);
			return -1;
		}
		u->sun_family = AF_UNIX;
		strcpy(u->sun_path, s + 5);
		a->len = sizeof(*u);
		a->unix_path = 1;
		return 0;
	}
	char host[256];
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : 0;
	if (!colon || !colon[1] || hl >= sizeof(host)) {
		snprintf(err, errlen, "%s: expected HOST:PORT or unix:PATH", s);
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = 0;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1]:PORT */
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	struct addrinfo *res;
	int r = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (r) {
		snprintf(err, errlen, "%s: %s", s, gai_strerror(r));
		return -1;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- I/O with a deadline ---- */

/* Wait until fd is readable (or writable), at most ms: 1, 0 on timeout. */
static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { fd, ev, 0 };
	for (;;) {
		int r = poll(&p, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r;
	}
}

/* Exactly n bytes, with an idle timeout between pieces.  0, or -1 with
 * err: "WHAT: ..." */
static int get(int fd, void *buf, size_t n, int ms, const char *what, char *err, size_t errlen)
{
	char *p = buf;
	size_t got = 0;
	while (got < n) {
		int w = wait_fd(fd, POLLIN, ms);
		if (w == 0) {
			snprintf(err, errlen, "%s: nothing for %d s", what, ms / 1000);
			return -1;
		}
		ssize_t k = w < 0 ? -1 : recv(fd, p + got, n - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			snprintf(err, errlen, "%s: %s", what, k == 0 ? "the connection closed"
				 : strerror(errno));
			return -1;
		}
		got += (size_t)k;
	}
	return 0;
}

static int put(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		if (wait_fd(fd, POLLOUT, IDLE_MS) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return -1;
		p += k, n -= (size_t)k;
	}
	return 0;
}

/* One line of the other side's, without its newline, printable ASCII
 * only.  0, or -1 with err. */
static int get_line(int fd, char *line, size_t cap, int ms, const char *what, char *err,
		    size_t errlen)
{
	size_t n = 0;
	for (;;) {
		char c;
		if (get(fd, &c, 1, ms, what, err, errlen) < 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 >= cap) {
			snprintf(err, errlen, "%s: a line longer than %zu bytes", what, cap - 1);
			return -1;
		}
		line[n++] = c >= ' ' && c <= '~' ? c : '?';
	}
	line[n] = 0;
	return 0;
}

/* A line to the other side: "error WHY" (WHY on one line). */
static void put_error(int fd, const char *why)
{
	char line[LINE_MAX_];
	snprintf(line, sizeof(line) - 1, "error %s", why);
	for (char *p = line; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
	strcat(line, "\n");
	put(fd, line, strlen(line));
}

/* ====================================================== the source ====== */

struct src {
	const char *name;
	struct addr to;
	int net, ck;             /* the target, the checkpointer's stream */
	char *manifest;
	size_t mlen;
	struct moat_mig *parse;
	struct timespec t0, pause;
	int paused;
	unsigned final_seen;     /* reads since the pause (MOAT_MIG_TRACE) */
	uint64_t prev_pages;
	char err[1024];
};

/* MOAT_MIG_TRACE=1: where the downtime goes, as steps after the pause
 * (bench/migrate.sh --trace shows them). */
static void trace(const struct src *s, const char *what)
{
	static int on = -1;
	if (on < 0)
		on = getenv("MOAT_MIG_TRACE") && *getenv("MOAT_MIG_TRACE") == '1';
	if (on && s->paused) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double ms = (double)(now.tv_sec - s->pause.tv_sec) * 1e3 +
			    (double)(now.tv_nsec - s->pause.tv_nsec) / 1e6;
		fprintf(stderr, "moat: migrate: trace: %.1f ms after the pause: %s\n", ms, what);
	}
}

static void usage_migrate(FILE *f)
{
	fprintf(f, "usage: moat migrate NAME --to HOST:PORT|unix:PATH\n"
		"Move the picoprocess registered as NAME (moat run --name) to a 'moat receive'\n"
		"listening there: memory is copied while it runs, then it stops briefly and\n"
		"goes on at the target; it ends here only once the target runs it.  On any\n"
		"failure it goes on here.\n");
}

static int connect_to(struct src *s)
{
	int fd = socket(s->to.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(s->err, sizeof(s->err), "%s: %s", s->to.text, strerror(errno));
		return -1;
	}
	int r = connect(fd, (struct sockaddr *)&s->to.ss, s->to.len);
	if (r < 0 && errno == EINPROGRESS) {
		int e = 0;
		socklen_t el = sizeof(e);
		r = wait_fd(fd, POLLOUT, CONNECT_MS);
		if (r == 0)
			errno = ETIMEDOUT, r = -1;
		else if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e)
			errno = e, r = -1;
		else if (r > 0)
			r = 0;
	}
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "cannot reach the target %s: %s", s->to.text,
			 strerror(errno));
		close(fd);
		return -1;
	}
	int one = 1;
	if (!s->to.unix_path)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->net = fd;
	return 0;
}

/* The hello, and the target's "ready": before the source is touched. */
static int greet(struct src *s)
{
	struct mig_hello h = { .version = MIG_VERSION };
	char line[LINE_MAX_], why[LINE_MAX_ + 64];
	memcpy(h.magic, MIG_MAGIC, 8);
	if (put(s->net, &h, sizeof(h)) < 0) {
		snprintf(s->err, sizeof(s->err), "the target %s: %s", s->to.text, strerror(errno));
		return -1;
	}
	if (get_line(s->net, line, sizeof(line), IDLE_MS, "the target's greeting", why,
		     sizeof(why)) < 0) {
		snprintf(s->err, sizeof(s->err), "%s (is %s a moat receive?)", why, s->to.text);
		return -1;
	}
	if (!strncmp(line, "error ", 6)) {
		snprintf(s->err, sizeof(s->err), "the target refused: %s", line + 6);
		return -1;
	}
	if (strcmp(line, MIG_READY)) {
		snprintf(s->err, sizeof(s->err), "%s is not a moat receive of this version "
			 "(it said \"%.60s\")", s->to.text, line);
		return -1;
	}
	return 0;
}

static int send_manifest(struct src *s)
{
	uint64_t len = s->mlen;
	if (put(s->net, &len, sizeof(len)) < 0 || put(s->net, s->manifest, s->mlen) < 0) {
		snprintf(s->err, sizeof(s->err), "sending to the target: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* After round n: another ('R') or the last ('F').  Stop when the round
 * was small, when it stopped shrinking, or after ROUNDS_MAX. */
static char next_round(struct src *s)
{
	const struct moat_mig_stats *st = moat_mig_stats(s->parse);
	uint64_t pages = st->round.pages, prev = s->prev_pages;
	s->prev_pages = pages;
	if (st->rounds >= ROUNDS_MAX || pages <= ROUND_SMALL || (st->rounds >= 2 && pages >= prev))
		return MOAT_SNAP_ROUND_FINAL;
	return MOAT_SNAP_ROUND_AGAIN;
}

static int answer_round(struct src *s)
{
	char c = next_round(s), why[512];
	if (send(s->ck, &c, 1, MSG_NOSIGNAL) != 1) {
		snprintf(s->err, sizeof(s->err), "its checkpointer went away: %s", strerror(errno));
		return -1;
	}
	if (c == MOAT_SNAP_ROUND_AGAIN)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &s->pause);
	s->paused = 1;
	if (moat_ctl_pause("migrate", s->name, why, sizeof(why)) < 0) {
		snprintf(s->err, sizeof(s->err), "%s", why);
		return -1;
	}
	trace(s, "paused (the monitor answered)");
	return 0;
}

/* The target said something while it should listen: its refusal. */
static int target_spoke(struct src *s)
{
	char line[LINE_MAX_], why[LINE_MAX_ + 64];
	if (get_line(s->net, line, sizeof(line), IDLE_MS, "the target", why, sizeof(why)) < 0)
		snprintf(s->err, sizeof(s->err), "%s", why);
	else
		snprintf(s->err, sizeof(s->err), "the target refused: %s",
			 strncmp(line, "error ", 6) ? line : line + 6);
	return -1;
}

/* Pass n bytes from the checkpointer on, record by record, answering
 * rounds.  1 at END, 0 for more, -1 on failure. */
static int relay(struct src *s, const unsigned char *buf, size_t n)
{
	char why[512];
	for (size_t off = 0; off < n;) {
		int ev;
		long k = moat_mig_feed(s->parse, buf + off, n - off, &ev, why, sizeof(why));
		if (k < 0) {
			snprintf(s->err, sizeof(s->err), "its checkpointer wrote a malformed stream: %s",
				 why);
			return -1;
		}
		if (put(s->net, buf + off, (size_t)k) < 0) {
			snprintf(s->err, sizeof(s->err), "sending to the target: %s", strerror(errno));
			return -1;
		}
		off += (size_t)k;
		if (ev == MOAT_MIG_END)
			return off == n ? 1 : (snprintf(s->err, sizeof(s->err), "its checkpointer "
							"wrote past the END record"), -1);
		if (ev == MOAT_MIG_ROUND && off < n) {
			snprintf(s->err, sizeof(s->err), "its checkpointer wrote past a round's end");
			return -1;
		}
		if (ev == MOAT_MIG_ROUND && answer_round(s) < 0)
			return -1;
	}
	return 0;
}

/* The stream from the checkpointer to the target, through END. */
static int pump(struct src *s)
{
	static unsigned char buf[CHUNK];
	for (;;) {
		struct pollfd p[2] = { { s->ck, POLLIN, 0 }, { s->net, POLLIN, 0 } };
		int r = poll(p, 2, IDLE_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(s->err, sizeof(s->err), "its checkpointer sent nothing for %d s",
				 IDLE_MS / 1000);
			return -1;
		}
		if (r < 0) {
			snprintf(s->err, sizeof(s->err), "poll: %s", strerror(errno));
			return -1;
		}
		if (p[1].revents)
			return target_spoke(s);
		ssize_t n = read(s->ck, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(s->err, sizeof(s->err), "its checkpointer %s before the END record",
				 n == 0 ? "closed the stream" : strerror(errno));
			return -1;
		}
		if (s->paused && !s->final_seen++)
			trace(s, "the final image's first bytes");
		int done = relay(s, buf, (size_t)n);
		if (done) {
			trace(s, "the final image's END sent");
			return done < 0 ? -1 : 0;
		}
	}
}

static void summary(struct src *s)
{
	const struct moat_mig_stats *st = moat_mig_stats(s->parse);
	long total = ms_since(&s->t0), down = ms_since(&s->pause);
	fprintf(stderr, "moat: migrate: %s: running at %s: %u rounds, %" PRIu64 " bytes "
		"pre-copied, %" PRIu64 " bytes final, downtime %ld ms, total %ld ms\n", s->name,
		s->to.text, st->rounds, st->precopy_bytes, st->final_bytes, down, total);
}

/* After END, while the checkpointer holds the app: its /tmp, /dev/shm and
 * copy-up layer (MOAT_CTL_SCRATCH), as a u64 length and the archive.  A
 * stream that ended in ERROR has none. */
static int send_scratch(struct src *s)
{
	struct moat_snap_blob b;
	if (moat_mig_stats(s->parse)->error)
		return 0;
	if (moat_ctl_scratch(s->name, &b, s->err, sizeof(s->err)) < 0)
		return -1;
	uint64_t len = b.len;
	int r = put(s->net, &len, sizeof(len)) < 0 || put(s->net, b.data, b.len) < 0 ? -1 : 0;
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "sending its /tmp to the target: %s",
			 strerror(errno));
	moat_snap_blob_free(&b);
	trace(s, "its /tmp sent");
	if (r < 0 && wait_fd(s->net, POLLIN, 0) > 0)
		return target_spoke(s); /* it refused meanwhile: its reason is better */
	return r;
}

/* After END: the target's answer, then the verdict.  0 once it runs. */
static int conclude(struct src *s)
{
	const struct moat_mig_stats *st = moat_mig_stats(s->parse);
	char line[LINE_MAX_], why[LINE_MAX_ + 64];
	if (st->error) { /* it cannot be captured: the target was told so too */
		snprintf(s->err, sizeof(s->err), "%s", st->error_text);
		return -1;
	}
	if (get_line(s->net, line, sizeof(line), ANSWER_MS, "the target's answer", why,
		     sizeof(why)) < 0) {
		snprintf(s->err, sizeof(s->err), "%s; it goes on here", why);
		return -1;
	}
	trace(s, "the target said running");
	if (strcmp(line, "running")) {
		snprintf(s->err, sizeof(s->err), "the target refused: %s",
			 strncmp(line, "error ", 6) ? line : line + 6);
		return -1;
	}
	/* The target runs it: now, and only now, it may end here. */
	char v = MOAT_SNAP_VERDICT_END;
	if (send(s->ck, &v, 1, MSG_NOSIGNAL) != 1)
		fprintf(stderr, "moat: migrate: %s: the target runs it, but its checkpointer here "
			"did not take the verdict (%s): it may run in both places\n", s->name,
			strerror(errno));
	summary(s);
	return 0;
}

static int parse_migrate(struct src *s, int argc, char **argv)
{
	const char *to = NULL;
	char err[512];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage_migrate(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
			to = argv[++i];
		} else if (!strncmp(argv[i], "--to=", 5)) {
			to = argv[i] + 5;
		} else if (argv[i][0] != '-' && !s->name) {
			s->name = argv[i];
		} else {
			usage_migrate(stderr);
			return 2;
		}
	}
	if (!s->name || !to) {
		usage_migrate(stderr);
		return 2;
	}
	if (moat_ctl_name_check(s->name, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: migrate: invalid name: %s\n", err);
		return 2;
	}
	if (parse_addr(to, 0, &s->to, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: migrate: --to %s\n", err);
		return 2;
	}
	return -1;
}

int moat_cmd_migrate(int argc, char **argv)
{
	struct src s = { .net = -1, .ck = -1 };
	int rc = parse_migrate(&s, argc, argv);
	if (rc >= 0)
		return rc;
	rc = 1;
	clock_gettime(CLOCK_MONOTONIC, &s.t0);
	s.pause = s.t0;
	if (connect_to(&s) < 0 || greet(&s) < 0)
		goto fail;
	/* Only now is the source asked: it pre-copies while the app runs. */
	if (moat_ckpt_request("migrate", s.name, 1, &s.ck, &s.manifest, &s.mlen, s.err,
			      sizeof(s.err)) < 0) {
		if (s.ck < 0)
			goto out; /* said already */
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &s.pause); /* with no rounds, the stop is now */
	if (!(s.parse = moat_mig_new(MOAT_MIG_RELAY, s.err, sizeof(s.err))) || send_manifest(&s) < 0 ||
	    pump(&s) < 0 || send_scratch(&s) < 0 || conclude(&s) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	/* The target sees the connection close (a cut stream): it stops. */
	fprintf(stderr, "moat: migrate: %s: %s\n", s.name, s.err);
	if (s.ck >= 0) { /* the app goes on: abort between rounds, continue after */
		char v = s.paused ? MOAT_SNAP_VERDICT_CONTINUE : MOAT_SNAP_ROUND_ABORT;
		if (s.parse && moat_mig_stats(s.parse)->final_bytes)
			v = MOAT_SNAP_VERDICT_CONTINUE;
		send(s.ck, &v, 1, MSG_NOSIGNAL);
	}
out:
	if (s.ck >= 0)
		close(s.ck);
	if (s.net >= 0)
		close(s.net);
	moat_mig_free(s.parse);
	free(s.manifest);
	return rc;
}

/* ====================================================== the target ====== */

struct watch {
	int running_r, err_r;
	int ran;                 /* 'R' came */
	char line[LINE_MAX_];    /* the last "moat: " line the child said */
	char cur[LINE_MAX_];
	size_t curlen;
};

struct rx {
	struct addr at;
	int listen, net;
	char **run_argv;         /* "run", the run options, the package */
	int run_argc;
	int accept;              /* --accept-grants */
	char *manifest;
	size_t mlen;
	struct moat_mig *parse;
	int img_fd, base_fd;             /* the merged image, its base (sealed) */
	size_t img_len;
	uint64_t base_pages;
	struct moat_snap_blob scratch;   /* the saved /tmp, checked */
	int scratch_fd;                  /* its sealed memfd, for the resume */
	unsigned char *after;            /* bytes read past the stream's END */
	size_t after_len, after_off;
	char dir[PATH_MAX], pkg[PATH_MAX + 32];
	pid_t kid;                       /* the moat run started early, or 0 */
	int later;                       /* where its image goes, or -1 */
	struct watch w;                  /* its 'R' and stderr */
	char err[1024];
};

static volatile sig_atomic_t child_pid;

static void usage_receive(FILE *f)
{
	fprintf(f, "usage: moat receive --listen HOST:PORT|unix:PATH [RUN OPTIONS]\n"
		"Take one migration (moat migrate NAME --to ...) and run it here, under the\n"
		"grants of these options, as 'moat run SNAP.mpk' would: --ro, --rw, --net,\n"
		"--accept-grants, --pkg-path, --overlay, --name, --debug, --trace, --no-rewrite.\n"
		"The exit status is the program's.\n");
}

/* The run options receive passes on to moat run. */
static int run_option(const char *opt, int *takes_arg)
{
	static const char *const with[] = { "--ro", "--rw", "--net", "--pkg-path", "--overlay",
					    "--name", NULL };
	static const char *const without[] = { "--accept-grants", "--debug", "--trace",
					       "--no-rewrite", NULL };
	for (int i = 0; with[i]; i++) {
		size_t l = strlen(with[i]);
		if (!strncmp(opt, with[i], l) && (!opt[l] || opt[l] == '=')) {
			*takes_arg = !opt[l];
			return 1;
		}
	}
	for (int i = 0; without[i]; i++)
		if (!strcmp(opt, without[i])) {
			*takes_arg = 0;
			return 1;
		}
	return 0;
}

static int parse_receive(struct rx *r, int argc, char **argv)
{
	const char *listen_at = NULL;
	char err[512];
	r->run_argv = calloc((size_t)argc + 3, sizeof(char *));
	r->run_argv[r->run_argc++] = "run";
	for (int i = 1; i < argc; i++) {
		int arg;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage_receive(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen_at = argv[++i];
		} else if (!strncmp(argv[i], "--listen=", 9)) {
			listen_at = argv[i] + 9;
		} else if (run_option(argv[i], &arg) && (!arg || i + 1 < argc)) {
			r->accept |= !strcmp(argv[i], "--accept-grants");
			r->run_argv[r->run_argc++] = argv[i];
			if (arg)
				r->run_argv[r->run_argc++] = argv[++i];
		} else {
			usage_receive(stderr);
			return 2;
		}
	}
	if (!listen_at) {
		usage_receive(stderr);
		return 2;
	}
	if (parse_addr(listen_at, 1, &r->at, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: receive: --listen %s\n", err);
		return 2;
	}
	return -1;
}

static int listen_on(struct rx *r)
{
	int fd = socket(r->at.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0 && !r->at.unix_path)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&r->at.ss, r->at.len) < 0 || listen(fd, 1) < 0) {
		snprintf(r->err, sizeof(r->err), "%s: %s", r->at.text, strerror(errno));
		if (fd >= 0)
			close(fd);
		r->at.unix_path = 0; /* not ours to remove */
		return -1;
	}
	r->listen = fd;
	fprintf(stderr, "moat: receive: listening on %s\n", r->at.text);
	return 0;
}

/* One connection, then no more: the listener goes. */
static int accept_one(struct rx *r)
{
	int fd;
	do
		fd = accept4(r->listen, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	close(r->listen);
	r->listen = -1;
	if (r->at.unix_path)
		unlink(((struct sockaddr_un *)&r->at.ss)->sun_path);
	r->at.unix_path = 0;
	if (fd < 0) {
		snprintf(r->err, sizeof(r->err), "accept: %s", strerror(errno));
		return -1;
	}
	r->net = fd;
	return 0;
}

/* MOAT_MIG_TRACE=1: the target's steps after the stream's END. */
static void rx_trace(const char *what)
{
	static struct timespec end;
	static int on = -1;
	if (on < 0) {
		on = getenv("MOAT_MIG_TRACE") && *getenv("MOAT_MIG_TRACE") == '1';
		clock_gettime(CLOCK_MONOTONIC, &end);
	}
	if (on) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "moat: receive: trace: %.1f ms after the END: %s\n",
			(double)(now.tv_sec - end.tv_sec) * 1e3 +
				(double)(now.tv_nsec - end.tv_nsec) / 1e6, what);
	}
}

static int take_hello(struct rx *r)
{
	struct mig_hello h;
	char why[256];
	if (get(r->net, &h, sizeof(h), IDLE_MS, "the source's hello", why, sizeof(why)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		return -1;
	}
	if (memcmp(h.magic, MIG_MAGIC, 8)) {
		snprintf(r->err, sizeof(r->err), "not a moat migration (bad hello)");
		return -1;
	}
	if (h.version != MIG_VERSION || h.flags) {
		snprintf(r->err, sizeof(r->err), "migration version %u flags %#x; this moat takes "
			 "version %d", h.version, h.flags, MIG_VERSION);
		return -1;
	}
	static const char ready[] = MIG_READY "\n";
	if (put(r->net, ready, sizeof(ready) - 1) < 0) {
		snprintf(r->err, sizeof(r->err), "answering the source: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Is the manifest a snapshot's, taken by this moat-pico, its [Snapshot]
 * section last (where image_len and image_hash will be appended)? */
static int check_manifest(struct rx *r)
{
	static const char probe[] = "image_len = 0\nimage_hash = 0000000000000000\n";
	char why[512], pico[PATH_MAX + 32], hash[33];
	if (memchr(r->manifest, 0, r->mlen) || r->manifest[r->mlen - 1] != '\n') {
		snprintf(r->err, sizeof(r->err), "the source's manifest is not text ending in a "
			 "newline");
		return -1;
	}
	memcpy(r->manifest + r->mlen, probe, sizeof(probe) - 1);
	struct moat_manifest m;
	int ok = moat_manifest_parse_package(r->manifest, r->mlen + sizeof(probe) - 1,
					     "the source's manifest", &m, why, sizeof(why)) == 0;
	if (!ok) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		return -1;
	}
	ok = m.is_snapshot && m.snap.image_len && !strcmp(m.snap.image_len, "0") &&
	     m.snap.image_hash && !strcmp(m.snap.image_hash, "0000000000000000");
	moat_pico_default(pico, sizeof(pico));
	int same = ok && m.snap.pico && moat_snap_file_hash(pico, hash) == 0 &&
		   !strcmp(m.snap.pico, hash);
	moat_manifest_free(&m);
	if (!ok)
		snprintf(r->err, sizeof(r->err), "the source's manifest is no snapshot's "
			 "([Snapshot] missing or not last)");
	else if (!same)
		snprintf(r->err, sizeof(r->err), "taken by another build of moat-pico than %.300s; "
			 "migrate between the same builds", pico);
	return ok && same ? 0 : -1;
}

static int take_manifest(struct rx *r)
{
	uint64_t len;
	char why[256];
	if (get(r->net, &len, sizeof(len), IDLE_MS, "the source's manifest", why, sizeof(why)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		return -1;
	}
	if (len == 0 || len > MANIFEST_MAX) {
		snprintf(r->err, sizeof(r->err), "a manifest of %" PRIu64 " bytes (1 to %d)", len,
			 MANIFEST_MAX);
		return -1;
	}
	r->mlen = (size_t)len;
	r->manifest = malloc(r->mlen + 256);
	if (!r->manifest) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return -1;
	}
	if (get(r->net, r->manifest, r->mlen, IDLE_MS, "the source's manifest", why,
		sizeof(why)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		return -1;
	}
	return check_manifest(r);
}

/* What came in the same read as END: the start of the saved /tmp. */
static int keep_after(struct rx *r, const unsigned char *p, size_t n)
{
	if (!n)
		return 0;
	if (!(r->after = malloc(n))) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return -1;
	}
	memcpy(r->after, p, n);
	r->after_len = n;
	return 0;
}

/* Exactly n bytes after the stream: those kept by keep_after first. */
static int get_after(struct rx *r, void *buf, size_t n, const char *what, char *err,
		     size_t errlen)
{
	size_t k = r->after_len - r->after_off < n ? r->after_len - r->after_off : n;
	if (k)
		memcpy(buf, r->after + r->after_off, k);
	r->after_off += k;
	return k == n ? 0 : get(r->net, (char *)buf + k, n - k, IDLE_MS, what, err, errlen);
}

/* The stream, through END, into the parser (which keeps it). */
static int take_stream(struct rx *r)
{
	static unsigned char buf[CHUNK];
	char why[512];
	if (!(r->parse = moat_mig_new(MOAT_MIG_KEEP, r->err, sizeof(r->err))))
		return -1;
	for (;;) {
		int w = wait_fd(r->net, POLLIN, IDLE_MS);
		ssize_t n = w > 0 ? recv(r->net, buf, sizeof(buf), 0) : -1;
		if (n < 0 && errno == EINTR)
			continue;
		const struct moat_mig_stats *st = moat_mig_stats(r->parse);
		if (w == 0 || n <= 0) {
			snprintf(r->err, sizeof(r->err), "the stream %s after %" PRIu64 " bytes",
				 w == 0 ? "stopped for 10 s" : n == 0 ? "was cut short"
				 : strerror(errno), st->total);
			return -1;
		}
		for (size_t off = 0; off < (size_t)n;) {
			int ev;
			long k = moat_mig_feed(r->parse, buf + off, (size_t)n - off, &ev, why, sizeof(why));
			if (k < 0) {
				snprintf(r->err, sizeof(r->err), "a malformed migration stream: %s", why);
				return -1;
			}
			off += (size_t)k;
			if (ev == MOAT_MIG_END && off < (size_t)n && st->error) {
				snprintf(r->err, sizeof(r->err), "bytes after the stream's END");
				return -1;
			}
			if (ev == MOAT_MIG_END)
				return keep_after(r, buf + off, (size_t)n - off);
		}
	}
}

/* n bytes from the source into fd (a memfd), with the idle timeout. */
static int take_into(struct rx *r, int fd, uint64_t n, const char *what)
{
	char why[256], *buf = malloc(CHUNK);
	int ok = buf != NULL;
	for (uint64_t done = 0; ok && done < n;) {
		size_t k = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
		ok = get_after(r, buf, k, what, why, sizeof(why)) == 0;
		if (!ok)
			snprintf(r->err, sizeof(r->err), "%s", why);
		else if (write(fd, buf, k) != (ssize_t)k)
			ok = 0, snprintf(r->err, sizeof(r->err), "%s: %s", what,
					 strerror(errno ? errno : ENOSPC));
		done += k;
	}
	if (!buf)
		snprintf(r->err, sizeof(r->err), "out of memory");
	free(buf);
	return ok ? 0 : -1;
}

/* Nothing changes fd's bytes or size from here on: the resume takes it
 * as it is (moat_snap_adopt checks the seals). */
static int seal(int fd)
{
	return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
}

/* The saved /tmp after the stream: a u64 length, bounded, then the
 * archive, checked whole (moat_scratch_check) and sealed for the resume;
 * moat run checks it again, and loads it as untrusted. */
static int take_scratch(struct rx *r)
{
	uint64_t len;
	char why[512];
	struct moat_scratch_counts c;
	if (moat_mig_stats(r->parse)->error)
		return 0; /* nothing follows an ERROR: merge_image says why */
	if (get_after(r, &len, sizeof(len), "the source's /tmp", why, sizeof(why)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		return -1;
	}
	if (len < SCRATCH_MIN || len > MOAT_SNAP_MAX_SCRATCH) {
		snprintf(r->err, sizeof(r->err), "the source's /tmp: an archive of %" PRIu64
			 " bytes (%d to %llu)", len, SCRATCH_MIN,
			 (unsigned long long)MOAT_SNAP_MAX_SCRATCH);
		return -1;
	}
	int fd = memfd_create("moat-receive-scratch", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p = MAP_FAILED;
	if (fd < 0)
		snprintf(r->err, sizeof(r->err), "memfd: %s", strerror(errno));
	else if (take_into(r, fd, len, "the source's /tmp") == 0 && seal(fd) < 0)
		snprintf(r->err, sizeof(r->err), "sealing its /tmp: %s", strerror(errno));
	else if ((p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		snprintf(r->err, sizeof(r->err), "mapping its /tmp: %s", strerror(errno));
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	r->scratch_fd = fd;
	r->scratch = (struct moat_snap_blob){ p, (size_t)len };
	if (r->after_off < r->after_len) { /* the source says nothing more now */
		snprintf(r->err, sizeof(r->err), "bytes after the saved /tmp");
		return -1;
	}
	if (moat_scratch_check(p, (size_t)len, &c, why, sizeof(why)) < 0) {
		snprintf(r->err, sizeof(r->err), "the source's /tmp: %s", why);
		return -1;
	}
	return 0;
}

/* [Snapshot]'s lengths of what the resume takes from memory; no hashes
 * (zeros): the bytes never leave this host's memory, and a package
 * without its image cannot be resumed by anyone else. */
static char *package_manifest(struct rx *r, size_t *tlen)
{
	char *text = malloc(r->mlen + 256);
	if (!text)
		return NULL;
	memcpy(text, r->manifest, r->mlen);
	*tlen = r->mlen + (size_t)snprintf(text + r->mlen, 256,
					   "image_len = %zu\nimage_hash = %016d\n"
					   "scratch_len = %zu\nscratch_hash = %016d\n",
					   r->img_len, 0, r->scratch.len, 0);
	return text;
}

/* Where the package goes: $TMPDIR, else a tmpfs.  It lives only until
 * the app runs, but moat_package_write fsyncs it (4-20 ms on an ext4
 * /tmp here, 0.02 ms on tmpfs). */
static const char *package_dir(void)
{
	const char *t = getenv("TMPDIR");
	if (t && *t)
		return t;
	struct stat st;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return "/tmp";
}

/* A package of the manifest alone in a private directory, for moat run
 * to resolve its dependencies as for any snapshot; written before the
 * stream, so its lengths are 0: the image comes in memory later
 * (hand_over), checked against the real ones. */
static int write_package(struct rx *r)
{
	char why[512];
	const char *tmp = package_dir();
	snprintf(r->dir, sizeof(r->dir), "%s/moat-receive.XXXXXX", tmp);
	if (!mkdtemp(r->dir)) { /* mode 0700: the manifest names the app */
		snprintf(r->err, sizeof(r->err), "%s: %s", r->dir, strerror(errno));
		r->dir[0] = 0;
		return -1;
	}
	snprintf(r->pkg, sizeof(r->pkg), "%s/migrated.mpk", r->dir);
	size_t tlen = 0;
	char *text = package_manifest(r, &tlen);
	struct moat_pkg_source dir = { .path = "/.moat", .mode = S_IFDIR | 0755 };
	int ok = text && moat_package_write(r->pkg, text, tlen, &dir, 1, why, sizeof(why)) == 0;
	if (!ok)
		snprintf(r->err, sizeof(r->err), "%s", text ? why : "out of memory");
	free(text);
	return ok ? 0 : -1;
}

/* The image the stream makes: merged and sealed.  Nothing is compressed
 * or hashed while the app is stopped. */
static int merge_image(struct rx *r)
{
	const struct moat_mig_stats *st = moat_mig_stats(r->parse);
	char why[512];
	if (st->error) {
		snprintf(r->err, sizeof(r->err), "the source cannot be captured: %.900s", st->error_text);
		return -1;
	}
	if (moat_snap_merge_ref(r->parse, &r->img_fd, &r->img_len, &r->base_fd, &r->base_pages,
				why, sizeof(why)) < 0) {
		snprintf(r->err, sizeof(r->err), "a malformed migration stream: %s", why);
		return -1;
	}
	rx_trace("the image merged");
	moat_mig_free(r->parse); /* the image and r->base_fd hold what it kept */
	r->parse = NULL;
	if (seal(r->img_fd) < 0) {
		snprintf(r->err, sizeof(r->err), "sealing the image: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The image, its base and saved /tmp, checked as moat run checks a
 * package's (moat_snap_adopt against the real lengths, then for a
 * failed checkpoint), to the moat run started early: its picoprocess's
 * "snapshot:in" waits for them.  If that moat run already ended, the
 * send fails, and resume() tells why. */
static int hand_over(struct rx *r)
{
	char why[1024], what[512];
	size_t tlen = 0;
	struct moat_manifest m;
	struct moat_snap_loaded ld = { .memfd = -1, .scratch_fd = -1, .base_fd = -1 };
	char *text = package_manifest(r, &tlen);
	if (!text) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return -1;
	}
	int parsed = moat_manifest_parse_package(text, tlen, "the source's manifest", &m, why,
						 sizeof(why)) == 0;
	free(text);
	int ok = parsed && moat_snap_adopt(r->pkg, &m, r->img_fd, r->base_fd, r->scratch_fd, &ld,
					   why, sizeof(why)) == 0;
	if (parsed)
		moat_manifest_free(&m);
	if (ok && moat_snap_error_text(ld.image, ld.len, what, sizeof(what))) {
		snprintf(why, sizeof(why), "the source cannot be captured: %s", what);
		ok = 0;
	}
	if (!ok) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		moat_snap_unload(&ld);
		return -1;
	}
	int32_t flags = (ld.base_fd >= 0 ? MOAT_LATER_BASE : 0) |
			(ld.scratch_fd >= 0 ? MOAT_LATER_SCRATCH : 0);
	int fds[3] = { ld.memfd }, n = 1;
	if (ld.base_fd >= 0)
		fds[n++] = ld.base_fd;
	if (ld.scratch_fd >= 0)
		fds[n++] = ld.scratch_fd;
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { &flags, sizeof(flags) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	if (sendmsg(r->later, &msg, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
		fprintf(stderr, "moat: receive: handing the image over: %s\n", strerror(errno));
	moat_snap_unload(&ld);
	close(r->later);
	r->later = -1;
	return 0;
}

static void remove_package(struct rx *r)
{
	if (!r->dir[0])
		return;
	unlink(r->pkg);
	rmdir(r->dir);
	r->dir[0] = 0;
}

/* Signals for moat receive go to the moat run it started, which passes
 * them on as moat run does; a terminal's own SIGINT or SIGQUIT reached
 * that child already (same process group). */
static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if ((sig == SIGINT || sig == SIGQUIT) && si->si_code != SI_USER)
		return;
	if (child_pid > 0)
		kill(child_pid, sig);
}

static void forward_signals(int on)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
	if (!on)
		sa = (struct sigaction){ .sa_handler = SIG_DFL };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The child: moat run on the package, its stderr to errw, its image
 * from 'later' once the stream has ended. */
static _Noreturn void run_child(struct rx *r, int running, int errw, int later)
{
	forward_signals(0);
	close(r->net);
	dup2(errw, 2);
	close(errw);
	r->run_argv[r->run_argc++] = r->pkg;
	r->run_argv[r->run_argc] = NULL;
	moat_run_later(later);
	int rc = moat_run_main(r->run_argc, r->run_argv, running);
	fflush(NULL);
	exit(rc);
}

/* The child's stderr, on to ours; its last "moat: " line kept. */
static void pass_stderr(struct watch *w)
{
	char buf[4096];
	ssize_t n = read(w->err_r, buf, sizeof(buf));
	if (n <= 0) {
		close(w->err_r);
		w->err_r = -1;
		return;
	}
	if (write(2, buf, (size_t)n) < 0) {
		/* our stderr is gone: nothing to tell */
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (w->curlen + 1 < sizeof(w->cur))
				w->cur[w->curlen++] = buf[i];
			continue;
		}
		w->cur[w->curlen] = 0;
		if (!strncmp(w->cur, "moat: ", 6))
			snprintf(w->line, sizeof(w->line), "%s", w->cur + 6);
		w->curlen = 0;
	}
}

static int exit_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

/* Until the child ends: its stderr passed on, 'R' turned into "running"
 * for the source; the source gone before that stops the child. */
static int supervise(struct rx *r, pid_t pid, struct watch *w)
{
	int status = 0, ended = 0;
	while (!ended || w->err_r >= 0) {
		struct pollfd p[3] = { { w->err_r, POLLIN, 0 }, { w->running_r, POLLIN, 0 },
				       { w->ran ? -1 : r->net, POLLIN, 0 } };
		int n = poll(p, 3, ended ? 200 : 500);
		if (n < 0 && errno != EINTR)
			break;
		if (!ended && waitpid(pid, &status, WNOHANG) == pid)
			ended = 1;
		if (n == 0 && ended)
			break; /* a grandchild keeps our stderr: enough */
		if (n <= 0)
			continue;
		if (p[0].revents)
			pass_stderr(w);
		if (p[1].revents) {
			char c = 0;
			ssize_t k = read(w->running_r, &c, 1);
			close(w->running_r);
			w->running_r = -1;
			if (k == 1 && c == 'R') {
				rx_trace("the resumed app runs");
				w->ran = 1;
				remove_package(r);
				fprintf(stderr, "moat: receive: it runs here now\n");
				static const char running[] = "running\n";
				if (put(r->net, running, sizeof(running) - 1) < 0)
					fprintf(stderr, "moat: receive: it runs here, but the source did not "
						"hear it (%s): it may run in both places\n", strerror(errno));
			}
		}
		if (p[2].revents && !w->ran) {
			fprintf(stderr, "moat: receive: the source went away before the resume ran; "
				"stopping it here\n");
			kill(pid, SIGKILL);
			snprintf(w->line, sizeof(w->line), "the source went away");
			r->net = (close(r->net), -1);
		}
	}
	if (!ended)
		waitpid(pid, &status, 0);
	return exit_status(status);
}

/* moat run on the package, started as soon as the manifest is in: its
 * monitor and picoprocess set up (namespaces, cgroup, scratch, filter,
 * the boot of moat-pico) while the pre-copy goes on, so that after the
 * END only the restore is left.  Its picoprocess waits in "snapshot:in"
 * for hand_over. */
static int start_early(struct rx *r)
{
	int running[2], errp[2], later[2];
	if (write_package(r) < 0)
		return -1;
	if (pipe2(running, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, later) < 0) {
		snprintf(r->err, sizeof(r->err), "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(r->err, sizeof(r->err), "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(running[0]);
		close(errp[0]);
		close(later[0]); /* its end must be the only one left: hand_over's close ends it */
		run_child(r, running[1], errp[1], later[1]);
	}
	child_pid = r->kid = pid;
	close(running[1]);
	close(errp[1]);
	close(later[1]);
	r->later = later[0];
	r->w = (struct watch){ .running_r = running[0], .err_r = errp[0] };
	return 0;
}

/* The stream failed here (receive says why): the early moat run gets no
 * image, its picoprocess's "snapshot:in" fails and it ends; what it says
 * is not the user's business.  Killed if it takes long. */
static void abandon(struct rx *r)
{
	if (r->later >= 0)
		close(r->later);
	r->later = -1;
	int status;
	for (int i = 0; i < 100 && waitpid(r->kid, &status, WNOHANG) == 0; i++) {
		struct pollfd p = { r->w.err_r, POLLIN, 0 };
		char buf[4096];
		if (poll(&p, r->w.err_r >= 0, 100) > 0 && read(r->w.err_r, buf, sizeof(buf)) <= 0)
			r->w.err_r = (close(r->w.err_r), -1);
		if (i == 99) {
			kill(r->kid, SIGKILL);
			waitpid(r->kid, &status, 0);
		}
	}
	r->kid = 0;
}

/* Until the resumed app runs, or its moat run ends; tell the source. */
static int resume(struct rx *r)
{
	struct watch *w = &r->w;
	int rc = supervise(r, r->kid, w);
	r->kid = 0;
	if (w->ran)
		return rc;
	snprintf(r->err, sizeof(r->err), "the resume failed (exit status %d)%s%s", rc,
		 w->line[0] ? ": " : "", w->line);
	if (r->net >= 0)
		put_error(r->net, r->err);
	fprintf(stderr, "moat: receive: %s; it goes on at the source\n", r->err);
	return rc ? rc : 1;
}

int moat_cmd_receive(int argc, char **argv)
{
	struct rx r = { .listen = -1, .net = -1, .img_fd = -1, .base_fd = -1, .scratch_fd = -1,
			.later = -1, .w = { .running_r = -1, .err_r = -1 } };
	int rc = parse_receive(&r, argc, argv);
	if (rc >= 0) {
		free(r.run_argv);
		return rc;
	}
	rc = 1;
	if (listen_on(&r) < 0 || accept_one(&r) < 0) {
		fprintf(stderr, "moat: receive: %s\n", r.err);
		goto out;
	}
	if (take_hello(&r) < 0 || take_manifest(&r) < 0 || start_early(&r) < 0 ||
	    take_stream(&r) < 0 || (rx_trace("the stream's END"), take_scratch(&r) < 0) ||
	    (rx_trace("its /tmp taken"), merge_image(&r) < 0) || hand_over(&r) < 0) {
		fprintf(stderr, "moat: receive: %s\n", r.err);
		if (r.net >= 0)
			put_error(r.net, r.err);
		if (r.kid > 0)
			abandon(&r);
		goto out;
	}
	rx_trace("the image handed over");
	forward_signals(1); /* till now, a signal ends receive, and so the early moat run */
	rc = resume(&r);
out:
	remove_package(&r);
	if (r.at.unix_path)
		unlink(((struct sockaddr_un *)&r.at.ss)->sun_path);
	if (r.listen >= 0)
		close(r.listen);
	if (r.net >= 0)
		close(r.net);
	if (r.img_fd >= 0)
		close(r.img_fd);
	if (r.scratch_fd >= 0)
		close(r.scratch_fd);
	if (r.base_fd >= 0)
		close(r.base_fd);
	if (r.later >= 0)
		close(r.later);
	if (r.w.running_r >= 0)
		close(r.w.running_r);
	if (r.w.err_r >= 0)
		close(r.w.err_r);
	moat_mig_free(r.parse);
	moat_snap_blob_free(&r.scratch);
	free(r.after);
	free(r.manifest);
	free(r.run_argv);
	return rc;
}
