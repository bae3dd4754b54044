/* rr_spin.c -- waits for three ticks of a 2 ms interval timer in a loop
 * that makes no system call, for tests/test_extensions.sh: record cannot
 * hold such signals to a downcall (there is none), so it hands them on
 * where they land, marked inexact, and a replay delivers as many, at
 * ticks of its own timer, and says so. */
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

int main(void)
{
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
	while (ticks < 3)
		;
	printf("ticks %d\n", (int)ticks);
	return 0;
}
