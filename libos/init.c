/*
 * init.c -- the three upcalls: start the program, start a thread, and
 * handle an exception (a trapped system call or a fault).
 */
#include <stdarg.h>

#include "libos.h"
#include "uaccess.h"

const struct moat_abi *abi;
const struct moat_boot_info *boot;
struct libos_proc proc;

void klog(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	if (!(boot->flags & MOAT_BOOT_DEBUG))
		return;
	va_start(ap, fmt);
	int n = rt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	abi->debug_log(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

_Noreturn void libos_panic(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = rt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	abi->debug_log(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	abi->stream_write(2, MOAT_OFFSET_STREAM, "moat: libos: ", 13);
	abi->stream_write(2, MOAT_OFFSET_STREAM, buf, strlen(buf));
	abi->stream_write(2, MOAT_OFFSET_STREAM, "\n", 1);
	abi->process_exit(127, 0);
	__builtin_unreachable();
}

static struct moat_boot_info boot_copy; /* the PAL's copy lives on its stack */

static void libos_init(const struct moat_abi *a, const struct moat_boot_info *b)
{
	abi = a;
	boot_copy = *b;
	boot = &boot_copy;
	if (a->version != MOAT_ABI_VERSION || a->size < sizeof(*a))
		libos_panic("ABI version %u does not match", a->version);
	proc.umask = 022;
	proc.pid = 1; /* the first process of the picoprocess's namespace */
	thread_init_main(proc.pid);
	identity_init(b->uid, b->gid);
	rt_strlcpy(proc.cwd, b->cwd, sizeof(proc.cwd));
	console_init();
	if (fs_check_dir(proc.cwd) < 0)
		libos_panic("working directory %s is not a directory the manifest grants",
			    proc.cwd);
	const char *exe = b->exe_uri;
	if (strncmp(exe, "file:", 5) == 0)
		exe += 5;
	process_exec_first(exe, b->argv, b->envp);
}


static void libos_exception(struct moat_exception *e)
{
	if (e->kind == MOAT_EXC_SYSCALL) {
		uint64_t nr = e->ctx->rax, site = e->ctx->rip - 2;
		e->ctx->rax = (uint64_t)syscall_dispatch(e->ctx);
		signal_deliver(e->ctx, 1);
		rewrite_site(site, nr);
	} else if (e->kind == MOAT_EXC_PAUSE) {
		libos_pause(e);
	} else if (e->kind == MOAT_EXC_INTERRUPT) {
		if ((e->flags & MOAT_EXC_IN_PLATFORM) && rewrite_enabled()) {
			/* Perhaps in the fast path (rewrite.c), which may need
			 * to look at pending signals again. */
			signal_interrupt_post(e);
			rewrite_interrupt(e);
			return;
		}
		signal_interrupt(e);
	} else if (e->kind == MOAT_EXC_BREAKPOINT && e->ctx->rip == (uint64_t)libos_park_resume) {
		return; /* a LibOS thread parked for a checkpoint (signal.c) */
	} else {
		if (uaccess_fixup(e))
			return; /* a copy from or to the app: it returns -EFAULT */
		if (rewrite_fault(e))
			return;
		signal_fault(e);
	}
}

const struct moat_upcalls moat_libos_upcalls = {
	.init = libos_init,
	.thread_start = thread_start,
	.exception = libos_exception,
};
