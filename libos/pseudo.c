/*
 * pseudo.c -- /proc and /sys files and directories: their content is
 * made by procfs.c when they are opened, and read from memory.
 */
#include "file.h"

struct pseudo {
	char *content;   /* a file's bytes, or a directory's moat_dirents */
	size_t len;
};

static long pseudo_read(struct file *f, void *buf, size_t len, int64_t at)
{
	struct pseudo *p = f->priv;
	uint64_t off = at >= 0 ? (uint64_t)at : f->pos;
	size_t n = off >= p->len ? 0 : p->len - off;
	n = n < len ? n : len;
	memcpy(buf, p->content + off, n);
	if (at < 0)
		f->pos += n;
	return (long)n;
}

static long pseudo_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return -EACCES; /* pseudo-files are read-only */
}

static long pseudo_dir_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return -EISDIR;
}

static long pseudo_dir_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return -EISDIR;
}

/* Whole records only, as a host directory gives them. */
static long pseudo_getdents(struct file *f, void *buf, size_t len)
{
	struct pseudo *p = f->priv;
	size_t used = 0;
	while (f->pos + used < p->len) {
		const struct moat_dirent *d = (const void *)(p->content + f->pos + used);
		if (used + d->reclen > len)
			break;
		used += d->reclen;
	}
	if (!used && f->pos < p->len)
		return -EINVAL;
	memcpy(buf, p->content + f->pos, used);
	f->pos += used;
	return (long)used;
}

/* FIONREAD: what is left to read, exactly. */
static long pseudo_ioctl(struct file *f, unsigned long cmd, void *arg)
{
	struct pseudo *p = f->priv;
	if (cmd != 0x541B /* FIONREAD */)
		return -ENOTTY;
	*(int *)arg = (int)(p->len > f->pos ? p->len - f->pos : 0);
	return 0;
}

static void pseudo_release(struct file *f)
{
	struct pseudo *p = f->priv;
	kfree(p->content);
	kfree(p);
}

static const struct file_ops pseudo_ops = {
	.read = pseudo_read,
	.write = pseudo_write,
	.ioctl = pseudo_ioctl,
	.release = pseudo_release,
};

static const struct file_ops pseudo_dir_ops = {
	.read = pseudo_dir_read,
	.write = pseudo_dir_write,
	.getdents = pseudo_getdents,
	.release = pseudo_release,
};

/* Made now, so a listing of /proc/self/fd misses its own fd. */
static long pseudo_open_name(struct file *f, const char *path, int flags)
{
	(void)flags;
	if (!procfs_owns(path) || !strcmp(path, "/proc/self/exe"))
		return 1;
	struct pseudo *p = kzalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	long r = procfs_get(path, &f->attr, &p->content, &p->len);
	if (r < 0) {
		kfree(p);
		return r;
	}
	f->priv = p;
	f->ops = f->attr.kind == MOAT_KIND_DIR ? &pseudo_dir_ops : &pseudo_ops;
	f->attr.size = p->len;
	return 0;
}

const struct file_kind pseudo_kind = { .open_name = pseudo_open_name };
