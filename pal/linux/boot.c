/*
 * boot.c -- how a picoprocess starts: read the boot block the monitor
 * left at MOAT_BOOT_FD, install the monitor's seccomp filter before any
 * untrusted code exists in the address space, say hello so the monitor
 * can check the filter, then hand over to the LibOS.  Also the host
 * signal handlers that turn traps into the exception upcall.
 */
#include <asm/sigcontext.h>
#include <asm/stat.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/mman.h>
#include <linux/seccomp.h>

#include "pal.h"
#include "moat/extension.h"

#define H_SIGILL 4
#define H_SIGTRAP 5
#define H_SIGBUS 7
#define H_SIGFPE 8
#define H_SIGSEGV 11
#define H_SIGSYS 31
#define H_SIGPAUSE 33 /* MOAT_SIG_CHECKPOINT: the monitor asks for a PAUSE */
#define H_SIG_DFL 0
#define H_SA_SIGINFO 0x4
#define H_SA_ONSTACK 0x08000000
#define H_SA_RESTORER 0x04000000

struct host_siginfo {
	int signo, errno_, code, pad;
	union {
		void *addr;                          /* SIGSEGV & co */
		struct { void *call_addr; int nr; unsigned arch; } sys;
	};
};

struct host_ucontext {
	unsigned long flags;
	void *link;
	struct { void *sp; int flags; size_t size; } stack;
	struct sigcontext mc;
	uint64_t sigmask;
};

void pal_sigreturn(void);

const struct moat_abi pal_abi = {
	.version = MOAT_ABI_VERSION,
	.size = sizeof(struct moat_abi),
	.thread_create = pal_thread_create,
	.thread_delay = pal_thread_delay,
	.thread_yield = pal_thread_yield,
	.thread_resume = pal_thread_resume,
	.thread_exit = pal_thread_exit,
	.semaphore_create = pal_semaphore_create,
	.semaphore_release = pal_semaphore_release,
	.event_create = pal_event_create,
	.event_set = pal_event_set,
	.event_clear = pal_event_clear,
	.objects_wait_any = pal_objects_wait_any,
	.address_wait = pal_address_wait,
	.vm_alloc = pal_vm_alloc,
	.vm_free = pal_vm_free,
	.vm_protect = pal_vm_protect,
	.stream_open = pal_stream_open,
	.stream_read = pal_stream_read,
	.stream_write = pal_stream_write,
	.stream_map = pal_stream_map,
	.stream_unmap = pal_stream_unmap,
	.stream_set_length = pal_stream_set_length,
	.stream_flush = pal_stream_flush,
	.stream_delete = pal_stream_delete,
	.stream_rename = pal_stream_rename,
	.stream_wait_for_client = pal_stream_wait_for_client,
	.stream_attr_query = pal_stream_attr_query,
	.stream_attr_query_by_handle = pal_stream_attr_query_by_handle,
	.stream_readlink = pal_stream_readlink,
	.stream_attr_set = pal_stream_attr_set,
	.stream_symlink = pal_stream_symlink,
	.stream_link = pal_stream_link,
	.stream_lock = pal_stream_lock,
	.process_create = pal_process_create,
	.process_fork = pal_process_fork,
	.process_wait = pal_process_wait,
	.process_control = pal_process_control,
	.stream_pipe = pal_stream_pipe,
	.stream_shutdown = pal_stream_shutdown,
	.process_exit = pal_process_exit,
	.system_time = pal_system_time,
	.random_bits = pal_random_bits,
	.segment_base_set = pal_segment_base_set,
	.timer_set = pal_timer_set,
	.debug_log = pal_debug_log,
	.object_close = pal_object_close,
};

_Static_assert(sizeof(struct moat_abi) ==
		       8 + MOAT_ABI_NCALLS * sizeof(void *),
	       "MOAT_ABI_NCALLS out of date");

/* What the PAL calls up through: the LibOS's table, or the lowest
 * extension that interposes on the way up (moat/extension.h, UPCALLS). */
const struct moat_upcalls *pal_upcalls = &moat_libos_upcalls;

_Noreturn void pal_fatal(const char *msg)
{
	pal_debug_log(msg, strlen(msg));
	host_write(2, "moat-pico: ", 11);
	host_write(2, msg, strlen(msg));
	host_write(2, "\n", 1);
	host_exit_group(127);
	__builtin_unreachable();
}

static void context_from_host(struct moat_context *c,
			      const struct sigcontext *m)
{
	c->rax = m->rax, c->rbx = m->rbx, c->rcx = m->rcx, c->rdx = m->rdx;
	c->rsi = m->rsi, c->rdi = m->rdi, c->rbp = m->rbp, c->rsp = m->rsp;
	c->r8 = m->r8, c->r9 = m->r9, c->r10 = m->r10, c->r11 = m->r11;
	c->r12 = m->r12, c->r13 = m->r13, c->r14 = m->r14, c->r15 = m->r15;
	c->rip = m->rip, c->rflags = m->eflags;
	c->fpstate = (void *)m->fpstate;
}

static void context_to_host(struct sigcontext *m,
			    const struct moat_context *c)
{
	m->rax = c->rax, m->rbx = c->rbx, m->rcx = c->rcx, m->rdx = c->rdx;
	m->rsi = c->rsi, m->rdi = c->rdi, m->rbp = c->rbp, m->rsp = c->rsp;
	m->r8 = c->r8, m->r9 = c->r9, m->r10 = c->r10, m->r11 = c->r11;
	m->r12 = c->r12, m->r13 = c->r13, m->r14 = c->r14, m->r15 = c->r15;
	m->rip = c->rip, m->eflags = c->rflags;
}

static uint32_t exception_kind(int sig)
{
	switch (sig) {
	case H_SIGSYS: return MOAT_EXC_SYSCALL;
	case H_SIGSEGV: return MOAT_EXC_MEMFAULT;
	case H_SIGBUS: return MOAT_EXC_BUSERR;
	case H_SIGFPE: return MOAT_EXC_ARITH;
	case H_SIGTRAP: return MOAT_EXC_BREAKPOINT;
	case H_SIGILL: return MOAT_EXC_ILLEGAL;
	case H_SIGPAUSE: return MOAT_EXC_PAUSE;
	default: return MOAT_EXC_INTERRUPT;
	}
}

extern char pico_start[], pico_end[], pico_state_start[], pico_state_end[];

static int in_pico(uint64_t rip)
{
	return rip >= MOAT_PICO_BASE && rip < (uint64_t)pico_end;
}

static void on_host_signal(int sig, struct host_siginfo *si, void *ucv)
{
	struct host_ucontext *uc = ucv;
	struct moat_context ctx;
	struct moat_exception exc = {
		.kind = exception_kind(sig),
		.code = (uint32_t)si->code,
		.ctx = &ctx,
	};
	context_from_host(&ctx, &uc->mc);
	/* A fault in the image (a LibOS copy from or to the app that hit bad
	 * memory) resumes LibOS code: with its own host mask, not the app's. */
	int platform_fault = sig != H_SIGSYS && in_pico(ctx.rip);
	if (exc.kind == MOAT_EXC_PAUSE) {
		exc.code = 1;
		if (in_pico(ctx.rip))
			exc.flags = MOAT_EXC_IN_PLATFORM;
		pal_signal_arrived(); /* a blocking downcall returns -EINTR */
	} else if (exc.kind == MOAT_EXC_INTERRUPT) {
		exc.code = (uint32_t)sig;
		exc.pid = (uint32_t)((int *)si)[4]; /* si_pid */
		exc.signal_code = ((int *)si)[2];
		exc.signal_status = ((int *)si)[6]; /* si_status of SIGCHLD */
		if (in_pico(ctx.rip))
			exc.flags = MOAT_EXC_IN_PLATFORM;
		pal_signal_arrived();
	} else if (sig == H_SIGSYS && si->sys.arch != AUDIT_ARCH_X86_64) {
		exc.kind = MOAT_EXC_ILLEGAL; /* int $0x80 and friends */
	} else if (sig != H_SIGSYS) {
		exc.fault_addr = (uint64_t)si->addr;
	}
	pal_upcalls->exception(&exc);
	if ((exc.flags & MOAT_EXC_IN_PLATFORM) && !(exc.flags & MOAT_EXC_RESUME_CHANGED))
		return; /* back into the PAL, whose context is untouched */
	if (exc.flags & MOAT_EXC_CRASHED) {
		/* The faulting instruction runs again under the default
		 * action: the host ends the process by this signal, and the
		 * monitor reports a crash rather than the app's end. */
		struct host_sigaction dfl = { .handler = (void *)H_SIG_DFL };
		host_rt_sigaction(sig, &dfl, 0);
		return;
	}
	context_to_host(&uc->mc, &ctx);
	if (platform_fault && in_pico(ctx.rip))
		return;
	/* App code always runs with every host signal open: new threads and
	 * forked children inherit the handler's full mask otherwise. */
	uc->sigmask = 0;
}

static void install_handlers(void)
{
	static const int sigs[] = { H_SIGSYS, H_SIGSEGV, H_SIGBUS, H_SIGFPE,
				    H_SIGILL, H_SIGTRAP };
	struct host_sigaction sa = {
		.handler = (void *)on_host_signal,
		.flags = H_SA_SIGINFO | H_SA_ONSTACK | H_SA_RESTORER,
		.restorer = (void *)pal_sigreturn,
		.mask = ~0ULL, /* a trap inside the LibOS is fatal, not nested */
	};
	for (size_t i = 0; i < RT_ARRAY_LEN(sigs); i++) {
		/* Except SIGSEGV and SIGBUS while the LibOS handles a trapped
		 * system call: a copy from or to the app that faults comes up
		 * as an exception, and the LibOS returns EFAULT (libos/uaccess.c).
		 * A fault in the fault handler itself stays fatal. */
		sa.mask = sigs[i] == H_SIGSYS ? ~((1ULL << (H_SIGSEGV - 1)) | (1ULL << (H_SIGBUS - 1)))
					      : ~0ULL;
		if (host_rt_sigaction(sigs[i], &sa, 0) < 0)
			pal_fatal("cannot install trap handlers");
	}
	sa.mask = ~0ULL;
	/* Everything else that can be caught is the app's business: the
	 * LibOS decides (ignore, default action, or the app's handler). */
	sa.flags |= 0x10000000; /* SA_RESTART */
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == 9 || sig == 19 || (sig >= 18 && sig <= 22) ||
		    sig == 32 || sig == 33 || exception_kind(sig) != MOAT_EXC_INTERRUPT)
			continue; /* KILL, STOP, job control, libc-internal, traps */
		host_rt_sigaction(sig, &sa, 0);
	}
	/* The monitor's checkpoint request (signal 33, which no app sees:
	 * glibc keeps it for itself). */
	host_rt_sigaction(H_SIGPAUSE, &sa, 0);
	/* A write to a closed pipe returns EPIPE; the LibOS raises SIGPIPE. */
	struct host_sigaction ign = { .handler = (void *)1, .restorer = 0 };
	host_rt_sigaction(13, &ign, 0);
}

static void install_filter(const struct moat_boot_block *bb)
{
	struct sock_fprog prog = {
		.len = (unsigned short)bb->filter_len,
		.filter = (struct sock_filter *)(bb + 1),
	};
	long r = host_seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog);
	if (r < 0)
		pal_fatal("cannot install the seccomp filter");
}

/* Split the NUL-separated strings of the boot block into the arrays of
 * struct moat_boot_info. */
static void unpack_strings(const struct moat_boot_block *bb,
			   struct moat_boot_info *bi)
{
	const char *s = (const char *)((const struct sock_filter *)(bb + 1) +
				       bb->filter_len);
	const char *end = s + bb->strings_len;
	char **vec = pal_pages((bb->argc + bb->envc + 2) * sizeof(char *));
	size_t n = 2 + bb->argc + bb->envc;
	const char *items[2];

	for (size_t i = 0; i < n; i++) {
		if (s >= end)
			pal_fatal("boot block strings are truncated");
		if (i < 2)
			items[i] = s;
		else if (i < 2 + bb->argc)
			vec[i - 2] = (char *)s;
		else
			vec[i - 1] = (char *)s;
		s += strnlen(s, (size_t)(end - s)) + 1;
	}
	vec[bb->argc] = 0;
	vec[bb->argc + bb->envc + 1] = 0;
	bi->exe_uri = items[0];
	bi->cwd = items[1];
	bi->argc = (int)bb->argc;
	bi->argv = vec;
	bi->envp = vec + bb->argc + 1;
}

/* The table the LibOS gets: the PAL's own, or, with extensions chosen,
 * the top of their stack over it (moat/extension.h). */
static const struct moat_abi *abi_for_libos(const struct moat_boot_block *bb,
					    struct moat_boot_info *bi)
{
	if (!bb->nexts)
		return &pal_abi;
	const char *s = (const char *)((const struct sock_filter *)(bb + 1) +
				       bb->filter_len);
	const char *end = s + bb->strings_len;
	for (uint32_t i = 0; i < 2 + bb->argc + bb->envc && s < end; i++)
		s += strnlen(s, (size_t)(end - s)) + 1;
	if (s > end)
		s = end;
	static const struct moat_ext_image img = { pico_state_start, pico_state_end };
	return moat_extension_stack(&pal_abi, s, (size_t)(end - s), bb->nexts, &bi->flags,
				    &pal_upcalls, &img);
}

/* The donated directories' virtual paths follow the extensions' pairs. */
static void directfs_init(const struct moat_boot_block *bb)
{
	const char *s = (const char *)((const struct sock_filter *)(bb + 1) +
				       bb->filter_len);
	const char *end = s + bb->strings_len;
	for (uint32_t i = 0; i < 2 + bb->argc + bb->envc + 2 * bb->nexts && s < end; i++)
		s += strnlen(s, (size_t)(end - s)) + 1;
	if (s < end)
		pal_directfs_init(s, end, bb->ndirs, bb->dirs_uid, bb->dirs_gid, bb->dirs_root);
}

void pal_main(void *initial_sp)
{
	(void)initial_sp;
	struct stat st;
	if (host_fstat(MOAT_BOOT_FD, &st) < 0)
		pal_fatal("no boot block: moat-pico is started by 'moat run'");
	long map = host_mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, MOAT_BOOT_FD, 0);
	if (map < 0)
		pal_fatal("cannot map the boot block");
	const struct moat_boot_block *bb = (const void *)map;
	if ((size_t)st.st_size < sizeof(*bb) || bb->magic != MOAT_BOOT_MAGIC ||
	    bb->version != MOAT_ABI_VERSION)
		pal_fatal("boot block has the wrong magic or version");

	install_filter(bb);
	host_close(MOAT_BOOT_FD);
	if (pal_request(MOAT_OP_HELLO, 0, 0, 0, 0, 0, 0, 0) < 0)
		pal_fatal("the monitor refused the picoprocess");

	pal_console_placeholder_init();
	for (int fd = 0; fd < 3; fd++) {
		pal_handles[fd].type = PAL_H_STREAM;
		pal_handles[fd].fd = fd;
		pal_handles[fd].kind = MOAT_KIND_CONSOLE;
		pal_handles[fd].access = fd ? MOAT_ACCESS_WRITE
					    : MOAT_ACCESS_READ;
	}

	struct moat_boot_info bi = { .flags = bb->flags, .uid = bb->uid,
				     .gid = bb->gid, .ncpus = bb->ncpus,
				     .mem_bytes = bb->mem_bytes, .max_files = bb->max_files,
				     .image_start = (uint64_t)pico_start,
				     .image_end = RT_ALIGN_UP((uint64_t)pico_end, 4096) };
	memcpy(bi.stdio, bb->stdio, sizeof(bi.stdio));
	unpack_strings(bb, &bi);

	directfs_init(bb);
	pal_altstack_install();
	install_handlers();
	moat_libos_upcalls.init(abi_for_libos(bb, &bi), &bi);
	pal_fatal("the LibOS returned from init");
}
