/*
 * ptimer.c -- POSIX timers, run natively and in a picoprocess with the
 * same output expected: SIGEV_SIGNAL with siginfo (SI_TIMER, value, id),
 * periodic timers and sigwaitinfo, overruns while blocked, a blocking
 * read interrupted (EINTR), SIGEV_NONE, SIGEV_THREAD through glibc,
 * timer_delete, and no timers in a forked child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_code, got_value, got_id, hits;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
	got_id = si->si_timerid;
	hits++;
}

static void arm(timer_t t, long first_ms, long every_ms)
{
	struct itimerspec its = { { every_ms / 1000, every_ms % 1000 * 1000000 },
				  { first_ms / 1000, first_ms % 1000 * 1000000 } };
	if (timer_settime(t, 0, &its, NULL) < 0)
		perror("timer_settime");
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int thread_value;

static void on_thread(union sigval v)
{
	pthread_mutex_lock(&mu);
	thread_value = v.sival_int;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
	sigaction(SIGUSR1, &sa, NULL);

	/* 1. one-shot SIGEV_SIGNAL with a value */
	timer_t t1;
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1,
			       .sigev_value.sival_int = 42 };
	if (timer_create(CLOCK_MONOTONIC, &ev, &t1) < 0)
		perror("timer_create");
	sigset_t none, usr1;
	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	arm(t1, 50, 0);
	sigsuspend(&none);
	printf("one-shot: code %s value %d id matches %d\n",
	       got_code == SI_TIMER ? "SI_TIMER" : "other", (int)got_value,
	       got_id == *(int *)&t1);

	/* 2. periodic, taken with sigwaitinfo */
	arm(t1, 20, 20);
	for (int i = 0; i < 5; i++) {
		siginfo_t si;
		int s = sigwaitinfo(&usr1, &si);
		printf("periodic %d: signal %d code %s value %d\n", i, s,
		       si.si_code == SI_TIMER ? "SI_TIMER" : "other", si.si_value.sival_int);
	}
	arm(t1, 0, 0);
	struct itimerspec cur;
	timer_gettime(t1, &cur);
	printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

	/* 3. overruns while the signal is blocked */
	arm(t1, 10, 10);
	struct timespec nap = { 0, 150000000 };
	nanosleep(&nap, NULL);
	siginfo_t si;
	sigwaitinfo(&usr1, &si);
	int ov = timer_getoverrun(t1);
	printf("overruns counted while blocked: %s\n", ov >= 5 && si.si_overrun == ov ? "yes" : "no");
	arm(t1, 0, 0);
	while (sigtimedwait(&usr1, &si, &(struct timespec){ 0, 0 }) > 0)
		;
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);

	/* 4. a blocking read interrupted (no SA_RESTART) */
	int p[2];
	pipe(p);
	arm(t1, 50, 0);
	char c;
	ssize_t n = read(p[0], &c, 1);
	printf("read interrupted: %zd %s\n", n, n < 0 ? strerrorname_np(errno) : "");

	/* 5. SIGEV_NONE: time passes, no signal */
	timer_t t2;
	struct sigevent none_ev = { .sigev_notify = SIGEV_NONE };
	timer_create(CLOCK_REALTIME, &none_ev, &t2);
	int before = hits;
	struct itimerspec its = { { 0, 0 }, { 0, 80000000 } };
	timer_settime(t2, 0, &its, NULL);
	timer_gettime(t2, &cur);
	int pending_ok = cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 80000000;
	nap.tv_nsec = 120000000;
	nanosleep(&nap, NULL);
	timer_gettime(t2, &cur);
	printf("SIGEV_NONE: counted down %d, expired %d, no signal %d\n", pending_ok,
	       cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, hits == before);

	/* 6. SIGEV_THREAD (glibc: a helper thread and SIGEV_THREAD_ID) */
	timer_t t3;
	struct sigevent th = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_thread,
			       .sigev_value.sival_int = 7 };
	if (timer_create(CLOCK_MONOTONIC, &th, &t3) < 0)
		perror("timer_create SIGEV_THREAD");
	arm(t3, 30, 0);
	pthread_mutex_lock(&mu);
	while (!thread_value)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	printf("SIGEV_THREAD: callback with value %d\n", thread_value);

	/* 7. delete, then it is gone; a forked child has no timers */
	timer_delete(t2);
	int r = timer_settime(t2, 0, &its, NULL);
	printf("after delete: settime %d %s\n", r, strerrorname_np(errno));
	pid_t pid = fork();
	if (pid == 0) {
		int r = timer_gettime(t1, &cur);
		printf("child: timer_gettime %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("parent: timer_gettime %d\n", timer_gettime(t1, &cur));
	return 0;
}
