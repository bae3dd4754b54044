/*
 * process.c -- processes of one picoprocess: fork, wait, signal, exit.
 *
 * fork is the host's own: a copy-on-write copy of the address space,
 * which carries the LibOS's state with it, so it costs what a native fork
 * costs.  The child keeps the filter, the namespaces and the Landlock
 * domain; before forking, the PAL asks the monitor for a fresh channel so
 * that parent and child never share one.
 */
#include <linux/sched.h>

#include "pal.h"

#define H_SIGCHLD 17
#define H_SIG_DFL 0

int32_t pal_self_pid = 1;

long pal_process_create(const char *uri, char *const argv[])
{
	(void)uri, (void)argv;
	return -MOAT_ENOSYS;
}

long pal_process_fork(int32_t *self_pid)
{
	int chan;
	long r = pal_request(MOAT_OP_CHANNEL, 0, 0, 0, 0, 0, 0, &chan);
	if (r < 0)
		return r;
	if (chan < 0)
		return -MOAT_EIO;
	volatile int32_t child_pid = 0;
	pal_channel_fork_lock();
	pal_handles_fork_lock();
	long pid = host_clone(CLONE_CHILD_SETTID | H_SIGCHLD, &child_pid);
	pal_handles_fork_unlock();
	pal_channel_fork_unlock();
	if (pid == 0) {
		if (host_dup3(chan, MOAT_CHANNEL_FD, 0) < 0)
			pal_fatal("cannot take over the new channel");
		host_close(chan);
		pal_wake_after_fork();
		pal_self_pid = child_pid;
		*self_pid = child_pid;
		return 0;
	}
	host_close(chan);
	return pid;
}

long pal_process_wait(int32_t pid, uint32_t options, int32_t *status)
{
	uint32_t seq = __atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST);
	uint64_t mask = pal_signals_open();
	long r;
	for (;;) {
		uint32_t gen = __atomic_load_n(&pal_generation, __ATOMIC_SEQ_CST);
		r = host_wait4(pid, status, 1 /* WNOHANG */);
		if (r != 0 || (options & MOAT_WAIT_NOHANG))
			break;
		if (__atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST) != seq) {
			r = -MOAT_EINTR;
			break;
		}
		/* SIGCHLD bumps the generation word; 100 ms is a backstop. */
		pal_generation_wait(gen, 100000000);
	}
	pal_signals_restore(mask);
	return r;
}

/* Which pages hold data is the host's /proc/PID/pagemap, the monitor's
 * to read.  The map starts all ones ("may hold data"), so a reply
 * shorter than asked leaves the rest to be read, never skipped. */
static long pal_residency(int32_t pid, struct moat_residency *q)
{
	if (pid != 0 || !q || !q->map || !q->npages || q->npages > MOAT_RESIDENCY_MAX ||
	    q->addr % 4096 || q->addr + q->npages * 4096 < q->addr ||
	    (q->flags & ~(uint64_t)MOAT_RESIDENCY_FILE))
		return -MOAT_EINVAL;
	uint64_t want[2] = { q->addr, q->npages };
	size_t len = (size_t)(q->npages + 7) / 8;
	memset(q->map, 0xff, len);
	long r = pal_request_raw(MOAT_OP_RESIDENCY, pal_self_pid, (uint32_t)q->flags, want, sizeof(want),
				 0, 0, q->map, len, 0);
	if (r < 0)
		return r;
	return (uint64_t)r == q->npages ? 0 : -MOAT_EIO;
}

/* The pid namespace holds only this picoprocess's processes, and the
 * sandbox made pid 1 a session of its own (sandbox.c), so groups and
 * sessions name nothing else; Landlock's signal scope, where the kernel
 * has it, keeps kill inside too. */
long pal_process_control(uint32_t op, int32_t pid, int64_t arg)
{
	switch (op) {
	case MOAT_PROC_SIGNAL:
		if (arg < 0 || arg > 64)
			return -MOAT_EINVAL;
		return host_kill(pid, arg);
	case MOAT_PROC_SET_GROUP:
		if (arg < 0 || arg > 0x7fffffff)
			return -MOAT_EINVAL;
		return host_setpgid(pid, arg);
	case MOAT_PROC_GET_GROUP:
		return host_getpgid(pid);
	case MOAT_PROC_NEW_SESSION:
		return host_setsid();
	case MOAT_PROC_STAT:
		/* The host's /proc is the monitor's to read, not ours. */
		if (pid <= 0 || !arg)
			return -MOAT_EINVAL;
		return pal_request_raw(MOAT_OP_PROC_STAT, pid, 0, 0, 0, 0, 0,
				       (struct moat_proc_stat *)arg,
				       sizeof(struct moat_proc_stat), 0);
	case MOAT_PROC_RESIDENCY:
		return pal_residency(pid, (struct moat_residency *)arg);
	default:
		return -MOAT_EINVAL;
	}
}

_Noreturn void pal_process_exit(int code, int sig)
{
	pal_notify_exit(code, (uint32_t)sig);
	if (sig && pal_self_pid != 1) {
		/* Die by the real signal so that the parent's wait sees it;
		 * the namespace's init (pid 1) cannot signal itself, and the
		 * monitor has its EXIT message instead. */
		struct host_sigaction dfl = { .handler = (void *)H_SIG_DFL };
		uint64_t mask = 1ULL << (sig - 1);
		host_rt_sigaction(sig, &dfl, 0);
		host_rt_sigprocmask(1 /* SIG_UNBLOCK */, &mask, 0);
		host_kill(pal_self_pid, sig);
	}
	for (;;)
		host_exit_group(sig ? 128 + sig : code);
}
