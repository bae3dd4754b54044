/*
 * rewrite.c -- the LibOS's syscall-site rewriting (libos/rewrite.c), run
 * natively and inside moat by tests/test_rewrite.sh, which compares the
 * output and reads `moat run --trace` to see which sites were patched.
 *
 *   rewrite [small] every part below, then re-executes itself ("exec");
 *                   "small" makes 1000 calls where there are a million
 *   rewrite exec    a getpid loop in the new image
 *
 * Output holds no pids or counts that differ between runs: only whether
 * each check held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long N_CALLS = 1000000, N_PIPE = 200000; /* "small": 1000, 1000 */

static const char *yes(int ok) { return ok ? "yes" : "NO"; }

/* --- 1. many calls through patched sites, results as native --- */

static void loops(void)
{
	pid_t pid = getpid(), ppid = getppid();
	long same_pid = 0, same_ppid = 0, same_raw = 0;
	for (long i = 0; i < N_CALLS; i++) {
		same_pid += getpid() == pid;                     /* mov $39,%eax; syscall */
		same_ppid += syscall(SYS_getppid) == ppid;       /* syscall(): mov 8(%rsp),%r9 */
	}
	for (long i = 0; i < N_CALLS / 10; i++)
		same_raw += syscall(SYS_getpid) == pid;
	printf("getpid x %ld: %s\n", N_CALLS, yes(same_pid == N_CALLS));
	printf("getppid x %ld: %s\n", N_CALLS, yes(same_ppid == N_CALLS));
	printf("syscall(SYS_getpid) x %ld: %s\n", N_CALLS / 10, yes(same_raw == N_CALLS / 10));

	int p[2];
	if (pipe(p) < 0) {
		perror("pipe");
		exit(1);
	}
	long sum = 0, ok = 0;
	for (long i = 0; i < N_PIPE; i++) {
		unsigned char c = (unsigned char)(i * 7), d = 0;
		long w = write(p[1], &c, 1);                     /* mov $1,%eax */
		long r = syscall(SYS_read, p[0], &d, 1);         /* through syscall() */
		ok += w == 1 && r == 1 && d == c;
		sum += d;
	}
	errno = 0;
	long bad = syscall(SYS_read, 12345, &sum, 1);
	printf("pipe write+read x %ld: %s, sum %ld; read(bad fd) = %ld errno %d\n", N_PIPE,
	       yes(ok == N_PIPE), sum, bad, errno);
	close(p[0]);
	close(p[1]);
}

/* --- 2. signals landing during fast calls; registers kept --- */

static volatile long alarms, usr1s, handler_getpid_ok = 1;

static void handler(int sig)
{
	if (sig == SIGALRM)
		alarms++;
	else
		usr1s++;
	/* A system call from the handler (also a fast one), and vector
	 * registers the interrupted code must not see. */
	if (getpid() <= 0)
		handler_getpid_ok = 0;
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\tpcmpeqd %%xmm8, %%xmm8\n\t"
			 "pxor %%xmm15, %%xmm15\n\tpcmpeqd %%xmm3, %%xmm3"
			 ::: "xmm0", "xmm3", "xmm8", "xmm15");
}

/* n getpid calls from one site of its own, with patterns in xmm0-15 and
 * the general registers the kernel keeps; counts calls after which any
 * of them changed, or rcx/r11 are not what 'syscall' leaves. */
static long register_loop(long n)
{
	long bad = 0;
	__asm__ volatile(
		"mov %1, %%rbx\n\t"            /* rbx: calls left; %0: bad calls */
		"mov $0x1111111111111111, %%rax\n\t"
		"movq %%rax, %%xmm0\n\t"
		"pshufd $0, %%xmm0, %%xmm0\n\t"
		"movdqa %%xmm0, %%xmm1\n\t"  "paddd %%xmm0, %%xmm1\n\t"
		"movdqa %%xmm1, %%xmm2\n\t"  "paddd %%xmm0, %%xmm2\n\t"
		"movdqa %%xmm2, %%xmm3\n\t"  "paddd %%xmm0, %%xmm3\n\t"
		"movdqa %%xmm3, %%xmm4\n\t"  "paddd %%xmm0, %%xmm4\n\t"
		"movdqa %%xmm4, %%xmm5\n\t"  "paddd %%xmm0, %%xmm5\n\t"
		"movdqa %%xmm5, %%xmm6\n\t"  "paddd %%xmm0, %%xmm6\n\t"
		"movdqa %%xmm6, %%xmm7\n\t"  "paddd %%xmm0, %%xmm7\n\t"
		"movdqa %%xmm7, %%xmm8\n\t"  "paddd %%xmm0, %%xmm8\n\t"
		"movdqa %%xmm8, %%xmm9\n\t"  "paddd %%xmm0, %%xmm9\n\t"
		"movdqa %%xmm9, %%xmm10\n\t" "paddd %%xmm0, %%xmm10\n\t"
		"movdqa %%xmm10, %%xmm11\n\t" "paddd %%xmm0, %%xmm11\n\t"
		"movdqa %%xmm11, %%xmm12\n\t" "paddd %%xmm0, %%xmm12\n\t"
		"movdqa %%xmm12, %%xmm13\n\t" "paddd %%xmm0, %%xmm13\n\t"
		"movdqa %%xmm13, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t"
		"movdqa %%xmm14, %%xmm15\n\t" "paddd %%xmm0, %%xmm15\n\t"
		"1:\n\t"
		"mov $0x5151515151515151, %%rdi\n\t"
		"mov $0x5252525252525252, %%rsi\n\t"
		"mov $0x5353535353535353, %%rdx\n\t"
		"mov $0x5454545454545454, %%r10\n\t"
		"mov $0x5555555555555555, %%r8\n\t"
		"mov $0x5656565656565656, %%r9\n\t"
		"mov $0x5757575757575757, %%r12\n\t"
		"mov $0x5858585858585858, %%r13\n\t"
		"mov $0x5959595959595959, %%r14\n\t"
		"lea 2f(%%rip), %%r15\n\t"
		"mov $39, %%eax\n\t"
		"syscall\n\t"
		"2:\n\t"
		"pushfq\n\t" "pop %%rax\n\t"
		"xor %%r11, %%rax\n\t" "and $0xcd5, %%eax\n\t" "jnz 3f\n\t" /* r11 = rflags */
		"cmp %%r15, %%rcx\n\t"  "jne 3f\n\t"
		"mov $0x5151515151515151, %%rax\n\t" "cmp %%rax, %%rdi\n\t" "jne 3f\n\t"
		"mov $0x5252525252525252, %%rax\n\t" "cmp %%rax, %%rsi\n\t" "jne 3f\n\t"
		"mov $0x5353535353535353, %%rax\n\t" "cmp %%rax, %%rdx\n\t" "jne 3f\n\t"
		"mov $0x5454545454545454, %%rax\n\t" "cmp %%rax, %%r10\n\t" "jne 3f\n\t"
		"mov $0x5555555555555555, %%rax\n\t" "cmp %%rax, %%r8\n\t" "jne 3f\n\t"
		"mov $0x5656565656565656, %%rax\n\t" "cmp %%rax, %%r9\n\t" "jne 3f\n\t"
		"mov $0x5757575757575757, %%rax\n\t" "cmp %%rax, %%r12\n\t" "jne 3f\n\t"
		"mov $0x5858585858585858, %%rax\n\t" "cmp %%rax, %%r13\n\t" "jne 3f\n\t"
		"mov $0x5959595959595959, %%rax\n\t" "cmp %%rax, %%r14\n\t" "jne 3f\n\t"
		/* xmm_k == (k + 1) * 0x11111111 in each dword */
		"movdqa %%xmm0, %%xmm14\n\t" "psubd %%xmm0, %%xmm14\n\t" /* scratch: rebuilt below */
		"jmp 4f\n\t"
		"3:\n\t"
		"incq %0\n\t"
		"4:\n\t"
		/* check xmm1..xmm13 against xmm0 multiples, using xmm14 */
		"movdqa %%xmm0, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t" "pcmpeqd %%xmm1, %%xmm14\n\t"
		"pmovmskb %%xmm14, %%eax\n\t" "cmp $0xffff, %%eax\n\t" "jne 5f\n\t"
		"movdqa %%xmm1, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t" "pcmpeqd %%xmm2, %%xmm14\n\t"
		"pmovmskb %%xmm14, %%eax\n\t" "cmp $0xffff, %%eax\n\t" "jne 5f\n\t"
		"movdqa %%xmm2, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t" "pcmpeqd %%xmm3, %%xmm14\n\t"
		"pmovmskb %%xmm14, %%eax\n\t" "cmp $0xffff, %%eax\n\t" "jne 5f\n\t"
		"movdqa %%xmm7, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t" "pcmpeqd %%xmm8, %%xmm14\n\t"
		"pmovmskb %%xmm14, %%eax\n\t" "cmp $0xffff, %%eax\n\t" "jne 5f\n\t"
		"movdqa %%xmm12, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t" "pcmpeqd %%xmm13, %%xmm14\n\t"
		"pmovmskb %%xmm14, %%eax\n\t" "cmp $0xffff, %%eax\n\t" "jne 5f\n\t"
		"movdqa %%xmm13, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t" "paddd %%xmm0, %%xmm14\n\t"
		"pcmpeqd %%xmm15, %%xmm14\n\t"
		"pmovmskb %%xmm14, %%eax\n\t" "cmp $0xffff, %%eax\n\t" "jne 5f\n\t"
		"mov $0x1111111111111111, %%rax\n\t" "movq %%xmm0, %%r11\n\t" "cmp %%rax, %%r11\n\t"
		"jne 5f\n\t"
		"jmp 6f\n\t"
		"5:\n\t"
		"incq %0\n\t"
		"6:\n\t"
		"dec %%rbx\n\t"
		"jnz 1b\n\t"
		: "+m"(bad)
		: "r"(n)
		: "rax", "rbx", "r12", "r13", "r14", "r15", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15", "memory", "cc");
	return bad;
}

static void signals(void)
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	pid_t parent = getpid();
	pid_t child = fork();
	if (child == 0) {
		/* Another process: SIGUSR1 at the parent, 30 times. */
		for (int i = 0; i < 30; i++) {
			struct timespec ts = { 0, 3000000 };
			nanosleep(&ts, NULL);
			kill(parent, SIGUSR1);
		}
		_exit(0);
	}
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	long bad = 0, rounds = 0;
	time_t start = time(NULL);
	int st, child_done = 0;
	while ((alarms < 30 || !child_done) && time(NULL) - start < 20) {
		bad += register_loop(2000);
		rounds++;
		if (!child_done && waitpid(child, &st, WNOHANG) == child)
			child_done = 1;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	if (!child_done)
		waitpid(child, &st, 0);
	signal(SIGALRM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	printf("SIGALRM (setitimer) landed during fast calls: %s\n", yes(alarms >= 30));
	printf("SIGUSR1 (kill from another process) landed: %s\n", yes(usr1s >= 10));
	printf("general and xmm registers, rcx and r11 kept across %s calls: %s\n",
	       rounds > 0 ? "all" : "no", yes(bad == 0));
	printf("system calls from the handler: %s\n", yes(handler_getpid_ok));
}

/* --- 3. fork after patching --- */

static void forked(void)
{
	pid_t c = fork();
	if (c == 0) {
		pid_t me = getpid();
		long ok = 0;
		for (int i = 0; i < 100000; i++)
			ok += getpid() == me && syscall(SYS_getpid) == me;
		_exit(ok == 100000 ? 0 : 1);
	}
	int st = -1;
	waitpid(c, &st, 0);
	printf("fork: the child's patched sites answer for the child: %s\n",
	       yes(WIFEXITED(st) && WEXITSTATUS(st) == 0 && c > 0));
}

/* --- 4. threads racing to first-execute one site --- */

long race_call(void);
__asm__(".text\n"
	".globl race_call\n"
	".type race_call, @function\n"
	".p2align 4\n"
	"race_call:\n"
	".cfi_startproc\n"
	".byte 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0\n" /* an 8-byte nop */
	"mov $110, %eax\n"               /* getppid, in one aligned 8-byte word */
	"syscall\n"
	"ret\n"
	".cfi_endproc\n"
	".size race_call, .-race_call\n");

static pthread_barrier_t barrier;
static long expected_ppid;

static void *racer(void *arg)
{
	long *ok = arg;
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < 100000; i++)
		*ok += race_call() == expected_ppid;
	return NULL;
}

static void threads(void)
{
	pthread_t t[4];
	long ok[4] = { 0 };
	expected_ppid = getppid();
	pthread_barrier_init(&barrier, NULL, 4);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, racer, &ok[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("4 threads x 100000 calls racing to one fresh site: %s\n",
	       yes(ok[0] + ok[1] + ok[2] + ok[3] == 400000));
}

/* --- 5. a jump straight to a patched site's 'syscall' --- */

long site_fn(void);
long site_sys(void);
__asm__(".text\n"
	".globl site_fn\n"
	".type site_fn, @function\n"
	"site_fn:\n"
	".cfi_startproc\n"
	"mov $39, %eax\n"
	".globl site_sys\n"
	"site_sys:\n"
	"syscall\n"
	"ret\n"
	".cfi_endproc\n"
	".size site_fn, .-site_fn\n"
	".globl call_site_sys\n"
	".type call_site_sys, @function\n"
	"call_site_sys:\n"
	".cfi_startproc\n"
	"mov $110, %eax\n"
	"jmp site_sys\n"                 /* getppid, entering at the 'syscall' */
	".cfi_endproc\n"
	".size call_site_sys, .-call_site_sys\n");
long call_site_sys(void);

static void jump_to_syscall(void)
{
	long ok = 0;
	for (int i = 0; i < 1000; i++)
		ok += site_fn() == getpid() && call_site_sys() == getppid();
	printf("a jump to a patched site's syscall instruction: %s\n", yes(ok == 1000));
}

/* --- 5b. a run of instructions moved: glibc read's shape --- */

/* run_fn(_, _, nr): 'cmpb $0, run_flag(%rip); jne 1f; mov %edx, %eax;
 * syscall' -- the instruction before the 'syscall' is 2 bytes, so the
 * whole run moves to the stub, its rip-relative operand and its branch
 * re-aimed.  run_flag set: the branch is taken (from the stub), 12345.
 * call_run_mid enters the run after its first instruction, which must
 * still run there as written (ZF from its own compare). */
long run_fn(long a, long b, long nr);
long call_run_mid(long a, long b, long nr, long taken);
volatile unsigned char run_flag;
__asm__(".text\n"
	".globl run_fn\n"
	".type run_fn, @function\n"
	".p2align 4\n"
	"run_fn:\n"
	".cfi_startproc\n"
	"cmpb $0, run_flag(%rip)\n"
	"run_mid:\n"
	"jne 1f\n"
	"mov %edx, %eax\n"
	"syscall\n"
	"ret\n"
	"1:\n"
	"mov $12345, %eax\n"
	"ret\n"
	".cfi_endproc\n"
	".size run_fn, .-run_fn\n"
	".globl call_run_mid\n"
	".type call_run_mid, @function\n"
	"call_run_mid:\n"
	".cfi_startproc\n"
	"cmp $0, %rcx\n"                /* ZF: taken == 0 */
	"jmp run_mid\n"
	".cfi_endproc\n"
	".size call_run_mid, .-call_run_mid\n");

static void moved_run(void)
{
	long pid = getpid(), ok = 0, mid = 0;
	for (int i = 0; i < 2000; i++) {
		run_flag = (unsigned char)(i % 3 == 2);
		ok += run_fn(0, 0, SYS_getpid) == (run_flag ? 12345 : pid);
		long taken = i % 2;
		mid += call_run_mid(0, 0, SYS_getppid, taken) == (taken ? 12345 : getppid());
	}
	printf("a moved run of three instructions (rip-relative, branch): %s; "
	       "entered in its middle: %s\n", yes(ok == 2000), yes(mid == 2000));
}

/* --- 6. code in anonymous memory (JIT style) is not patched --- */

static void jit(void)
{
	static const unsigned char code[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(p, code, sizeof(code));
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	long (*fn)(void) = (long (*)(void))p;
	long ok = 0;
	for (int i = 0; i < 1000; i++)
		ok += fn() == getpid();
	printf("JIT code in anonymous memory: %s, bytes unchanged: %s\n", yes(ok == 1000),
	       yes(memcmp(p, code, sizeof(code)) == 0));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "exec")) {
		pid_t me = getpid();
		long ok = 0;
		for (int i = 0; i < 100000; i++)
			ok += getpid() == me && syscall(SYS_getpid) == me;
		printf("after execve, the new image: %s\n", yes(ok == 100000));
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "small"))
		N_CALLS = 1000, N_PIPE = 1000;
	loops();
	signals();
	forked();
	threads();
	jump_to_syscall();
	moved_run();
	jit();
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
	execl(argv[0], argv[0], "exec", (char *)NULL);
	perror("execl");
	return 1;
}
