/*
 * spawn_bench.c -- process and thread creation, run natively and inside
 * moat.  Built by bench/run.sh with `gcc -static -O2 -pthread`; not a test.
 *
 *     spawn_bench [--smoke] [--prog PATH] [OP...]
 *
 * Operations (all by default), each timed per iteration:
 *
 *     fork_exec    fork() + execve(PATH) in the child + waitpid()
 *     posix_spawn  posix_spawn(PATH) + waitpid() (glibc: clone(CLONE_VM |
 *                  CLONE_VFORK), what make, python's subprocess and many
 *                  shells use)
 *     fork_wait    fork() + _exit(0) in the child + waitpid(): the fork
 *                  alone, without the exec
 *     thread       pthread_create() + pthread_join() of an empty thread
 *
 * PATH is /bin/true by default: a dynamic executable, so the exec
 * includes loading ld.so and libc (under moat grant /usr /lib /lib64 /bin).
 * Every child's exit status is checked: a failed exec stops the benchmark.
 *
 * A repetition takes about 100 ms (10 ms with --smoke) and at least 10
 * (2) iterations; 5 (3) repetitions per operation.  Output lines are
 * "OP ITERATIONS NS_REP1 NS_REP2 ..." (see benchlib.h).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"

extern char **environ;
static const char *prog = "/bin/true";

static void reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "spawn_bench: child %s status 0x%x (exec of %s failed?)\n",
			WIFEXITED(st) ? "exited with" : "killed,", st, prog);
		exit(1);
	}
}

static void op_fork_exec(long n)
{
	char *argv[] = { (char *)"true", NULL };
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execve(prog, argv, environ);
			_exit(127);
		}
		reap(pid);
	}
}

static void op_posix_spawn(long n)
{
	char *argv[] = { (char *)"true", NULL };
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int e = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
		if (e) {
			errno = e;
			die("posix_spawn");
		}
		reap(pid);
	}
}

static void op_fork_wait(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		reap(pid);
	}
}

static void *thread_fn(void *arg)
{
	return arg;
}

static void op_thread(long n)
{
	for (long i = 0; i < n; i++) {
		pthread_t t;
		void *ret;
		int e = pthread_create(&t, NULL, thread_fn, (void *)(long)i);
		if (e) {
			errno = e;
			die("pthread_create");
		}
		e = pthread_join(t, &ret);
		if (e || ret != (void *)(long)i) {
			errno = e;
			die("pthread_join");
		}
	}
}

static const struct {
	const char *name;
	void (*fn)(long);
} ops[] = {
	{ "fork_exec", op_fork_exec },
	{ "posix_spawn", op_posix_spawn },
	{ "fork_wait", op_fork_wait },
	{ "thread", op_thread },
};

int main(int argc, char **argv)
{
	bench_prog = "spawn_bench";
	int smoke = 0, n_only = 0;
	char *only[16];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke"))
			smoke = 1;
		else if (!strcmp(argv[i], "--prog") && i + 1 < argc)
			prog = argv[++i];
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: spawn_bench [--smoke] [--prog PATH] [OP...]\n");
			return 2;
		} else if (n_only < 16)
			only[n_only++] = argv[i];
	}
	const uint64_t target_ns = smoke ? 10000000u : 100000000u;
	const int reps = smoke ? 3 : 5;
	const long min_iters = smoke ? 2 : 10;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (bench_wanted(ops[k].name, only, n_only))
			bench_op(ops[k].name, ops[k].fn, target_ns, reps, min_iters);
	return 0;
}
