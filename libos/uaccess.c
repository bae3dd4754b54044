/*
 * uaccess.c -- fault-safe copies to and from the app (uaccess.h).
 *
 * The Linux kernel's way: each copy is one small assembly routine whose
 * only instruction that touches app memory has a known address, and a
 * fixup address next to it.  A host SIGSEGV or SIGBUS there comes up as
 * an exception (the PAL leaves those two signals open while the LibOS
 * handles a trapped system call, and keeps the LibOS's host signal mask
 * when it resumes it); uaccess_fixup moves the thread to the fixup,
 * which returns -EFAULT to the C caller.  The routines use no stack and
 * keep no state, so resuming at the fixup leaves nothing half done.
 */
#include <asm/unistd.h>
#include <linux/fcntl.h>

#include "file.h"
#include "uaccess.h"

long uaccess_copy(void *dst, const void *src, size_t n);
long uaccess_fill(void *dst, size_t n);
long uaccess_strncpy(char *dst, const char *src, size_t max);
long uaccess_strnlen(const char *src, size_t max);
extern const char uaccess_strnlen_insn[], uaccess_strnlen_fixup[], uaccess_copy_insn[], uaccess_copy_fixup[],
	uaccess_fill_insn[], uaccess_fill_fixup[],
	uaccess_strncpy_insn[], uaccess_strncpy_fixup[];

/* rdi dst, rsi src, rdx n; rax: 0, or -EFAULT (14). */
__asm__(".text\n"
	".globl uaccess_copy, uaccess_copy_insn, uaccess_copy_fixup\n"
	".hidden uaccess_copy, uaccess_copy_insn, uaccess_copy_fixup\n"
	".type uaccess_copy, @function\n"
	"uaccess_copy:\n"
	"	mov %rdx, %rcx\n"
	"uaccess_copy_insn:\n"
	"	rep movsb\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	"uaccess_copy_fixup:\n"
	"	mov $-14, %rax\n"
	"	ret\n"
	".size uaccess_copy, .-uaccess_copy\n"
	/* rdi dst, rsi n: zeroes. */
	".globl uaccess_fill, uaccess_fill_insn, uaccess_fill_fixup\n"
	".hidden uaccess_fill, uaccess_fill_insn, uaccess_fill_fixup\n"
	".type uaccess_fill, @function\n"
	"uaccess_fill:\n"
	"	mov %rsi, %rcx\n"
	"	xor %eax, %eax\n"
	"uaccess_fill_insn:\n"
	"	rep stosb\n"
	"	ret\n"
	"uaccess_fill_fixup:\n"
	"	mov $-14, %rax\n"
	"	ret\n"
	".size uaccess_fill, .-uaccess_fill\n"
	/* rdi dst, rsi src, rdx max: the length before the NUL, max if
	 * none came, or -EFAULT.  Only the load from src touches the app. */
	".globl uaccess_strncpy, uaccess_strncpy_insn, uaccess_strncpy_fixup\n"
	".hidden uaccess_strncpy, uaccess_strncpy_insn, uaccess_strncpy_fixup\n"
	".type uaccess_strncpy, @function\n"
	"uaccess_strncpy:\n"
	"	xor %eax, %eax\n"
	"1:	cmp %rdx, %rax\n"
	"	je 2f\n"
	"uaccess_strncpy_insn:\n"
	"	movzbl (%rsi,%rax), %ecx\n"
	"	mov %cl, (%rdi,%rax)\n"
	"	test %cl, %cl\n"
	"	jz 2f\n"
	"	inc %rax\n"
	"	jmp 1b\n"
	"2:	ret\n"
	"uaccess_strncpy_fixup:\n"
	"	mov $-14, %rax\n"
	"	ret\n"
	".size uaccess_strncpy, .-uaccess_strncpy\n"
	/* rdi src, rsi max: the length before the NUL, max if none came,
	 * or -EFAULT. */
	".globl uaccess_strnlen, uaccess_strnlen_insn, uaccess_strnlen_fixup\n"
	".hidden uaccess_strnlen, uaccess_strnlen_insn, uaccess_strnlen_fixup\n"
	".type uaccess_strnlen, @function\n"
	"uaccess_strnlen:\n"
	"	xor %eax, %eax\n"
	"1:	cmp %rsi, %rax\n"
	"	je 2f\n"
	"uaccess_strnlen_insn:\n"
	"	cmpb $0, (%rdi,%rax)\n"
	"	je 2f\n"
	"	inc %rax\n"
	"	jmp 1b\n"
	"2:	ret\n"
	"uaccess_strnlen_fixup:\n"
	"	mov $-14, %rax\n"
	"	ret\n"
	".size uaccess_strnlen, .-uaccess_strnlen\n");

int user_range_ok(const void *p, size_t n)
{
	uint64_t a = (uint64_t)p, end = a + n;
	if (n == 0)
		return 1;
	if (end < a || end > USER_ADDR_LIMIT)
		return 0;
	return end <= boot->image_start || a >= boot->image_end;
}

long copy_from_user(void *dst, const void *usrc, size_t n)
{
	if (!user_range_ok(usrc, n))
		return -EFAULT;
	return uaccess_copy(dst, usrc, n);
}

long copy_to_user(void *udst, const void *src, size_t n)
{
	if (!user_range_ok(udst, n))
		return -EFAULT;
	return uaccess_copy(udst, src, n);
}

long clear_user(void *udst, size_t n)
{
	if (!user_range_ok(udst, n))
		return -EFAULT;
	return uaccess_fill(udst, n);
}

/* How far a string at a may be read: to the image or the limit (0 if
 * a itself is not app address space).  The string may end before. */
static uint64_t string_room(uint64_t a)
{
	if (a >= USER_ADDR_LIMIT || (a >= boot->image_start && a < boot->image_end))
		return 0;
	return (a < boot->image_start ? boot->image_start : USER_ADDR_LIMIT) - a;
}

long strncpy_from_user(char *dst, const char *usrc, size_t max)
{
	uint64_t room = string_room((uint64_t)usrc);
	if (max == 0)
		return -ENAMETOOLONG;
	if (!room)
		return -EFAULT;
	long n = uaccess_strncpy(dst, usrc, max < room ? max : room);
	if (n < 0)
		return n;
	if ((size_t)n == max)
		return -ENAMETOOLONG;
	if ((uint64_t)n == room)
		return -EFAULT; /* ran into the image or the limit */
	return n;
}

long strnlen_user(const char *usrc, size_t max)
{
	uint64_t room = string_room((uint64_t)usrc);
	if (!room)
		return -EFAULT;
	long n = uaccess_strnlen(usrc, max < room ? max : room);
	if (n >= 0 && (uint64_t)n == room && room < max)
		return -EFAULT;
	return n;
}

int uaccess_fixup(struct moat_exception *e)
{
	static const struct { const char *insn, *fixup; } table[] = {
		{ uaccess_copy_insn, uaccess_copy_fixup },
		{ uaccess_fill_insn, uaccess_fill_fixup },
		{ uaccess_strncpy_insn, uaccess_strncpy_fixup },
		{ uaccess_strnlen_insn, uaccess_strnlen_fixup },
	};
	if ((e->kind != MOAT_EXC_MEMFAULT && e->kind != MOAT_EXC_BUSERR) || !e->ctx)
		return 0;
	for (size_t i = 0; i < RT_ARRAY_LEN(table); i++) {
		if (e->ctx->rip == (uint64_t)table[i].insn) {
			e->ctx->rip = (uint64_t)table[i].fixup;
			/* LibOS code resumes: not the app's context (abi.h). */
			e->flags |= MOAT_EXC_IN_PLATFORM | MOAT_EXC_RESUME_CHANGED;
			return 1;
		}
	}
	return 0;
}

/* --- buffers the host kernel reads or fills for the app --- */

struct uio_vec { uint64_t base, len; };

/* An iovec array as Linux's import_iovec takes it: the array must be
 * readable (-EFAULT), no length negative as a ssize_t (-EINVAL), then
 * every buffer app memory (-EFAULT).  Counts out of range are left to
 * the handler, which refuses them. */
static long check_iovec(const struct uio_vec *uiov, long cnt)
{
	if (cnt < 0 || cnt > 1024)
		return 0;
	for (long i = 0; i < cnt; i++) {
		struct uio_vec v;
		if (copy_from_user(&v, uiov + i, sizeof(v)) < 0)
			return -EFAULT;
		if ((int64_t)v.len < 0)
			return -EINVAL;
	}
	for (long i = 0; i < cnt; i++)
		if (!user_range_ok((void *)uiov[i].base, uiov[i].len))
			return -EFAULT;
	return 0;
}

/* Is fd open for this direction?  If not, the handler's EBADF comes
 * first, as on Linux. */
static int fd_usable(int fd, int write)
{
	struct file *f = fd_file(fd);
	if (!f)
		return 0;
	int mode = f->flags & O_ACCMODE;
	return write ? mode != O_RDONLY : mode != O_WRONLY;
}

long uaccess_syscall_check(const struct moat_context *c)
{
	int write = 0;
	switch (c->rax) {
	case __NR_write: case __NR_pwrite64: case __NR_sendto:
		write = 1;
		/* fall through */
	case __NR_read: case __NR_pread64: case __NR_recvfrom:
	case __NR_getdents64:
		if (fd_usable((int)c->rdi, write) && !user_range_ok((void *)c->rsi, c->rdx))
			return -EFAULT;
		return 0;
	case __NR_writev: case __NR_pwritev: case __NR_pwritev2:
		write = 1;
		/* fall through */
	case __NR_readv: case __NR_preadv: case __NR_preadv2:
		if (!fd_usable((int)c->rdi, write))
			return 0;
		return check_iovec((const struct uio_vec *)c->rsi, (long)(int)c->rdx);
	default:
		return 0;
	}
}
