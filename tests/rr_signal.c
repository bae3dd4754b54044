/* rr_signal.c -- output that depends on when signals arrive, for
 * tests/test_extensions.sh: an interval timer ticks while the program
 * loops over clock reads, a one-shot alarm ends a pause(), another one
 * cuts a nanosleep short.  A replay must print exactly what the
 * recorded run printed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static void arm(long first_us, long every_us)
{
	struct itimerval it = { { 0, every_us }, { 0, first_us } };
	setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	/* Ticks every 2 ms; how many clock reads fit between two is chance. */
	arm(2000, 2000);
	long loops = 0;
	int seen = 0;
	struct timespec t;
	while (seen < 5) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		loops++;
		if (ticks != seen) {
			seen = ticks;
			printf("tick %d after %ld clock reads\n", seen, loops);
		}
	}
	arm(0, 0);

	arm(3000, 0);
	int before = ticks;
	pause();
	printf("pause ended by tick %d (was %d)\n", (int)ticks, before);

	arm(5000, 0);
	struct timespec req = { 2, 0 }, rem;
	int r = nanosleep(&req, &rem);
	printf("nanosleep: %d %s, %ld ms left\n", r, r ? strerror(errno) : "",
	       (long)rem.tv_sec * 1000 + rem.tv_nsec / 1000000);
	return 0;
}
