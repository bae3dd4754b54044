/*
 * regular.c -- regular files: a host file stream with a position.
 *
 * Reads and writes go to the host at the file's position (or at an
 * explicit offset for pread/pwrite); O_APPEND asks the host for the
 * length before each write.  Record locks and flock are the host's,
 * shared with every process using the same file.
 */
#include <linux/fcntl.h>

#include "file.h"

static long regular_read(struct file *f, void *buf, size_t len, int64_t at)
{
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	long r = abi->stream_read(f->h, at >= 0 ? (uint64_t)at : f->pos, buf, len);
	if (r > 0 && at < 0)
		f->pos += (uint64_t)r;
	return r;
}

static long regular_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	long r;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (at < 0 && (f->flags & O_APPEND)) {
		struct moat_attr a;
		r = abi->stream_attr_query_by_handle(f->h, &a);
		if (r < 0)
			return r;
		f->pos = a.size;
	}
	r = abi->stream_write(f->h, at >= 0 ? (uint64_t)at : f->pos, buf, len);
	if (r > 0 && at < 0)
		f->pos += (uint64_t)r;
	return r;
}

static long regular_stat(struct file *f, struct moat_attr *a)
{
	return abi->stream_attr_query_by_handle(f->h, a);
}

/* POSIX record locks: make the range absolute, then ask the PAL. */
static long regular_lock(struct file *f, int cmd, void *arg)
{
	struct flock *fl = arg;
	struct moat_attr a;
	int64_t base = 0;
	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK && fl->l_type != F_UNLCK)
		return -EINVAL;
	if (fl->l_whence == 1)
		base = (int64_t)f->pos;
	else if (fl->l_whence == 2) {
		long r = abi->stream_attr_query_by_handle(f->h, &a);
		if (r < 0)
			return r;
		base = (int64_t)a.size;
	} else if (fl->l_whence != 0)
		return -EINVAL;
	int64_t start = base + fl->l_start, len = fl->l_len;
	if (len < 0) { /* a negative length reaches back from start */
		start += len;
		len = -len;
	}
	if (start < 0)
		return -EINVAL;
	uint64_t ustart = (uint64_t)start, ulen = (uint64_t)len;
	int32_t pid = 0;
	if (cmd == F_GETLK) {
		long t = abi->stream_lock(f->h, MOAT_LOCK_TEST, (uint32_t)fl->l_type,
					  &ustart, &ulen, &pid);
		if (t < 0)
			return t;
		fl->l_type = (short)t;
		if (t != F_UNLCK) {
			fl->l_whence = 0;
			fl->l_start = (long)ustart;
			fl->l_len = (long)ulen;
			fl->l_pid = pid;
		}
		return 0;
	}
	long r = abi->stream_lock(f->h, cmd == F_SETLKW ? MOAT_LOCK_WAIT : MOAT_LOCK_SET,
				  (uint32_t)fl->l_type, &ustart, &ulen, &pid);
	return r == -EINTR ? -ERESTARTSYS : r;
}

static long regular_flock(struct file *f, int op)
{
	uint32_t type;
	switch (op & ~4 /* LOCK_NB */) {
	case 1: type = MOAT_LOCK_READ; break;
	case 2: type = MOAT_LOCK_WRITE; break;
	case 8: type = MOAT_LOCK_UNLOCK; break;
	default: return -EINVAL;
	}
	uint64_t zero = 0;
	int32_t pid;
	long r = abi->stream_lock(f->h, MOAT_LOCK_WHOLE | (op & 4 ? MOAT_LOCK_SET : MOAT_LOCK_WAIT),
				  type, &zero, &zero, &pid);
	return r == -EINTR ? -ERESTARTSYS : r;
}

long host_stream_truncate(struct file *f, uint64_t len)
{
	return abi->stream_set_length(f->h, len);
}

long host_stream_allocate(struct file *f, uint64_t end)
{
	struct moat_attr a;
	long r = abi->stream_attr_query_by_handle(f->h, &a);
	if (r == 0 && end > a.size)
		r = abi->stream_set_length(f->h, end);
	return r;
}

long host_stream_sync(struct file *f)
{
	return abi->stream_flush(f->h);
}

static long regular_map(struct file *f, moat_handle *h, int *writable, int *is_zero)
{
	(void)is_zero;
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	*h = f->h;
	*writable = (f->flags & O_ACCMODE) == O_RDWR;
	return 0;
}

const struct file_ops regular_ops = {
	.read = regular_read,
	.write = regular_write,
	.stat = regular_stat,
	.lock = regular_lock,
	.flock = regular_flock,
	.truncate = host_stream_truncate,
	.allocate = host_stream_allocate,
	.sync = host_stream_sync,
	.map = regular_map,
	.caps = FILE_NAMED | FILE_CACHED,
};

static long regular_open_stream(struct file *f, const char *path, int flags,
				const struct moat_attr *a)
{
	(void)path, (void)flags;
	if (a->kind != MOAT_KIND_FILE)
		return 1;
	f->ops = &regular_ops;
	return 0;
}

const struct file_kind regular_kind = { .open_stream = regular_open_stream };
