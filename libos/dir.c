/*
 * dir.c -- directories opened from the host: records read in order.
 *
 * The attributes are those the monitor's open reply carried (the PAL
 * answers them by handle, no second trip), which are the path's: a
 * directory's fstat agrees with its stat.
 */
#include "file.h"

static long dir_rw(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return -EISDIR;
}

static long dir_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return -EISDIR;
}

static long dir_getdents(struct file *f, void *buf, size_t len)
{
	long r = abi->stream_read(f->h, f->pos, buf, len);
	if (r > 0)
		f->pos += (uint64_t)r;
	return r;
}

/* Directories: nothing to share, so every lock is granted. */
static long dir_flock(struct file *f, int op)
{
	(void)f, (void)op;
	return 0;
}

const struct file_ops dir_ops = {
	.read = dir_rw,
	.write = dir_write,
	.getdents = dir_getdents,
	.flock = dir_flock,
	.caps = FILE_NAMED | FILE_DIR,
};

static long dir_open_stream(struct file *f, const char *path, int flags,
			    const struct moat_attr *a)
{
	(void)path, (void)flags;
	if (a->kind != MOAT_KIND_DIR)
		return 1;
	f->ops = &dir_ops;
	f->attr = *a;
	return 0;
}

const struct file_kind dir_kind = { .open_stream = dir_open_stream };
