/*
 * trap_bench.c -- what a trapped system call costs, taken apart, in an
 * ordinary host process (no moat).  Built by bench/run.sh with
 * `gcc -static -O2`; run natively only (it installs its own seccomp
 * filter, which it cannot do inside moat).  Not a test.
 *
 *     trap_bench [--smoke] [OP...]
 *
 * Operations, each timed per call:
 *
 *     native_getpid    syscall(SYS_getpid) with no filter: one kernel entry
 *     filtered_getpid  the same with a seccomp filter installed that allows
 *                      it: what every call through moat's gate pays for the
 *                      filter (moat's own filter is longer: see `moat filter`)
 *     sigsys_trap      syscall(SYS_getppid), which the filter answers with
 *                      SECCOMP_RET_TRAP: SIGSYS, a handler that sets rax,
 *                      and rt_sigreturn -- the mechanism by which every app
 *                      system call reaches moat's LibOS today, without the
 *                      LibOS's own work
 *     user_stub        a `jmp` to a stub that steps over the red zone, saves
 *                      the flags and the general registers, checks a
 *                      pending-signal word, calls a C function through a
 *                      table that answers, restores and jumps back: what a
 *                      rewritten call site would cost (see the design note
 *                      in docs/benchmarks.md), with no kernel entry at all
 *
 * Output lines are "OP ITERATIONS NS_REP1 NS_REP2 ..." (see benchlib.h).
 */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "benchlib.h"

static volatile long sink;

static void op_getpid(long n)
{
	for (long i = 0; i < n; i++)
		sink = syscall(SYS_getpid);
}

static void op_trap(long n)
{
	for (long i = 0; i < n; i++)
		sink = syscall(SYS_getppid);
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	(void)sig, (void)si;
	ucontext_t *uc = ucv;
	uc->uc_mcontext.gregs[REG_RAX] = 42;
}

/* The user-space stub: registers saved in the order of struct regs. */
struct regs {
	unsigned long r15, r14, r13, r12, r11, r10, r9, r8;
	unsigned long rbp, rdi, rsi, rdx, rcx, rbx, rax, rflags;
};

volatile unsigned long stub_pending; /* a signal-pending word to test */

static long answer_getppid(struct regs *r)
{
	(void)r;
	return 42;
}

static long answer_enosys(struct regs *r)
{
	(void)r;
	return -38;
}

long (*const stub_table[512])(struct regs *) = { [SYS_getppid] = answer_getppid };

__attribute__((used)) void stub_dispatch(struct regs *r)
{
	unsigned long nr = r->rax;
	long (*fn)(struct regs *) = nr < 512 && stub_table[nr] ? stub_table[nr] : answer_enosys;
	r->rax = (unsigned long)fn(r);
	if (stub_pending) /* a real LibOS would deliver signals here */
		r->rax = (unsigned long)-4;
}

long stub_site(void);
__asm__(
	".text\n"
	".globl stub_site\n"
	"stub_site:\n"
	/* The rewritten site: `mov $NR,%eax` became a jmp to the stub; the
	 * `syscall` after it stays (a jump straight to it still traps). */
	"	jmp stub_getppid\n"
	"	syscall\n"
	"stub_back:\n"
	"	ret\n"
	"stub_getppid:\n"
	"	mov $110, %eax\n"
	"	lea -128(%rsp), %rsp\n"
	"	pushfq\n"
	"	push %rax\n push %rbx\n push %rcx\n push %rdx\n push %rsi\n push %rdi\n"
	"	push %rbp\n push %r8\n push %r9\n push %r10\n push %r11\n push %r12\n"
	"	push %r13\n push %r14\n push %r15\n"
	"	mov %rsp, %rdi\n"
	"	mov %rsp, %rbx\n"
	"	and $-16, %rsp\n"
	"	call stub_dispatch\n"
	"	mov %rbx, %rsp\n"
	"	pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %r11\n pop %r10\n"
	"	pop %r9\n pop %r8\n pop %rbp\n pop %rdi\n pop %rsi\n pop %rdx\n"
	"	pop %rcx\n pop %rbx\n pop %rax\n"
	"	popfq\n"
	"	lea 128(%rsp), %rsp\n"
	"	jmp stub_back\n");

static void op_stub(long n)
{
	for (long i = 0; i < n; i++)
		sink = stub_site();
}

static void install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		die("sigaction");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		die("seccomp");
}

int main(int argc, char **argv)
{
	bench_prog = "trap_bench";
	int smoke = argc > 1 && !strcmp(argv[1], "--smoke");
	char **only = argv + 1 + smoke;
	int n_only = argc - 1 - smoke;
	uint64_t target = smoke ? 3000000 : 30000000;
	int reps = smoke ? 3 : 5;
	if (stub_site() != 42)
		die("the user-space stub does not answer 42");
	if (bench_wanted("native_getpid", only, n_only))
		bench_op("native_getpid", op_getpid, target, reps, 1);
	if (bench_wanted("user_stub", only, n_only))
		bench_op("user_stub", op_stub, target, reps, 1);
	install_filter();
	if (syscall(SYS_getppid) != 42)
		die("the SIGSYS handler does not answer 42");
	if (bench_wanted("filtered_getpid", only, n_only))
		bench_op("filtered_getpid", op_getpid, target, reps, 1);
	if (bench_wanted("sigsys_trap", only, n_only))
		bench_op("sigsys_trap", op_trap, target, reps, 1);
	return 0;
}
