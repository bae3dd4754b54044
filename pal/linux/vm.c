/*
 * vm.c -- virtual memory: the ABI's vm_alloc, vm_free and vm_protect,
 * and the pages the PAL takes for its own objects, all from host mmap.
 */
#include <linux/mman.h>

#include "pal.h"

void *pal_pages(size_t size)
{
	long p = host_mmap(0, RT_ALIGN_UP(size, 4096), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p < 0)
		pal_fatal("out of memory for PAL state");
	return (void *)p;
}

static long map_flags(uint32_t flags)
{
	if (flags & MOAT_MAP_NOREPLACE)
		return MAP_FIXED_NOREPLACE;
	return flags & MOAT_MAP_FIXED ? MAP_FIXED : 0;
}

long pal_vm_alloc(void *addr, size_t size, uint32_t prot, uint32_t flags)
{
	long share = flags & MOAT_MAP_SHARED ? MAP_SHARED : MAP_PRIVATE;
	return host_mmap(addr, size, prot & 7,
			 share | MAP_ANONYMOUS | map_flags(flags), -1, 0);
}

long pal_vm_free(void *addr, size_t size)
{
	return host_munmap(addr, size);
}

long pal_vm_protect(void *addr, size_t size, uint32_t prot)
{
	return host_mprotect(addr, size, prot & 7);
}
