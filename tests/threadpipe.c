/* threadpipe.c -- threads and pipes as programs see them (issue 17 made
 * both faster; their behaviour must stay Linux's).
 *
 *     threadpipe threads N   create and join N threads in a row, each
 *                            returning its argument; "at 1000" and
 *                            "at N" are printed, each followed by a
 *                            1 s pause (tests/test_libos_misc.sh reads
 *                            the picoprocess's RSS then)
 *     threadpipe pipes       one 1 MiB write, short reads, EOF, EPIPE,
 *                            PIPE_BUF atomicity, and a signal that
 *                            interrupts a blocked read and a blocked
 *                            write (which returns what it wrote)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *body(void *a) { return a; }

static int threads(long n)
{
	for (long i = 0; i < n; i++) {
		pthread_t t;
		void *r;
		if (pthread_create(&t, NULL, body, (void *)i) || pthread_join(t, &r) ||
		    r != (void *)i) {
			printf("thread %ld failed\n", i);
			return 1;
		}
		if (i + 1 == 1000 || i + 1 == n) {
			printf("at %ld\n", i + 1);
			fflush(stdout);
			sleep(1);
		}
	}
	return 0;
}

static void on_alarm(int s) { (void)s; }

static void big_write(void)
{
	static char buf[1 << 20];
	int p[2];
	if (pipe(p) < 0)
		exit(1);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	pid_t w = fork();
	if (w == 0) {
		close(p[0]);
		_exit(write(p[1], buf, sizeof(buf)) == sizeof(buf) ? 0 : 2);
	}
	close(p[1]);
	size_t got = 0, bad = 0;
	char chunk[5000];
	ssize_t r;
	while ((r = read(p[0], chunk, sizeof(chunk))) > 0) {
		for (ssize_t k = 0; k < r; k++)
			bad += chunk[k] != (char)((got + k) * 7);
		got += r;
	}
	int st;
	waitpid(w, &st, 0);
	printf("1 MiB in one write: read %zu bytes, %zu wrong, read at EOF %zd, writer status %d\n",
	       got, bad, r, WEXITSTATUS(st));
	close(p[0]);
}

static void short_read_and_epipe(void)
{
	int p[2];
	char buf[4096];
	if (pipe(p) < 0)
		exit(1);
	ssize_t w = write(p[1], "hello", 5);
	ssize_t r = read(p[0], buf, sizeof(buf));
	printf("short read: wrote %zd, read %zd\n", w, r);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	w = write(p[1], "x", 1);
	printf("write with no reader: %zd %s\n", w, strerror(errno));
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

/* Four writers of 512-byte records (<= PIPE_BUF): none is split. */
static void atomic_records(void)
{
	int p[2];
	if (pipe(p) < 0)
		exit(1);
	for (int c = 0; c < 4; c++) {
		if (fork() == 0) {
			char rec[512];
			memset(rec, 'a' + c, sizeof(rec));
			close(p[0]);
			for (int i = 0; i < 200; i++)
				if (write(p[1], rec, sizeof(rec)) != sizeof(rec))
					_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	char rec[512];
	int records = 0, torn = 0;
	for (;;) {
		size_t got = 0;
		ssize_t r = 1;
		while (got < sizeof(rec) && (r = read(p[0], rec + got, sizeof(rec) - got)) > 0)
			got += r;
		if (got < sizeof(rec))
			break;
		records++;
		for (size_t k = 1; k < sizeof(rec); k++)
			torn += rec[k] != rec[0];
	}
	while (wait(NULL) > 0)
		;
	printf("records %d, torn bytes %d\n", records, torn);
	close(p[0]);
}

static void interrupted(void)
{
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	int p[2];
	char buf[16];
	if (pipe(p) < 0)
		exit(1);
	alarm(1);
	ssize_t r = read(p[0], buf, sizeof(buf));
	printf("blocked read, then a signal: %zd %s\n", r, strerror(errno));
	static char big[1 << 20];
	alarm(1);
	r = write(p[1], big, sizeof(big));
	printf("blocked 1 MiB write, then a signal: %zd\n", r);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "threads") == 0)
		return threads(atol(argv[2]));
	if (argc == 2 && strcmp(argv[1], "pipes") == 0) {
		setvbuf(stdout, NULL, _IONBF, 0);
		big_write();
		short_read_and_epipe();
		atomic_records();
		interrupted();
		return 0;
	}
	fprintf(stderr, "usage: threadpipe threads N | pipes\n");
	return 2;
}
