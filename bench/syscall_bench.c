/*
 * syscall_bench.c -- per-operation costs, run natively and inside moat.
 *
 * Built by bench/run.sh with `gcc -static -O2`; not a test.  Usage:
 *
 *     syscall_bench DIR [--smoke]
 *
 * DIR is a writable scratch directory (granted with --rw under moat).
 * For each operation the loop count is calibrated so that one repetition
 * takes about 30 ms (3 ms with --smoke), then 5 (3) repetitions are
 * timed; one line per operation is printed, with the time per operation
 * of each repetition in nanoseconds:
 *
 *     OP ITERATIONS NS_REP1 NS_REP2 ...
 *
 * bench/run.sh runs this several times, alternating native and moat runs
 * so that load from elsewhere hits both alike, and report.py takes the
 * median, min and max over all repetitions.
 *
 * pipe_4k and pipe_1m move data through a pipe from a forked writer
 * process, which writes 4 KiB (1 MiB) chunks as fast as it can, to this
 * one, which reads until it has a whole chunk: one operation is one chunk
 * across (a 1 MiB chunk takes several reads, as a pipe holds 64 KiB).
 *
 * The time source is clock_gettime(CLOCK_MONOTONIC), read only twice per
 * repetition, so its own cost (a trapped syscall under moat, where there
 * is no vDSO) is amortised over thousands of operations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (8u << 20) /* data file: 8 MiB, stays in the page cache */
#define BIG (1u << 20)

static char buf[BIG] __attribute__((aligned(4096)));
static char rd_path[4096], wr_path[4096];
static int rd_fd = -1, wr_fd = -1;
static uint64_t rd_pos, wr_pos;
static volatile long sink;

static void die(const char *what)
{
	fprintf(stderr, "syscall_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- the operations; each runs one op 'n' times --- */

static void op_getpid(long n)
{
	for (long i = 0; i < n; i++)
		sink = syscall(SYS_getpid); /* a raw 'syscall' instruction */
}

static void op_open_close(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(rd_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open");
		close(fd);
	}
}

static void op_stat(long n)
{
	struct stat st;
	for (long i = 0; i < n; i++) {
		if (stat(rd_path, &st) < 0)
			die("stat");
		sink = st.st_size;
	}
}

/* Sequential read()/write() through the 8 MiB file, rewinding with
 * lseek() at its end (one lseek per 8 MiB: amortised, but counted). */
static void seq_read(long n, size_t sz)
{
	for (long i = 0; i < n; i++) {
		if (rd_pos + sz > FILE_SIZE) {
			if (lseek(rd_fd, 0, SEEK_SET) < 0)
				die("lseek");
			rd_pos = 0;
		}
		ssize_t r = read(rd_fd, buf, sz);
		if (r != (ssize_t)sz)
			die("read");
		rd_pos += sz;
	}
}

static void seq_write(long n, size_t sz)
{
	for (long i = 0; i < n; i++) {
		if (wr_pos + sz > FILE_SIZE) {
			if (lseek(wr_fd, 0, SEEK_SET) < 0)
				die("lseek");
			wr_pos = 0;
		}
		ssize_t r = write(wr_fd, buf, sz);
		if (r != (ssize_t)sz)
			die("write");
		wr_pos += sz;
	}
}

static void op_read_4k(long n) { seq_read(n, 4096); }
static void op_read_1m(long n) { seq_read(n, BIG); }
static void op_write_4k(long n) { seq_write(n, 4096); }
static void op_write_1m(long n) { seq_write(n, BIG); }

/* --- pipes: a forked writer, this process reads --- */

static int pipe_rd = -1;
static pid_t pipe_writer;

static void pipe_start(size_t chunk)
{
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pipe_writer = fork();
	if (pipe_writer < 0)
		die("fork");
	if (pipe_writer == 0) {
		/* Write whole chunks until the reader closes its end. */
		signal(SIGPIPE, SIG_IGN);
		close(p[0]);
		for (;;) {
			size_t done = 0;
			while (done < chunk) {
				ssize_t w = write(p[1], buf + done, chunk - done);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					_exit(w < 0 && errno == EPIPE ? 0 : 1);
				done += (size_t)w;
			}
		}
	}
	close(p[1]);
	pipe_rd = p[0];
}

static void pipe_stop(void)
{
	int st;
	close(pipe_rd);
	pipe_rd = -1;
	while (waitpid(pipe_writer, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid (pipe writer)");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "syscall_bench: pipe writer ended with status 0x%x\n", st);
		exit(1);
	}
}

static void pipe_read(long n, size_t chunk)
{
	for (long i = 0; i < n; i++) {
		size_t done = 0;
		while (done < chunk) {
			ssize_t r = read(pipe_rd, buf + done, chunk - done);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				die("read (pipe)");
			done += (size_t)r;
		}
	}
}

static void op_pipe_4k(long n) { pipe_read(n, 4096); }
static void op_pipe_1m(long n) { pipe_read(n, BIG); }
/* The first chunks wait for the writer to start: not part of calibration. */
static void pipe_start_4k(void) { pipe_start(4096); pipe_read(16, 4096); }
static void pipe_start_1m(void) { pipe_start(BIG); pipe_read(4, BIG); }

static const struct {
	const char *name;
	void (*fn)(long);
	void (*setup)(void), (*teardown)(void);
} ops[] = {
	{ "getpid", op_getpid, NULL, NULL },
	{ "open_close", op_open_close, NULL, NULL },
	{ "stat", op_stat, NULL, NULL },
	{ "read_4k", op_read_4k, NULL, NULL },
	{ "read_1m", op_read_1m, NULL, NULL },
	{ "write_4k", op_write_4k, NULL, NULL },
	{ "write_1m", op_write_1m, NULL, NULL },
	{ "pipe_4k", op_pipe_4k, pipe_start_4k, pipe_stop },
	{ "pipe_1m", op_pipe_1m, pipe_start_1m, pipe_stop },
};

static void make_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create data file");
	memset(buf, 'x', sizeof(buf));
	for (unsigned done = 0; done < FILE_SIZE; done += BIG)
		if (write(fd, buf, BIG) != (ssize_t)BIG)
			die("fill data file");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: syscall_bench DIR [--smoke] [OP...]\n");
		return 2;
	}
	int smoke = 0;
	const char *only[16];
	int n_only = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke"))
			smoke = 1;
		else if (n_only < 16)
			only[n_only++] = argv[i];
	}
	const uint64_t target_ns = smoke ? 3000000u : 30000000u; /* per rep */
	const int reps = smoke ? 3 : 5;

	snprintf(rd_path, sizeof(rd_path), "%s/read.dat", argv[1]);
	snprintf(wr_path, sizeof(wr_path), "%s/write.dat", argv[1]);
	make_file(rd_path);
	make_file(wr_path);
	rd_fd = open(rd_path, O_RDONLY | O_CLOEXEC);
	wr_fd = open(wr_path, O_WRONLY | O_CLOEXEC);
	if (rd_fd < 0 || wr_fd < 0)
		die("open data files");

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		if (n_only) {
			int want = 0;
			for (int i = 0; i < n_only; i++)
				want |= !strcmp(only[i], ops[k].name);
			if (!want)
				continue;
		}
		if (ops[k].setup)
			ops[k].setup();
		/* Calibrate (this also warms caches): double until a batch
		 * takes a tenth of the target, then scale up. */
		long n = 1;
		uint64_t t;
		for (;;) {
			uint64_t t0 = now_ns();
			ops[k].fn(n);
			t = now_ns() - t0;
			if (t >= target_ns / 10 || n >= (1L << 30))
				break;
			n *= 2;
		}
		long iters = (long)((double)n * (double)target_ns / (double)(t ? t : 1));
		if (iters < 1)
			iters = 1;
		printf("%s %ld", ops[k].name, iters);
		for (int r = 0; r < reps; r++) {
			uint64_t t0 = now_ns();
			ops[k].fn(iters);
			printf(" %.1f", (double)(now_ns() - t0) / (double)iters);
		}
		printf("\n");
		fflush(stdout);
		if (ops[k].teardown)
			ops[k].teardown();
	}
	close(rd_fd);
	close(wr_fd);
	unlink(rd_path);
	unlink(wr_path);
	return 0;
}
