/*
 * tests/abi/counter.c -- a picoprocess with no LibOS: this file stands
 * where the LibOS would, and uses the ABI directly.  It counts, writing
 * each number on a line of file:/out/count.txt, until it reaches the
 * number in its first argument, then exits 0.  It proves that the
 * checkpointer (extensions/ckpt) needs nothing of the LibOS but the
 * PAUSE cooperation of abi.h, which it honours in the smallest way: its
 * state is its static data and memory from vm_alloc (its stack too), and
 * when a PAUSE has come it traps (int3), coming back through the
 * exception upcall, where the checkpointer takes its context.
 */
#include "moat/abi.h"
#include "rt.h"

static const struct moat_abi *abi;
static volatile int paused;
static uint64_t count, limit, offset;
static moat_handle out;

static void say(const char *s)
{
	abi->stream_write(2, MOAT_OFFSET_STREAM, s, strlen(s));
}

static _Noreturn void count_loop(void)
{
	while (count < limit) {
		char line[32];
		int n = rt_snprintf(line, sizeof(line), "%lu\n", (unsigned long)count);
		long r = abi->stream_write(out, offset, line, (size_t)n);
		if (r != n) {
			say("counter: write failed\n");
			abi->process_exit(1, 0);
		}
		offset += (uint64_t)n;
		count++;
		if (abi->thread_delay(2000000) == -MOAT_EINTR || paused)
			__asm__ volatile("int3"); /* a stop point: see the top */
	}
	abi->process_exit(0, 0);
	__builtin_unreachable();
}

static void init(const struct moat_abi *a, const struct moat_boot_info *b)
{
	abi = a;
	limit = 1000;
	if (b->argc > 1) {
		limit = 0;
		for (const char *p = b->argv[1]; *p >= '0' && *p <= '9'; p++)
			limit = limit * 10 + (uint64_t)(*p - '0');
	}
	long h = abi->stream_open("file:/out/count.txt", MOAT_ACCESS_WRITE,
				  MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE, 0644);
	if (h < 0) {
		say("counter: cannot open file:/out/count.txt\n");
		abi->process_exit(1, 0);
	}
	out = (moat_handle)h;
	/* A stack the ABI made, so that a checkpoint holds it. */
	long stack = abi->vm_alloc(0, 65536, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
	if (stack < 0)
		abi->process_exit(1, 0);
	__asm__ volatile("mov %0, %%rsp\n\tcall *%1" : : "r"(stack + 65536 - 16), "r"(count_loop)
			 : "memory");
	__builtin_unreachable();
}

static void thread_start(void *arg)
{
	(void)arg;
	abi->thread_exit(0);
}

static void exception(struct moat_exception *e)
{
	if (e->kind == MOAT_EXC_PAUSE)
		paused = (int)e->code;
	else if (e->kind == MOAT_EXC_BREAKPOINT)
		return; /* our own stop point; go on after the int3 */
	else if (e->kind != MOAT_EXC_INTERRUPT)
		abi->process_exit(128 + 11, 11);
}

const struct moat_upcalls moat_libos_upcalls = {
	.init = init,
	.thread_start = thread_start,
	.exception = exception,
};
