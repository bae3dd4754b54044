#define _GNU_SOURCE
/* faults.c -- faults reach the program's own handlers with a correct
 * siginfo and ucontext: a SIGSEGV handler that repairs the page and
 * returns, a SIGFPE handler that leaves by siglongjmp, and a handler on
 * an alternate stack. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

static char *page;
static volatile int segv_seen, fpe_seen, on_alt;
static sigjmp_buf env;
static char altstack[65536];

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	segv_seen = sig == SIGSEGV && si->si_addr == page + 100 &&
		    uc->uc_mcontext.gregs[REG_RIP] != 0;
	mprotect(page, 4096, PROT_READ | PROT_WRITE); /* the retry succeeds */
}

static void on_fpe(int sig, siginfo_t *si, void *ucv)
{
	(void)ucv;
	fpe_seen = sig == SIGFPE && si->si_code == FPE_INTDIV;
	siglongjmp(env, 1);
}

static void on_usr1(int sig)
{
	char here;
	on_alt = sig == SIGUSR1 && &here >= altstack && &here < altstack + sizeof(altstack);
}

int main(int argc, char **argv)
{
	(void)argv;
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);
	page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	page[100] = 'x';
	printf("segv handled and retried: %s, byte %c\n", segv_seen ? "yes" : "no", page[100]);

	sa.sa_sigaction = on_fpe;
	sigaction(SIGFPE, &sa, NULL);
	volatile int zero = argc - 1, num = 7;
	if (!sigsetjmp(env, 1))
		printf("never: %d\n", num / zero); /* idiv by 0: #DE */
	printf("fpe handled by siglongjmp: %s\n", fpe_seen ? "yes" : "no");

	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	sigaltstack(&ss, NULL);
	struct sigaction su = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	sigaction(SIGUSR1, &su, NULL);
	raise(SIGUSR1);
	printf("handler ran on the alternate stack: %s\n", on_alt ? "yes" : "no");

	signal(SIGSEGV, SIG_DFL);
	fflush(stdout);
	*(volatile int *)8 = 1; /* and without a handler, the program dies */
	return 0;
}
