/*
 * signal.c -- signal dispositions and masks, and what happens when a
 * signal has its default action.  Delivery to application handlers comes
 * with the exception-upcall frame work of the LibOS breadth issue; until
 * then a signal whose handler the app installed is reported on the debug
 * log and treated as ignored, never silently as delivered.
 */
#include "libos.h"

#define NSIG_K 64
#define SIG_DFL_K 0UL
#define SIG_IGN_K 1UL

struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

static struct ksigaction actions[NSIG_K + 1];
static uint64_t sigmask;

static const char *const signal_names[] = {
	[1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL",
	[5] = "SIGTRAP", [6] = "SIGABRT", [7] = "SIGBUS", [8] = "SIGFPE",
	[9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2",
	[13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM", [31] = "SIGSYS",
};

_Noreturn void die_by_signal(int sig)
{
	klog("terminated by signal %d (%s)", sig,
	     sig < (int)RT_ARRAY_LEN(signal_names) && signal_names[sig]
		     ? signal_names[sig] : "?");
	abi->process_exit(0, sig);
	__builtin_unreachable();
}

/* Default action ignores: SIGCHLD, SIGURG, SIGWINCH, SIGCONT. */
static int ignored_by_default(int sig)
{
	return sig == 17 || sig == 23 || sig == 28 || sig == 18;
}

long signal_raise(int sig)
{
	if (sig < 1 || sig > NSIG_K)
		return -EINVAL;
	uint64_t h = actions[sig].handler;
	if (sig == 9 || sig == 19 || (h == SIG_DFL_K && !ignored_by_default(sig)))
		die_by_signal(sig);
	if (h != SIG_IGN_K && h != SIG_DFL_K)
		klog("signal %d has an app handler; delivery not implemented, ignored",
		     sig);
	return 0;
}

void signal_fault(struct moat_exception *e)
{
	static const int sig_of_kind[] = {
		[MOAT_EXC_MEMFAULT] = 11, [MOAT_EXC_ILLEGAL] = 4,
		[MOAT_EXC_ARITH] = 8, [MOAT_EXC_BREAKPOINT] = 5,
		[MOAT_EXC_BUSERR] = 7,
	};
	int sig = e->kind < RT_ARRAY_LEN(sig_of_kind) ? sig_of_kind[e->kind] : 0;
	if (!sig)
		sig = 4;
	klog("fault: signal %d at rip %p addr %p rsp %p", sig, (void *)e->ctx->rip,
	     (void *)e->fault_addr, (void *)e->ctx->rsp);
	/* A synchronous fault cannot be ignored: returning would re-fault. */
	die_by_signal(sig);
}

long sys_rt_sigaction(int sig, const struct ksigaction *act,
		      struct ksigaction *old, size_t setsize)
{
	if (sig < 1 || sig > NSIG_K || setsize != 8)
		return -EINVAL;
	if (act && (sig == 9 || sig == 19))
		return -EINVAL;
	if (old)
		*old = actions[sig];
	if (act)
		actions[sig] = *act;
	return 0;
}

long sys_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old,
			size_t setsize)
{
	if (setsize != 8)
		return -EINVAL;
	if (old)
		*old = sigmask;
	if (!set)
		return 0;
	uint64_t unblockable = (1UL << 8) | (1UL << 18); /* KILL, STOP */
	switch (how) {
	case 0: sigmask |= *set; break;
	case 1: sigmask &= ~*set; break;
	case 2: sigmask = *set; break;
	default: return -EINVAL;
	}
	sigmask &= ~unblockable;
	return 0;
}

long sys_kill(int pid, int sig)
{
	return process_kill(pid, sig);
}

/* execve: handlers are the old program's code; ignored stays ignored. */
void signal_reset_on_exec(void)
{
	for (int i = 1; i <= NSIG_K; i++)
		if (actions[i].handler != SIG_IGN_K)
			actions[i] = (struct ksigaction){ 0 };
}

long sys_tgkill(int tgid, int tid, int sig)
{
	if (tgid != proc.pid || !thread_exists(tid))
		return -ESRCH;
	return sig ? signal_raise(sig) : 0;
}

long sys_tkill(int tid, int sig)
{
	return sys_tgkill(proc.pid, tid, sig);
}

long sys_sigaltstack(const void *ss, void *old)
{
	(void)ss;
	if (old)
		memset(old, 0, 24), ((int *)old)[2] = 2; /* SS_DISABLE */
	return 0;
}
