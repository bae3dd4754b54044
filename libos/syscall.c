/*
 * syscall.c -- the Linux system call table of the LibOS, made from
 * libos/syscalls.def.
 *
 * Every 'syscall' the app executes arrives here through the exception
 * upcall.  Unknown numbers return -ENOSYS and are named once on the debug
 * log, so a missing call shows up in `moat run --debug` rather than as a
 * mystery.
 */
#include <asm/unistd.h>

#include "libos.h"
#include "uaccess.h"
#include "moat/extension.h"

/* A handler as the table holds it: the app's registers in, the result
 * (or -errno) out. */
typedef long (*sys_fn)(struct moat_context *c);

/* One thunk per entry of syscalls.def converts the registers (rdi, rsi,
 * rdx, r10, r8, r9) to the handler's parameter types, so every handler is
 * called through its own prototype. */
#define SYSCALL0(name) \
	static long do_##name(struct moat_context *c) { (void)c; return sys_##name(); }
#define SYSCALL1(name, t0) \
	static long do_##name(struct moat_context *c) { return sys_##name((t0)c->rdi); }
#define SYSCALL2(name, t0, t1)                                   \
	static long do_##name(struct moat_context *c)            \
	{                                                        \
		return sys_##name((t0)c->rdi, (t1)c->rsi);       \
	}
#define SYSCALL3(name, t0, t1, t2)                                   \
	static long do_##name(struct moat_context *c)                \
	{                                                            \
		return sys_##name((t0)c->rdi, (t1)c->rsi, (t2)c->rdx); \
	}
#define SYSCALL4(name, t0, t1, t2, t3)                               \
	static long do_##name(struct moat_context *c)                \
	{                                                            \
		return sys_##name((t0)c->rdi, (t1)c->rsi, (t2)c->rdx, \
				  (t3)c->r10);                       \
	}
#define SYSCALL5(name, t0, t1, t2, t3, t4)                           \
	static long do_##name(struct moat_context *c)                \
	{                                                            \
		return sys_##name((t0)c->rdi, (t1)c->rsi, (t2)c->rdx, \
				  (t3)c->r10, (t4)c->r8);            \
	}
#define SYSCALL6(name, t0, t1, t2, t3, t4, t5)                       \
	static long do_##name(struct moat_context *c)                \
	{                                                            \
		return sys_##name((t0)c->rdi, (t1)c->rsi, (t2)c->rdx, \
				  (t3)c->r10, (t4)c->r8, (t5)c->r9); \
	}
#define ALIAS(name, other)
#define CONTEXT(name)
#define RETURN(name, value) \
	static long ret_##name(struct moat_context *c) { (void)c; return value; }
#include "syscalls.def"

/* The table, indexed by Linux number; sized by its highest entry. */
#define SYSCALL0(name) [__NR_##name] = do_##name,
#define SYSCALL1(name, ...) SYSCALL0(name)
#define SYSCALL2(name, ...) SYSCALL0(name)
#define SYSCALL3(name, ...) SYSCALL0(name)
#define SYSCALL4(name, ...) SYSCALL0(name)
#define SYSCALL5(name, ...) SYSCALL0(name)
#define SYSCALL6(name, ...) SYSCALL0(name)
#define ALIAS(name, other) [__NR_##name] = do_##other,
#define CONTEXT(name) [__NR_##name] = sys_##name,
#define RETURN(name, value) [__NR_##name] = ret_##name,
static const sys_fn table[] = {
#include "syscalls.def"
};

/* Numbers already named on the log; those past the end share the last bit. */
static uint8_t reported[128];

static void report_unimplemented(uint64_t nr)
{
	if (boot->flags & MOAT_BOOT_NOTES) {
		/* Every time, for the extension below that counts them. */
		char note[96];
		int n = rt_snprintf(note, sizeof(note), MOAT_NOTE_PREFIX "enosys %lu %s",
				    (unsigned long)nr, nr < syscall_names_len && syscall_names[nr]
				    ? syscall_names[nr] : "unknown");
		abi->debug_log(note, (size_t)n);
	}
	uint64_t bit = nr < sizeof(reported) * 8 ? nr : sizeof(reported) * 8 - 1;
	if (reported[bit / 8] & (1 << (bit % 8)))
		return;
	reported[bit / 8] |= (uint8_t)(1 << (bit % 8));
	const char *name = nr < syscall_names_len && syscall_names[nr]
				   ? syscall_names[nr] : "unknown";
	klog("unimplemented syscall %lu (%s): ENOSYS", (unsigned long)nr, name);
}

long syscall_dispatch(struct moat_context *c)
{
	uint64_t nr = c->rax;
	long r = -ENOSYS;
	thread_sig()->syscall_nr = nr;
	if (nr < RT_ARRAY_LEN(table) && table[nr]) {
		r = uaccess_syscall_check(c); /* bad buffers: -EFAULT */
		if (r == 0)
			r = table[nr](c);
	}
	else
		report_unimplemented(nr);
	if (boot->flags & MOAT_BOOT_TRACE)
		klog("%s(%lx, %lx, %lx, %lx) = %ld",
		     nr < syscall_names_len && syscall_names[nr] ? syscall_names[nr] : "?",
		     c->rdi, c->rsi, c->rdx, c->r10, r);
	return r;
}
