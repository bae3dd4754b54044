/*
 * mm.c -- mmap, munmap, mprotect, mremap, madvise and brk over the ABI's
 * virtual memory and stream-map calls.
 */
#include <linux/mman.h>

#include "libos.h"
#include "uaccess.h"

#define PAGE 4096UL

static uint32_t prot_bits(int prot)
{
	return (uint32_t)prot & (MOAT_PROT_READ | MOAT_PROT_WRITE | MOAT_PROT_EXEC);
}

long sys_mmap(uint64_t addr, size_t len, int prot, int flags, int fd,
	      uint64_t off)
{
	uint32_t mflags = 0, kind = VMA_ANON;
	const char *path = NULL;
	int type = flags & MAP_TYPE;
	int shared = type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
	/* As Linux: the descriptor first, then the arguments. */
	if (!(flags & MAP_ANONYMOUS) && !fs_is_open(fd))
		return -EBADF;
	if (!len || (off & (PAGE - 1)) || (addr & (PAGE - 1) && (flags & MAP_FIXED)) ||
	    (!shared && type != MAP_PRIVATE) || len > (1UL << 47))
		return -EINVAL;
	len = RT_ALIGN_UP(len, PAGE);
	if (flags & MAP_FIXED_NOREPLACE)
		mflags = MOAT_MAP_NOREPLACE;
	else if (flags & MAP_FIXED)
		mflags = MOAT_MAP_FIXED;
	long r;
	if (flags & MAP_ANONYMOUS) {
		if (shared) {
			mflags |= MOAT_MAP_SHARED; /* shared with forked children */
			kind = VMA_SHARED;
		}
		r = abi->vm_alloc((void *)addr, len, prot_bits(prot), mflags);
		goto out;
	}
	moat_handle h;
	int writable = 0, is_zero = 0;
	r = fs_map_handle(fd, &h, &writable, &is_zero, &path);
	if (r < 0)
		return r;
	if (is_zero) {
		r = abi->vm_alloc((void *)addr, len, prot_bits(prot), mflags);
		goto out;
	}
	kind = VMA_FILE;
	if (shared) {
		if ((prot & PROT_WRITE) && !writable)
			return -EACCES;
		mflags |= MOAT_MAP_SHARED;
		kind = VMA_SHARED;
	}
	r = abi->stream_map(h, (void *)addr, off, len, prot_bits(prot), mflags);
out:
	if (r >= 0)
		vma_add((uint64_t)r, len, prot_bits(prot), kind, off, path);
	return r;
}

long sys_munmap(uint64_t addr, size_t len)
{
	if ((addr & (PAGE - 1)) || !len)
		return -EINVAL;
	long r = abi->vm_free((void *)addr, RT_ALIGN_UP(len, PAGE));
	if (r == 0)
		vma_remove(addr, len);
	return r;
}

long sys_mprotect(uint64_t addr, size_t len, int prot)
{
	if (addr & (PAGE - 1))
		return -EINVAL;
	if (!len)
		return 0;
	long r = abi->vm_protect((void *)addr, RT_ALIGN_UP(len, PAGE), prot_bits(prot));
	if (r == 0)
		vma_protect(addr, len, prot_bits(prot));
	return r;
}

/* Grow or shrink by copying; mappings of files keep working only through
 * the copy, which is what private maps promise anyway. */
long sys_mremap(uint64_t old, size_t old_len, size_t new_len, int flags,
		uint64_t new_addr)
{
	(void)new_addr;
	if ((old & (PAGE - 1)) || !new_len)
		return -EINVAL;
	old_len = RT_ALIGN_UP(old_len, PAGE);
	new_len = RT_ALIGN_UP(new_len, PAGE);
	if (new_len <= old_len) {
		if (new_len < old_len)
			sys_munmap(old + new_len, old_len - new_len);
		return (long)old;
	}
	long r = abi->vm_alloc((void *)(old + old_len), new_len - old_len,
			       MOAT_PROT_READ | MOAT_PROT_WRITE, MOAT_MAP_NOREPLACE);
	if (r >= 0) {
		vma_add(old + old_len, new_len - old_len, MOAT_PROT_READ | MOAT_PROT_WRITE,
			VMA_ANON, 0, NULL);
		return (long)old;
	}
	if (!(flags & MREMAP_MAYMOVE) || (flags & MREMAP_FIXED))
		return -ENOMEM;
	r = abi->vm_alloc(0, new_len, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
	if (r < 0)
		return r;
	vma_add((uint64_t)r, new_len, MOAT_PROT_READ | MOAT_PROT_WRITE, VMA_ANON, 0, NULL);
	memcpy((void *)r, (void *)old, old_len);
	sys_munmap(old, old_len);
	return r;
}

long sys_madvise(uint64_t addr, size_t len, int advice)
{
	if (addr & (PAGE - 1))
		return -EINVAL;
	if (advice == MADV_DONTNEED)
		return vma_discard(addr, len);
	return 0; /* the rest are hints */
}

long sys_brk(uint64_t want)
{
	if (want < proc.brk_start)
		return (long)proc.brk_cur;
	uint64_t end = RT_ALIGN_UP(want, PAGE);
	if (end > proc.brk_end) {
		long r = abi->vm_alloc((void *)proc.brk_end, end - proc.brk_end,
				       MOAT_PROT_READ | MOAT_PROT_WRITE,
				       MOAT_MAP_NOREPLACE);
		if (r < 0)
			return (long)proc.brk_cur;
		vma_add(proc.brk_end, end - proc.brk_end, MOAT_PROT_READ | MOAT_PROT_WRITE,
			VMA_ANON, 0, "[heap]");
		proc.brk_end = end;
	}
	proc.brk_cur = want;
	return (long)want;
}

/* Shared file maps use the host's page cache, so other readers see the
 * writes at once; durability is fsync's job.  Check the range only. */
long sys_msync(uint64_t addr, size_t len, int flags)
{
	(void)len;
	if ((addr & (PAGE - 1)) || (flags & ~7) || ((flags & 1) && (flags & 4)))
		return -EINVAL;
	return 0;
}

/* Memory locking is the host's to grant, and it does not: the calls are
 * accepted with no effect (the host may still page the memory out), as
 * madvise hints are, so that programs that lock secrets keep running. */
long sys_mlock(uint64_t addr, uint64_t len)
{
	return addr + len < addr ? -EINVAL : 0;
}

long sys_mlock2(uint64_t addr, uint64_t len, unsigned flags)
{
	return flags & ~1u ? -EINVAL : sys_mlock(addr, len); /* MLOCK_ONFAULT */
}

long sys_munlock(uint64_t addr, uint64_t len)
{
	return sys_mlock(addr, len);
}

long sys_mlockall(int flags)
{
	/* MCL_CURRENT 1, MCL_FUTURE 2, MCL_ONFAULT 4 (never alone) */
	return !flags || flags & ~7 || flags == 4 ? -EINVAL : 0;
}

long sys_munlockall(void)
{
	return 0;
}

/* mincore: the LibOS cannot see residency, so every mapped page is
 * reported resident (what a program that asks mostly wants to know is
 * whether the range is mapped, which is exact). */
long sys_mincore(uint64_t addr, size_t len, unsigned char *vec)
{
	if (addr & (PAGE - 1))
		return -EINVAL;
	if (len > (1UL << 47) || addr + len < addr)
		return -ENOMEM;
	uint64_t end = addr + RT_ALIGN_UP(len, PAGE);
	if (!vma_covers(addr, end))
		return -ENOMEM;
	static const unsigned char ones[256] = { [0 ... 255] = 1 };
	uint64_t n = (end - addr) / PAGE;
	if (!user_range_ok(vec, n))
		return -EFAULT;
	for (uint64_t done = 0; done < n; done += sizeof(ones)) {
		uint64_t k = n - done < sizeof(ones) ? n - done : sizeof(ones);
		if (copy_to_user(vec + done, ones, k) < 0)
			return -EFAULT;
	}
	return 0;
}
