/*
 * file.h -- open files and the operations of each kind of object.
 *
 * Three layers, each calling only the ones below it:
 *   fs.c         paths, and the calls that take them (open, stat, mkdir);
 *                it finds the kind of a path through file_kinds[]
 *   kinds.c      file_kinds[]: the kinds that open by path, in order
 *   the kinds    one file each (regular.c, dir.c, pipe.c, console.c,
 *                device.c, pseudo.c, opath.c, memfd.c, eventfd.c,
 *                timerfd.c, signalfd.c, epoll.c, socket.c, fifo.c): the
 *                object and its file_ops
 *   fd.c         the descriptor table and the calls on a descriptor
 *                (read, write, lseek, fcntl, ioctl, dup, poll); it knows
 *                no kind, only file_ops
 * A new kind is one new file with its file_ops, and, if paths name it, one
 * line in kinds.c.
 */
#ifndef MOAT_LIBOS_FILE_H
#define MOAT_LIBOS_FILE_H

#include "libos.h"

struct file;

/* What a kind does with an open file.  A NULL entry means the default
 * given beside it. */
struct file_ops {
	/* 'at' < 0: at (and moving) the file position, else at 'at'.
	 * NULL: -EINVAL. */
	long (*read)(struct file *f, void *buf, size_t len, int64_t at);
	long (*write)(struct file *f, const void *buf, size_t len, int64_t at);
	/* readv/writev as one transfer (a datagram is one message, not one
	 * per iovec); iov is struct iovec.  NULL: read/write per element. */
	long (*rw_vector)(struct file *f, void *iov, size_t cnt, int write);
	/* What the file can report now (POLL* bits of 'events'), with a
	 * handle to sleep on in *h and the monotonic time it becomes ready
	 * in *wake_at if that is earlier.  NULL: always ready. */
	short (*poll)(struct file *f, short events, moat_handle *h, int64_t *wake_at);
	/* fstat.  NULL: f->attr. */
	long (*stat)(struct file *f, struct moat_attr *a);
	/* The last reference is gone: free what the kind holds (f itself,
	 * f->path and f->h's stream are freed by fd.c). */
	void (*release)(struct file *f);
	/* getdents64.  NULL: -ENOTDIR. */
	long (*getdents)(struct file *f, void *buf, size_t len);
	/* Calls other than FIONBIO, FIOASYNC, FIOCLEX.  NULL or -ENOTTY for
	 * FIONREAD: 1 if poll says readable. */
	long (*ioctl)(struct file *f, unsigned long cmd, void *arg);
	/* fcntl F_GETLK/F_SETLK/F_SETLKW: fl is a struct flock copied into the
	 * LibOS, its type and whence checked (fd.c).  NULL: -EBADF. */
	long (*lock)(struct file *f, int cmd, void *fl);
	/* flock.  NULL: -EINVAL. */
	long (*flock)(struct file *f, int op);
	/* ftruncate, fallocate mode 0, fsync.  NULL: -EBADF, -EBADF, 0. */
	long (*truncate)(struct file *f, uint64_t len);
	long (*allocate)(struct file *f, uint64_t end);
	long (*sync)(struct file *f);
	/* mmap: the stream to map (or *is_zero for anonymous memory).
	 * NULL: -ENODEV. */
	long (*map)(struct file *f, moat_handle *h, int *writable, int *is_zero);
	/* What /proc/self/fd/N shows when f->path is NULL.
	 * NULL: "anon_inode:[h]". */
	void (*describe)(struct file *f, char *out, size_t len);
	unsigned caps;  /* FILE_* below */
};

#define FILE_STREAMING 0x1 /* no position: lseek and pread give -ESPIPE */
#define FILE_NAMED     0x2 /* f->path names the object (/proc/self/fd links) */
#define FILE_DIR       0x4 /* a directory: a dirfd, fchdir */
#define FILE_CACHED    0x8 /* a host file: readahead */
#define FILE_NAME_ONLY 0x10 /* O_PATH: a name and its attributes */

/* An open file description: what dup shares. */
struct file {
	int refs;
	const struct file_ops *ops;
	void *priv;            /* the kind's own state */
	moat_handle h;         /* the host stream, if the kind has one */
	uint32_t kind;         /* its MOAT_KIND_*, 0 if none */
	uint64_t pos;
	int flags;             /* O_ACCMODE | O_APPEND | O_NONBLOCK ... */
	char *path;            /* virtual path it was opened by, or NULL */
	struct moat_attr attr; /* for kinds that describe themselves at open */
	int owner, owner_type; /* F_SETOWN(_EX), type + 1 (0: none): recorded;
				  SIGIO is never sent */
	uint64_t serial;       /* fs_file_serial */
};

/* fd.c: the descriptor table. */
struct file *fd_file(int fd);
/* A new file of kind 'ops' (refs 1, h MOAT_NO_HANDLE), or NULL. */
struct file *file_new(const struct file_ops *ops, int flags);
/* Put f at the lowest free descriptor >= 0: the descriptor, or -errno
 * after dropping f. */
int file_install(struct file *f, int cloexec);
void file_put(struct file *f);
/* A new file of kind 'ops' holding 'priv', installed: the descriptor, or
 * -errno after ops->release has freed priv. */
int file_install_obj(const struct file_ops *ops, void *priv, int flags, int cloexec);
/* The kind's state behind fd if fd is of kind 'ops', else NULL. */
void *fd_priv(int fd, const struct file_ops *ops, int *flags);
long file_stat(struct file *f, struct moat_attr *a);
long fd_dup_min(int old, int min, int cloexec);

/* A kind that paths can name (kinds.c lists them, in the order they are
 * asked).  Each hook returns 1 for "not this kind's", else 0 or -errno;
 * a NULL hook is "not this kind's". */
struct file_kind {
	/* open with O_PATH: *a describes 'path' (no stream is opened). */
	long (*open_attr)(struct file *f, const char *path, int flags,
			  const struct moat_attr *a);
	/* Before any host stream: open 'path' if the kind makes it itself
	 * (a device, a /proc file). */
	long (*open_name)(struct file *f, const char *path, int flags);
	/* Describe such a path without opening it (stat). */
	long (*name_attr)(const char *path, struct moat_attr *a);
	/* The host opened 'path' as f->h (f->kind its kind), described by
	 * *a: make f this kind's if it is. */
	long (*open_stream)(struct file *f, const char *path, int flags,
			    const struct moat_attr *a);
	/* mknod of a node of S_IFMT type 'node_type' (0: none) at 'uri'. */
	uint32_t node_type;
	long (*make_node)(const char *uri, uint32_t mode);
	/* Correct the host's description of a node this kind made. */
	void (*node_attr)(struct moat_attr *a);
};
extern const struct file_kind *const file_kinds[];

/* Kinds other kinds build on. */
extern const struct file_ops regular_ops;            /* regular.c */
long host_stream_truncate(struct file *f, uint64_t len);
long host_stream_allocate(struct file *f, uint64_t end);
long host_stream_sync(struct file *f);
long host_stream_read(struct file *f, void *buf, size_t len, int64_t at); /* pipe.c */
long host_stream_write(struct file *f, const void *buf, size_t len, int64_t at);
short host_stream_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at);
long host_stream_stat(struct file *f, struct moat_attr *a);

#endif /* MOAT_LIBOS_FILE_H */
