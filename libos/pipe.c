/*
 * pipe.c -- pipes, and every other host stream without a position.
 *
 * pipe() makes a host pipe; both ends are streams read and written at
 * the stream's own position.  A host object opened by path that is not a
 * file or directory (a character device, a host socket) is the same kind.
 * O_NONBLOCK is the LibOS's: a read first asks whether data is there.
 */
#include <linux/fcntl.h>

#include "file.h"
#include "uaccess.h"

long host_stream_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)at;
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if ((f->flags & O_NONBLOCK) && abi->objects_wait_any(1, &f->h, 0) != 0)
		return -EAGAIN;
	long r = abi->stream_read(f->h, MOAT_OFFSET_STREAM, buf, len);
	return r == -EINTR ? -ERESTARTSYS : r;
}

long host_stream_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)at;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	long r = abi->stream_write(f->h, MOAT_OFFSET_STREAM, buf, len);
	if (r == -EPIPE)
		signal_raise(13); /* SIGPIPE, delivered on the way out */
	return r == -EINTR ? -ERESTARTSYS : r;
}

short host_stream_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at)
{
	(void)wake_at;
	short in = events & (0x001 | 0x040), out = events & (0x004 | 0x100);
	if (f->kind != MOAT_KIND_PIPE && f->kind != MOAT_KIND_CONSOLE &&
	    f->kind != MOAT_KIND_SOCKET && f->kind != MOAT_KIND_SERVER)
		return in | out; /* a device never blocks */
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return out;
	*h = f->h;
	return (in && abi->objects_wait_any(1, &f->h, 0) == 0 ? in : 0) |
	       ((f->flags & O_ACCMODE) == O_RDWR ? out : 0);
}

long host_stream_stat(struct file *f, struct moat_attr *a)
{
	return abi->stream_attr_query_by_handle(f->h, a);
}

static void pipe_describe(struct file *f, char *out, size_t len)
{
	if (f->kind == MOAT_KIND_PIPE)
		rt_snprintf(out, len, "pipe:[%d]", f->h);
	else
		rt_snprintf(out, len, "anon_inode:[%d]", f->h);
}

const struct file_ops pipe_ops = {
	.read = host_stream_read,
	.write = host_stream_write,
	.poll = host_stream_poll,
	.stat = host_stream_stat,
	.truncate = host_stream_truncate,
	.allocate = host_stream_allocate,
	.sync = host_stream_sync,
	.describe = pipe_describe,
	.caps = FILE_STREAMING | FILE_NAMED,
};

static int install_end(moat_handle h, int flags, int cloexec)
{
	struct file *f = file_new(&pipe_ops, flags);
	if (!f) {
		abi->object_close(h);
		return -ENOMEM;
	}
	f->h = h;
	f->kind = MOAT_KIND_PIPE;
	return file_install(f, cloexec);
}

long sys_pipe2(int *fds, int flags)
{
	moat_handle rd, wr;
	if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	long r = abi->stream_pipe(&rd, &wr, 0);
	if (r < 0)
		return r;
	/* F_GETFL shows O_NONBLOCK and O_DIRECT as given (O_DIRECT's packet
	 * mode is not kept: a read may join writes). */
	int status = flags & (O_NONBLOCK | O_DIRECT);
	int a = install_end(rd, O_RDONLY | status, !!(flags & O_CLOEXEC));
	if (a < 0) {
		abi->object_close(wr);
		return a;
	}
	int b = install_end(wr, O_WRONLY | status, !!(flags & O_CLOEXEC));
	if (b < 0) {
		sys_close(a);
		return b;
	}
	int pair[2] = { a, b };
	if (copy_to_user(fds, pair, sizeof(pair)) < 0) {
		sys_close(a);
		sys_close(b);
		return -EFAULT;
	}
	return 0;
}

long sys_pipe(int *fds)
{
	return sys_pipe2(fds, 0);
}

/* Last in file_kinds[]: whatever the host opened that no kind before
 * claimed. */
static long pipe_open_stream(struct file *f, const char *path, int flags,
			     const struct moat_attr *a)
{
	(void)path, (void)flags, (void)a;
	f->ops = &pipe_ops;
	return 0;
}

const struct file_kind host_stream_kind = { .open_stream = pipe_open_stream };
