/*
 * signal.c -- Linux signals: dispositions, masks, delivery to the app's
 * handlers on a Linux-compatible frame, rt_sigreturn, sigsuspend, and
 * the restart rules for interrupted system calls.
 *
 * Signals become pending in one process-wide set (from kill, tgkill,
 * faults, or the PAL's INTERRUPT exception) and are delivered when a
 * thread that does not block them returns to the app: at the end of
 * every trapped system call, or at once when the thread was running app
 * code.  An interrupted blocking call returns -ERESTARTSYS (or
 * -ERESTARTNOHAND) here; delivery turns that into -EINTR or into a
 * re-execution of the 'syscall' instruction, as Linux does.
 */
#include <asm/sigcontext.h>

#include "libos.h"
#include "linux_abi.h"
#include "uaccess.h"

#define NSIG_K 64
#define SIG_DFL_K 0UL
#define SIG_IGN_K 1UL
#define SA_ONSTACK_K 0x08000000UL
#define SA_RESTART_K 0x10000000UL
#define SA_NODEFER_K 0x40000000UL
#define SA_RESETHAND_K 0x80000000UL
#define SA_RESTORER_K 0x04000000UL
#define SS_ONSTACK_K 1
#define SS_DISABLE_K 2
#define BIT(sig) (1ULL << ((sig) - 1))
#define UNBLOCKABLE (BIT(9) | BIT(19))

static struct l_sigaction actions[NSIG_K + 1];
static volatile uint64_t pending;
static struct l_siginfo fault_info[NSIG_K + 1]; /* details for SEGV & co */

static const char *const signal_names[] = {
	[1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL",
	[5] = "SIGTRAP", [6] = "SIGABRT", [7] = "SIGBUS", [8] = "SIGFPE",
	[9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2",
	[13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM", [17] = "SIGCHLD",
	[31] = "SIGSYS",
};

_Noreturn void die_by_signal(int sig)
{
	klog("terminated by signal %d (%s)", sig,
	     sig < (int)RT_ARRAY_LEN(signal_names) && signal_names[sig]
		     ? signal_names[sig] : "?");
	ipc_exit();
	abi->process_exit(0, sig);
	__builtin_unreachable();
}

/* Default action: 0 ignore, 1 terminate.  Stop signals are ignored: a
 * picoprocess has no job-control terminal to stop for. */
static int default_terminates(int sig)
{
	switch (sig) {
	case 17: case 18: case 19: case 20: case 21: case 22: case 23: case 28:
		return 0;
	default:
		return 1;
	}
}

/* Would a signal pending now run a handler or end the process?  (A
 * blocked or ignored one does not end a sleep.) */
int signal_interrupts_now(void)
{
	uint64_t ready = __atomic_load_n(&pending, __ATOMIC_SEQ_CST) & ~thread_sig()->blocked;
	for (int sig = 1; sig <= NSIG_K; sig++) {
		if (!(ready & BIT(sig)) || actions[sig].handler == SIG_IGN_K)
			continue;
		if (actions[sig].handler != SIG_DFL_K || default_terminates(sig))
			return 1;
	}
	return 0;
}

uint64_t signal_pending_set(void)
{
	return __atomic_load_n(&pending, __ATOMIC_SEQ_CST);
}

void signal_set_info(int sig, int code, const void *fields, size_t len)
{
	if (sig < 1 || sig > NSIG_K)
		return;
	struct l_siginfo si = { .signo = sig, .code = code };
	memcpy(si.pad2, fields, len < sizeof(si.pad2) ? len : sizeof(si.pad2));
	fault_info[sig] = si;
}

/* Set on every post once a signalfd exists, so that poll and epoll can
 * sleep on it (signal_notify_handle). */
static moat_handle notify = MOAT_NO_HANDLE;

void signal_post(int sig)
{
	if (sig < 1 || sig > NSIG_K)
		return;
	__atomic_or_fetch(&pending, BIT(sig), __ATOMIC_SEQ_CST);
	moat_handle h = __atomic_load_n(&notify, __ATOMIC_ACQUIRE);
	if (h != MOAT_NO_HANDLE)
		abi->event_set(h);
}

moat_handle signal_notify_handle(void)
{
	if (notify == MOAT_NO_HANDLE) {
		long ev = abi->event_create(MOAT_EVENT_NOTIFICATION, 0);
		if (ev >= 0)
			__atomic_store_n(&notify, (moat_handle)ev, __ATOMIC_RELEASE);
	}
	return notify;
}

/* Take the lowest-numbered pending signal in 'set', with its details
 * (a struct l_siginfo, 128 bytes, as sigtimedwait returns it); 0 if none. */
int signal_take(uint64_t set, void *info)
{
	uint64_t hit;
	int sig;
	do {
		hit = __atomic_load_n(&pending, __ATOMIC_SEQ_CST) & set;
		if (!hit)
			return 0;
		sig = __builtin_ctzll(hit) + 1;
	} while (!(__atomic_fetch_and(&pending, ~BIT(sig), __ATOMIC_SEQ_CST) & BIT(sig)));
	if (info)
		*(struct l_siginfo *)info = fault_info[sig].signo ? fault_info[sig]
					   : (struct l_siginfo){ .signo = sig };
	fault_info[sig].signo = 0;
	return sig;
}

long signal_raise(int sig)
{
	if (sig < 1 || sig > NSIG_K)
		return -EINVAL;
	signal_post(sig);
	return 0;
}

/* kill or tgkill of the process itself: the siginfo names it as sender. */
long signal_raise_from_self(int sig, int code)
{
	if (sig < 1 || sig > NSIG_K)
		return -EINVAL;
	int32_t fields[2] = { proc.pid, (int32_t)proc.uid };
	if (fault_info[sig].signo == 0)
		signal_set_info(sig, code, fields, sizeof(fields));
	return signal_raise(sig);
}

/* Copy the host FP state the PAL handed us; returns its size. */
static size_t fpstate_size(const void *fp)
{
	if (!fp)
		return 0;
	const uint32_t *sw = (const uint32_t *)((const char *)fp + 464);
	if (sw[0] == 0x46505853U /* FP_XSTATE_MAGIC1 */ && sw[1] > 512 && sw[1] < 65536)
		return sw[1];
	return 512;
}

static int on_altstack(const struct thread_sig *ts, uint64_t sp)
{
	return ts->ss_size && sp >= (uint64_t)ts->ss_sp &&
	       sp < (uint64_t)ts->ss_sp + ts->ss_size;
}

/* Build a Linux rt_sigframe on the app's stack and aim ctx at the
 * handler.  Returns 0, or -EFAULT if the stack cannot hold it. */
static int setup_frame(struct moat_context *ctx, int sig,
		       const struct l_sigaction *act)
{
	struct thread_sig *ts = thread_sig();
	uint64_t sp = ctx->rsp - 128; /* the red zone */
	if ((act->flags & SA_ONSTACK_K) && ts->ss_size && !(ts->ss_flags & SS_DISABLE_K) &&
	    !on_altstack(ts, ctx->rsp))
		sp = (uint64_t)ts->ss_sp + ts->ss_size;
	size_t fpsize = fpstate_size(ctx->fpstate);
	sp = RT_ALIGN_DOWN(sp - fpsize, 64);
	void *fp = (void *)sp;
	sp -= sizeof(struct l_rt_sigframe);
	sp = RT_ALIGN_DOWN(sp + 8, 16) - 8; /* (rsp + 8) % 16 == 0 at entry */
	struct l_rt_sigframe *f = (void *)sp;
	if (fpsize)
		memcpy(fp, ctx->fpstate, fpsize);
	memset(f, 0, sizeof(*f));
	f->pretcode = act->restorer;
	f->uc.flags = fpsize > 512 ? 1 /* UC_FP_XSTATE */ : 0;
	f->uc.stack = (struct l_stack){ ts->ss_sp, ts->ss_size ? (on_altstack(ts, ctx->rsp) ? SS_ONSTACK_K : 0) : SS_DISABLE_K, 0, ts->ss_size };
	struct sigcontext *m = &f->uc.mc;
	m->r8 = ctx->r8, m->r9 = ctx->r9, m->r10 = ctx->r10, m->r11 = ctx->r11;
	m->r12 = ctx->r12, m->r13 = ctx->r13, m->r14 = ctx->r14, m->r15 = ctx->r15;
	m->rdi = ctx->rdi, m->rsi = ctx->rsi, m->rbp = ctx->rbp, m->rbx = ctx->rbx;
	m->rdx = ctx->rdx, m->rax = ctx->rax, m->rcx = ctx->rcx, m->rsp = ctx->rsp;
	m->rip = ctx->rip, m->eflags = ctx->rflags;
	m->cs = 0x33, m->ss = 0x2b;
	m->fpstate = fpsize ? fp : NULL;
	m->oldmask = ts->blocked;
	f->uc.sigmask = ts->has_saved ? ts->saved : ts->blocked;
	ts->has_saved = 0;
	f->info = fault_info[sig].signo ? fault_info[sig]
					: (struct l_siginfo){ .signo = sig };
	fault_info[sig].signo = 0;
	m->cr2 = (uint64_t)f->info.addr;

	ctx->rsp = sp;
	ctx->rip = act->handler;
	ctx->rdi = (uint64_t)sig;
	ctx->rsi = (uint64_t)&f->info;
	ctx->rdx = (uint64_t)&f->uc;
	ctx->rax = 0;
	ctx->rflags &= ~(0x400ULL | 0x100ULL); /* DF, TF */
	ts->blocked |= act->mask | (act->flags & SA_NODEFER_K ? 0 : BIT(sig));
	ts->blocked &= ~UNBLOCKABLE;
	if (act->flags & SA_RESETHAND_K)
		actions[sig].handler = SIG_DFL_K;
	return 0;
}

/* Fix up an interrupted system call's result (see the top comment). */
static void settle_restart(struct moat_context *ctx, int handler_flags,
			   int have_handler)
{
	struct thread_sig *ts = thread_sig();
	int64_t rax = (int64_t)ctx->rax;
	if (rax != -ERESTARTSYS && rax != -ERESTARTNOHAND)
		return;
	if (have_handler && (rax == -ERESTARTNOHAND || !(handler_flags & 1))) {
		ctx->rax = (uint64_t)-EINTR;
	} else {
		ctx->rax = ts->syscall_nr;
		ctx->rip -= 2; /* the 'syscall' instruction runs again */
	}
}

/* Deliver what is pending and not blocked: default actions and ignores
 * are applied; the first handler gets a frame.  'in_syscall' says ctx is
 * returning from a trapped system call. */
void signal_deliver(struct moat_context *ctx, int in_syscall)
{
	struct thread_sig *ts = thread_sig();
	for (;;) {
		uint64_t ready = __atomic_load_n(&pending, __ATOMIC_SEQ_CST) & ~ts->blocked;
		if (!ready)
			break;
		int sig = __builtin_ctzll(ready) + 1;
		__atomic_and_fetch(&pending, ~BIT(sig), __ATOMIC_SEQ_CST);
		struct l_sigaction act = actions[sig];
		if (act.handler == SIG_IGN_K)
			continue;
		if (act.handler == SIG_DFL_K) {
			if (default_terminates(sig))
				die_by_signal(sig);
			continue;
		}
		if (in_syscall)
			settle_restart(ctx, act.flags & SA_RESTART_K ? 1 : 0, 1);
		setup_frame(ctx, sig, &act);
		return;
	}
	if (in_syscall)
		settle_restart(ctx, 0, 0);
	if (ts->has_saved) { /* sigsuspend ended without a handler */
		ts->blocked = ts->saved;
		ts->has_saved = 0;
	}
}

volatile int libos_paused;
volatile uint32_t libos_generation;

/* PAUSE (abi.h): code 1 begins one, code 0 ends it.  A thread in app
 * code needs nothing: the layer below sees its context on the way back.
 * One in the fast path must leave it through a trap.  A sleeper wakes
 * by itself: the PAUSE came to every thread, so its downcall returns
 * -EINTR, and the LibOS's waits look at libos_paused. */
void libos_pause(struct moat_exception *e)
{
	if (!boot || !(boot->flags & MOAT_BOOT_PAUSE))
		return; /* before init: the thread comes to app code later */
	if (!e->code) {
		libos_generation = e->pid;
		__atomic_store_n(&libos_paused, 0, __ATOMIC_SEQ_CST);
		return;
	}
	__atomic_store_n(&libos_paused, 1, __ATOMIC_SEQ_CST);
	if ((e->flags & MOAT_EXC_IN_PLATFORM) && rewrite_enabled())
		rewrite_interrupt(e);
}

/* A LibOS thread of its own (the POSIX timers' clock) never returns to
 * app code, where the checkpointer holds threads for a checkpoint; while
 * paused it comes here instead: the breakpoint reaches the layers below
 * as a trap outside the platform, like app code's, libos_exception lets
 * it pass, and a resumed image starts the thread again just after it. */
__asm__(".text\n"
	".globl libos_park_here, libos_park_resume\n"
	".hidden libos_park_here, libos_park_resume\n"
	".type libos_park_here, @function\n"
	"libos_park_here:\n"
	"	int3\n"
	"libos_park_resume:\n"
	"	ret\n"
	".size libos_park_here, .-libos_park_here\n");

void libos_park_if_paused(void)
{
	if (__atomic_load_n(&libos_paused, __ATOMIC_SEQ_CST))
		libos_park_here();
}

/* For the fast path (rewrite.c): is a signal pending that this thread
 * does not block?  (Then it is delivered from a host trap.)  While
 * paused, every thread leaves through a trap (abi.h, PAUSE). */
int signal_deliverable(void)
{
	if (__atomic_load_n(&libos_paused, __ATOMIC_SEQ_CST))
		return 1;
	return (__atomic_load_n(&pending, __ATOMIC_SEQ_CST) & ~thread_sig()->blocked) != 0;
}

/* The end of signal_deliver when nothing is delivered. */
void signal_settle(struct moat_context *ctx)
{
	struct thread_sig *ts = thread_sig();
	settle_restart(ctx, 0, 0);
	if (ts->has_saved) {
		ts->blocked = ts->saved;
		ts->has_saved = 0;
	}
}

/* A host signal becomes pending, with who sent it, for sigtimedwait,
 * signalfd and SA_SIGINFO handlers (a POSIX timer's details, set by
 * timer.c, are kept). */
void signal_interrupt_post(const struct moat_exception *e)
{
	int sig = (int)e->code;
	if (sig >= 1 && sig <= NSIG_K && fault_info[sig].signo == 0) {
		int32_t fields[3] = { (int32_t)e->pid, (int32_t)proc.uid, e->signal_status };
		signal_set_info(sig, e->signal_code, fields, sig == 17 ? 12 : 8);
	}
	signal_post(sig);
}

void signal_interrupt(struct moat_exception *e)
{
	signal_interrupt_post(e);
	if (!(e->flags & MOAT_EXC_IN_PLATFORM))
		signal_deliver(e->ctx, 0);
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
	if (e->ctx->rip >= boot->image_start && e->ctx->rip < boot->image_end) {
		/* The LibOS's own bug, not the app's: no handler of the app
		 * can resume LibOS code. */
		klog("fault in the LibOS at %p (addr %p)", (void *)e->ctx->rip,
		     (void *)e->fault_addr);
		e->flags |= MOAT_EXC_CRASHED;
		return;
	}
	klog("fault: signal %d at rip %p addr %p rsp %p", sig, (void *)e->ctx->rip,
	     (void *)e->fault_addr, (void *)e->ctx->rsp);
	struct l_sigaction act = actions[sig];
	/* A fault cannot be ignored or blocked: returning would re-fault. */
	if (act.handler == SIG_DFL_K || act.handler == SIG_IGN_K ||
	    (thread_sig()->blocked & BIT(sig)))
		die_by_signal(sig);
	fault_info[sig] = (struct l_siginfo){ .signo = sig, .code = (int)e->code,
					     .addr = (void *)e->fault_addr };
	setup_frame(e->ctx, sig, &act);
}

long sys_rt_sigreturn(struct moat_context *ctx)
{
	struct l_ucontext *uc = (void *)ctx->rsp; /* the handler's ret popped pretcode */
	struct sigcontext *m = &uc->mc;
	ctx->r8 = m->r8, ctx->r9 = m->r9, ctx->r10 = m->r10, ctx->r11 = m->r11;
	ctx->r12 = m->r12, ctx->r13 = m->r13, ctx->r14 = m->r14, ctx->r15 = m->r15;
	ctx->rdi = m->rdi, ctx->rsi = m->rsi, ctx->rbp = m->rbp, ctx->rbx = m->rbx;
	ctx->rdx = m->rdx, ctx->rax = m->rax, ctx->rcx = m->rcx, ctx->rsp = m->rsp;
	ctx->rip = m->rip;
	/* Only the arithmetic flags, DF, TF, AC and ID are the app's to set. */
	ctx->rflags = (ctx->rflags & ~0x254dd5ULL) | (m->eflags & 0x254dd5ULL);
	size_t n = fpstate_size(ctx->fpstate);
	if (m->fpstate && n)
		memcpy(ctx->fpstate, (void *)m->fpstate, n);
	thread_sig()->blocked = uc->sigmask & ~UNBLOCKABLE;
	return (long)ctx->rax;
}

long sys_rt_sigaction(int sig, const struct l_sigaction *uact,
		      struct l_sigaction *old, size_t setsize)
{
	struct l_sigaction a, *act = uact ? &a : NULL;
	if (sig < 1 || sig > NSIG_K || setsize != 8)
		return -EINVAL;
	if (act && copy_from_user(act, uact, sizeof(*act)) < 0)
		return -EFAULT;
	if (act && (sig == 9 || sig == 19))
		return -EINVAL;
	if (act && act->handler > SIG_IGN_K && !(act->flags & SA_RESTORER_K))
		return -EINVAL; /* x86-64 frames return through sa_restorer */
	if (old && copy_to_user(old, &actions[sig], sizeof(*old)) < 0)
		return -EFAULT;
	if (act) {
		actions[sig] = *act;
		if (act->handler == SIG_IGN_K ||
		    (act->handler == SIG_DFL_K && !default_terminates(sig)))
			__atomic_and_fetch(&pending, ~BIT(sig), __ATOMIC_SEQ_CST);
	}
	return 0;
}

long sys_rt_sigprocmask(int how, const uint64_t *uset, uint64_t *old,
			size_t setsize)
{
	struct thread_sig *ts = thread_sig();
	if (setsize != 8)
		return -EINVAL;
	uint64_t cur = ts->blocked, set;
	if (uset) {
		if (get_user(&set, uset) < 0)
			return -EFAULT;
		switch (how) {
		case 0: cur |= set; break;
		case 1: cur &= ~set; break;
		case 2: cur = set; break;
		default: return -EINVAL;
		}
	}
	if (old && put_user(old, ts->blocked) < 0)
		return -EFAULT;
	ts->blocked = cur & ~UNBLOCKABLE;
	return 0;
}

long sys_rt_sigpending(uint64_t *set, size_t setsize)
{
	if (setsize != 8)
		return -EINVAL;
	return put_user(set, __atomic_load_n(&pending, __ATOMIC_SEQ_CST) &
			     thread_sig()->blocked);
}

/* Block until a signal this thread does not block is pending. */
static long wait_for_signal(void)
{
	struct thread_sig *ts = thread_sig();
	while (!(__atomic_load_n(&pending, __ATOMIC_SEQ_CST) & ~ts->blocked) &&
	       !__atomic_load_n(&libos_paused, __ATOMIC_SEQ_CST))
		thread_block_until_signal();
	return -ERESTARTNOHAND;
}

long sys_rt_sigsuspend(const uint64_t *umask, size_t setsize)
{
	struct thread_sig *ts = thread_sig();
	uint64_t mask;
	if (setsize != 8)
		return -EINVAL;
	if (get_user(&mask, umask) < 0)
		return -EFAULT;
	ts->saved = ts->blocked;
	ts->has_saved = 1;
	ts->blocked = mask & ~UNBLOCKABLE;
	return wait_for_signal();
}

long sys_pause(void)
{
	return wait_for_signal();
}

long sys_rt_sigtimedwait(const uint64_t *uset, struct l_siginfo *info,
			 const struct l_timespec *utimeout, size_t setsize)
{
	uint64_t set_v, *set = &set_v;
	struct l_timespec to, *timeout = utimeout ? &to : NULL;
	if (setsize != 8)
		return -EINVAL;
	if (get_user(set, uset) < 0 ||
	    (timeout && copy_from_user(timeout, utimeout, sizeof(to)) < 0))
		return -EFAULT;
	if (timeout && (to.tv_sec < 0 || to.tv_nsec < 0 || to.tv_nsec >= 1000000000))
		return -EINVAL;
	if (info && !user_range_ok(info, sizeof(*info)))
		return -EFAULT;
	int64_t left = timeout ? timeout->tv_sec * 1000000000L + timeout->tv_nsec : -1;
	int64_t end = left < 0 ? -1 : abi->system_time(MOAT_CLOCK_MONOTONIC) + left;
	for (;;) {
		struct l_siginfo si;
		int sig = signal_take(*set, &si);
		if (sig) {
			/* As Linux: the signal is taken even if info faults. */
			if (info && copy_to_user(info, &si, sizeof(si)) < 0)
				return -EFAULT;
			return sig;
		}
		if (end >= 0) {
			left = end - abi->system_time(MOAT_CLOCK_MONOTONIC);
			if (left <= 0)
				return -EAGAIN;
			if (abi->thread_delay((uint64_t)(left < 10000000 ? left : 10000000)) == 0)
				continue;
		} else {
			thread_block_until_signal_in(*set | ~thread_sig()->blocked);
		}
		if (__atomic_load_n(&pending, __ATOMIC_SEQ_CST) & ~*set & ~thread_sig()->blocked)
			return -EINTR; /* another signal, with a handler to run */
		if (__atomic_load_n(&libos_paused, __ATOMIC_SEQ_CST))
			return -ERESTARTNOHAND; /* runs again after the pause */
	}
}

long sys_kill(int pid, int sig)
{
	return process_kill(pid, sig);
}

long sys_tgkill(int tgid, int tid, int sig)
{
	if (tgid <= 0 || tid <= 0 || sig < 0 || sig > NSIG_K)
		return -EINVAL;
	if (tgid != proc.pid || !thread_exists(tid))
		return -ESRCH;
	return sig ? signal_raise_from_self(sig, -6 /* SI_TKILL */) : 0;
}

long sys_tkill(int tid, int sig)
{
	if (tid <= 0)
		return -EINVAL;
	return sys_tgkill(proc.pid, tid, sig);
}

/* sigqueue(3) and pthread_sigqueue: a signal with a value.  Only the
 * app's own process can be given one: the ABI carries a bare signal number
 * to other processes, and dropping the value silently would be worse. */
long sys_rt_tgsigqueueinfo(int tgid, int tid, int sig, const struct l_siginfo *uinfo)
{
	struct l_siginfo si, *info = &si;
	if (sig < 0 || sig > NSIG_K)
		return -EINVAL;
	if (copy_from_user(&si, uinfo, sizeof(si)) < 0)
		return -EFAULT;
	/* As Linux: a sender may not pose as the kernel or as kill(2). */
	if ((info->code >= 0 || info->code == -6 /* SI_TKILL */) && tgid != proc.pid)
		return -EPERM;
	if (tgid != proc.pid) {
		klog("rt_sigqueueinfo to another process (%d): not supported", tgid);
		return -ENOSYS;
	}
	if (tid != -1 && !thread_exists(tid))
		return -ESRCH;
	if (!sig)
		return 0;
	if (fault_info[sig].signo == 0) {
		fault_info[sig] = *info;
		fault_info[sig].signo = sig;
	}
	return signal_raise(sig);
}

long sys_rt_sigqueueinfo(int tgid, int sig, const struct l_siginfo *info)
{
	return sys_rt_tgsigqueueinfo(tgid, -1, sig, info);
}

long sys_sigaltstack(const struct l_stack *uss, struct l_stack *old)
{
	struct thread_sig *ts = thread_sig();
	struct l_stack ss_v, *ss = uss ? &ss_v : NULL;
	if (ss && copy_from_user(ss, uss, sizeof(*ss)) < 0)
		return -EFAULT;
	if (old) {
		struct l_stack o = { ts->ss_sp, ts->ss_size ? ts->ss_flags : SS_DISABLE_K,
				     0, ts->ss_size };
		if (copy_to_user(old, &o, sizeof(o)) < 0)
			return -EFAULT;
	}
	if (ss) {
		/* As Linux: SS_DISABLE, SS_ONSTACK or 0, with SS_AUTODISARM. */
		int mode = ss->flags & ~(int)0x80000000U;
		if (mode != 0 && mode != SS_DISABLE_K && mode != SS_ONSTACK_K)
			return -EINVAL;
		if (ss->flags & SS_DISABLE_K) {
			ts->ss_sp = NULL, ts->ss_size = 0, ts->ss_flags = SS_DISABLE_K;
		} else {
			if (ss->size < 2048)
				return -ENOMEM;
			ts->ss_sp = ss->sp, ts->ss_size = ss->size, ts->ss_flags = 0;
		}
	}
	return 0;
}

/* execve: handlers are the old program's code; ignored stays ignored. */
void signal_reset_on_exec(void)
{
	for (int i = 1; i <= NSIG_K; i++)
		if (actions[i].handler != SIG_IGN_K)
			actions[i] = (struct l_sigaction){ 0 };
	struct thread_sig *ts = thread_sig();
	ts->ss_sp = NULL, ts->ss_size = 0, ts->ss_flags = SS_DISABLE_K;
}
