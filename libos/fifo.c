/*
 * fifo.c -- named pipes, made by mkfifo or mknod S_IFIFO.
 *
 * The node is a host file the monitor lets the app create anyway: an
 * empty regular file with the sticky bit (meaningless on a file, so no
 * other file has it), which stat shows as a FIFO without that bit.  The
 * pipe itself is a unix stream socket of this app, named after the
 * node's device and inode, so every process of the picoprocess that
 * opens the node meets the same one:
 *   - a reader listens on the name and keeps, as the pipe's contents,
 *     the connections writers make to it; it reads whichever has data,
 *     and end-of-file once no writer is connected;
 *   - a writer connects, and writes into its connection.
 * As on Linux, opening for reading waits for a writer and opening for
 * writing waits for a reader, except with O_NONBLOCK: a reader opens at
 * once, and a writer with no reader gets ENXIO.  O_RDWR never waits: it
 * reads and connects to itself.
 * Limits: one reading open file per FIFO at a time (a second reader gets
 * EBUSY), and chmod of the node makes it a regular file again.
 */
#include <linux/fcntl.h>
#include <linux/stat.h>

#include "file.h"

#define FIFO_MARK 01000      /* S_ISVTX on an empty regular file */
#define FIFO_WRITERS 16      /* connections one reader keeps at once */
#define POLLIN_K 0x001
#define POLLHUP_K 0x010

struct fifo_reader {
	moat_handle listener;
	moat_handle conns[FIFO_WRITERS]; /* writers, oldest first */
	int n;
	int had_writer;      /* once one came and went, poll says POLLHUP */
};

static int is_fifo_node(const struct moat_attr *a)
{
	return a->kind == MOAT_KIND_FILE && (a->mode & FIFO_MARK) && a->size == 0;
}

static void fifo_node_attr(struct moat_attr *a)
{
	if (!is_fifo_node(a))
		return;
	a->kind = MOAT_KIND_PIPE;
	a->mode &= ~(uint32_t)FIFO_MARK;
}

/* The unix socket URI of the FIFO at (dev, ino): an abstract name. */
static void fifo_uri(const struct moat_attr *a, const char *scheme, char *uri, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	char name[64];
	int len = rt_snprintf(name, sizeof(name), "moat-fifo:%llx:%llx",
			      (unsigned long long)a->dev, (unsigned long long)a->ino);
	size_t n = (size_t)rt_snprintf(uri, size, "%s:@", scheme);
	for (int i = 0; i < len && n + 3 < size; i++) {
		uri[n++] = hex[(uint8_t)name[i] >> 4];
		uri[n++] = hex[(uint8_t)name[i] & 15];
	}
	uri[n] = 0;
}

/* Take the writers waiting to connect, without blocking. */
static void accept_writers(struct fifo_reader *fr)
{
	while (fr->n < FIFO_WRITERS) {
		long c = abi->stream_wait_for_client(fr->listener, 1, NULL, 0);
		if (c < 0)
			return;
		fr->conns[fr->n++] = (moat_handle)c;
		fr->had_writer = 1;
	}
}

static void drop_writer(struct fifo_reader *fr, int i)
{
	abi->object_close(fr->conns[i]);
	fr->conns[i] = fr->conns[--fr->n];
}

/* Index of a writer with data (or at its end), -1 if none now. */
static int ready_writer(struct fifo_reader *fr)
{
	if (!fr->n)
		return -1;
	long i = abi->objects_wait_any((uint32_t)fr->n, fr->conns, 0);
	return i >= 0 ? (int)i : -1;
}

static long fifo_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)at;
	struct fifo_reader *fr = f->priv;
	if (!fr)
		return -EBADF;
	for (;;) {
		accept_writers(fr);
		int i = ready_writer(fr);
		if (i >= 0) {
			long r = abi->stream_read(fr->conns[i], MOAT_OFFSET_STREAM, buf, len);
			if (r != 0 || !len)
				return r == -EINTR ? -ERESTARTSYS : r;
			drop_writer(fr, i); /* that writer is gone; others may remain */
			continue;
		}
		if (!fr->n)
			return 0; /* no writer: end of file, as Linux */
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		moat_handle hs[FIFO_WRITERS + 1];
		memcpy(hs, fr->conns, (size_t)fr->n * sizeof(hs[0]));
		hs[fr->n] = fr->listener;
		if (abi->objects_wait_any((uint32_t)fr->n + 1, hs, MOAT_WAIT_FOREVER) == -EINTR)
			return -ERESTARTSYS;
	}
}

static short fifo_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at)
{
	struct fifo_reader *fr = f->priv;
	short out = f->h != MOAT_NO_HANDLE ? host_stream_poll(f, events & ~POLLIN_K, h, wake_at)
					   : 0;
	if (!fr)
		return out;
	accept_writers(fr);
	*h = fr->n ? fr->conns[0] : fr->listener;
	if (ready_writer(fr) >= 0)
		return out | (events & POLLIN_K);
	return out | (!fr->n && fr->had_writer ? POLLHUP_K : 0);
}

static void fifo_release(struct file *f)
{
	struct fifo_reader *fr = f->priv;
	if (!fr)
		return;
	while (fr->n)
		drop_writer(fr, fr->n - 1);
	abi->object_close(fr->listener);
	kfree(fr);
}

static const struct file_ops fifo_ops = {
	.read = fifo_read,
	.write = host_stream_write,
	.poll = fifo_poll,
	.release = fifo_release,
	.caps = FILE_STREAMING | FILE_NAMED,
};

/* Listen as the FIFO's reader; a blocking open waits for a writer. */
static long open_reader(struct file *f, const struct moat_attr *a, int wait)
{
	char uri[200];
	struct fifo_reader *fr = kzalloc(sizeof(*fr));
	if (!fr)
		return -ENOMEM;
	fifo_uri(a, "unix.server", uri, sizeof(uri));
	long r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r < 0) {
		kfree(fr);
		return r == -EADDRINUSE ? -EBUSY : r;
	}
	fr->listener = (moat_handle)r;
	f->priv = fr;
	if (!wait)
		return 0;
	r = abi->stream_wait_for_client(fr->listener, 0, NULL, 0);
	if (r < 0)
		return r == -EINTR ? -ERESTARTSYS : r; /* f->priv goes with f */
	fr->conns[fr->n++] = (moat_handle)r;
	fr->had_writer = 1;
	return 0;
}

/* Connect as a writer; a blocking open waits (polling) for a reader. */
static long open_writer(struct file *f, const struct moat_attr *a, int wait)
{
	char uri[200];
	fifo_uri(a, "unix.client", uri, sizeof(uri));
	for (;;) {
		long r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
		if (r >= 0) {
			f->h = (moat_handle)r;
			return 0;
		}
		if (r != -ECONNREFUSED)
			return r;
		if (!wait)
			return -ENXIO; /* no reader */
		if (abi->thread_delay(10 * 1000 * 1000) == -EINTR)
			return -ERESTARTSYS;
	}
}

static long fifo_open_stream(struct file *f, const char *path, int flags,
			     const struct moat_attr *a)
{
	(void)path;
	if (!is_fifo_node(a))
		return 1;
	abi->object_close(f->h); /* the node's own stream is not the pipe */
	f->h = MOAT_NO_HANDLE;
	f->ops = &fifo_ops;
	f->kind = MOAT_KIND_SOCKET;
	f->attr = *a;
	fifo_node_attr(&f->attr);
	int wait = !(flags & O_NONBLOCK), mode = flags & O_ACCMODE;
	long r = 0;
	if (mode != O_WRONLY)
		r = open_reader(f, a, wait && mode == O_RDONLY);
	if (r == 0 && mode != O_RDONLY)
		r = open_writer(f, a, wait && mode == O_WRONLY);
	return r;
}

/* The node: an empty file with the mark, created where a file could be. */
static long fifo_make_node(const char *uri, uint32_t mode)
{
	long r = abi->stream_open(uri, MOAT_ACCESS_WRITE, MOAT_OPEN_CREATE | MOAT_OPEN_EXCL,
				  (mode & 0777) | FIFO_MARK);
	if (r < 0)
		return r;
	abi->object_close((moat_handle)r);
	return 0;
}

const struct file_kind fifo_kind = {
	.open_stream = fifo_open_stream,
	.node_type = S_IFIFO,
	.make_node = fifo_make_node,
	.node_attr = fifo_node_attr,
};
