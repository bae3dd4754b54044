/*
 * memfd.c -- memfd_create: an anonymous memory file of the host, named
 * "/memfd:NAME (deleted)" as Linux shows it, used as a regular file.
 */
#include "file.h"

long sys_memfd_create(const char *name, unsigned flags)
{
	char uri[80], path[96];
	if (!name)
		return -EFAULT;
	if (strnlen(name, 250) > 249 || (flags & ~0x7u)) /* CLOEXEC|ALLOW_SEALING|HUGETLB */
		return -EINVAL;
	rt_snprintf(uri, sizeof(uri), "memfd:%.40s", name);
	long r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r < 0)
		return r;
	struct file *f = file_new(&regular_ops, 2 /* O_RDWR */);
	if (!f) {
		abi->object_close((moat_handle)r);
		return -ENOMEM;
	}
	f->h = (moat_handle)r;
	f->kind = MOAT_KIND_FILE;
	rt_snprintf(path, sizeof(path), "/memfd:%s (deleted)", name);
	f->path = kstrdup(path);
	return file_install(f, flags & 1);
}
