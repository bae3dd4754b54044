/*
 * opath.c -- O_PATH descriptors: a name and its attributes, no stream.
 * They serve as directory descriptors, for fstat and for fchdir; reading
 * or writing one is -EBADF, as on Linux.
 */
#include <linux/fcntl.h>

#include "file.h"

static long opath_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return -EBADF;
}

static long opath_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return -EBADF;
}

static const struct file_ops opath_ops = {
	.read = opath_read,
	.write = opath_write,
	.caps = FILE_NAMED | FILE_NAME_ONLY,
};

static long opath_open_attr(struct file *f, const char *path, int flags,
			    const struct moat_attr *a)
{
	(void)path;
	if (!(flags & O_PATH))
		return 1;
	if ((flags & O_DIRECTORY) && a->kind != MOAT_KIND_DIR)
		return -ENOTDIR;
	f->attr = *a;
	f->ops = &opath_ops;
	return 0;
}

const struct file_kind opath_kind = { .open_attr = opath_open_attr };
