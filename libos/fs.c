/*
 * fs.c -- file descriptors, paths and the file system calls.
 *
 * Every path is made absolute and normalised here, then named to the
 * monitor as a "file:" URI; the monitor decides.  Descriptors point at
 * shared open-file records so that dup() shares the position, as in
 * Linux.  A few devices (/dev/null, /dev/zero, /dev/urandom, /dev/random)
 * and /proc/self/exe are provided by the LibOS itself.
 */
#include <asm/stat.h>
#include <linux/fcntl.h>
#include <linux/stat.h>
#include <asm/ioctls.h>

#include "libos.h"

enum file_type { F_STREAM, F_DIR, F_NULL, F_ZERO, F_RANDOM,
		 F_MEM,     /* a /proc or /sys file: content made at open */
		 F_MEMDIR,
		 F_OBJ,     /* epoll.c: an epoll, eventfd or timerfd in 'obj' */
		 F_PATH,    /* O_PATH: a name and its attributes, no stream */
		 F_SOCKET   /* socket.c: state in 'obj'; a stream once connected */ };

struct file {
	int refs;
	int type;
	moat_handle h;
	uint32_t kind;         /* moat kind of the stream */
	uint64_t pos;
	int flags;             /* O_ACCMODE | O_APPEND | O_NONBLOCK ... */
	char *path;            /* virtual path, for directories and fd links */
	struct moat_attr attr; /* directories and pseudo-files: at open */
	char *content;         /* F_MEM, F_MEMDIR */
	size_t content_len;
	void *obj;             /* F_OBJ (owned by epoll.c), F_SOCKET */
	enum lobj obj_kind;    /* F_OBJ */
	int owner, owner_type; /* F_SETOWN(_EX), type + 1 (0: none): recorded;
				  SIGIO is never sent */
	uint64_t serial;       /* fs_file_serial */
};

struct fd_slot {
	struct file *f;
	int cloexec;
};

static struct fd_slot fds[LIBOS_MAX_FDS];

/* --- paths --- */

long copy_path(char *dst, const char *src)
{
	if (!src)
		return -EFAULT;
	size_t n = strnlen(src, MOAT_URI_MAX);
	if (n >= MOAT_URI_MAX - 1)
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Append 'path' to the absolute 'out', applying '.' and '..'. */
static int path_join(char *out, const char *path)
{
	size_t len = strlen(out);
	while (*path) {
		while (*path == '/')
			path++;
		const char *end = path;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - path);
		if (n == 0 || (n == 1 && path[0] == '.')) {
			/* nothing */
		} else if (n == 2 && path[0] == '.' && path[1] == '.') {
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
			out[len] = 0;
		} else {
			if (len + n + 2 >= MOAT_URI_MAX - 8)
				return -ENAMETOOLONG;
			if (len > 1)
				out[len++] = '/';
			memcpy(out + len, path, n);
			len += n;
			out[len] = 0;
		}
		path = end;
	}
	return 0;
}

static struct file *fd_file(int fd)
{
	if (fd < 0 || fd >= LIBOS_MAX_FDS)
		return NULL;
	return fds[fd].f;
}

/* /dev/fd/N, /dev/std{in,out,err} and /proc/self/fd/N name the open
 * object: a file or directory by its path; anything else (a pipe) stays a
 * /proc/self/fd name, which open() turns into a dup. */
static int fd_of_magic(const char *p)
{
	const char *n = NULL;
	if (!strncmp(p, "/proc/self/fd/", 14))
		n = p + 14;
	else if (!strncmp(p, "/dev/fd/", 8))
		n = p + 8;
	else if (!strcmp(p, "/dev/stdin"))
		return 0;
	else if (!strcmp(p, "/dev/stdout"))
		return 1;
	else if (!strcmp(p, "/dev/stderr"))
		return 2;
	if (!n || !*n)
		return -1;
	int fd = 0;
	for (; *n; n++) {
		if (*n < '0' || *n > '9' || fd > 1000000)
			return -1;
		fd = fd * 10 + (*n - '0');
	}
	return fd;
}

static struct file *fd_file(int fd);

static long magic_link(char *path)
{
	int fd = fd_of_magic(path);
	if (fd < 0)
		return 0;
	struct file *f = fd_file(fd);
	if (!f)
		return -ENOENT;
	if (f->path && (f->type == F_STREAM || f->type == F_DIR || f->type == F_PATH))
		rt_strlcpy(path, f->path, MOAT_URI_MAX);
	else
		rt_snprintf(path, MOAT_URI_MAX, "/proc/self/fd/%d", fd);
	return 0;
}

/* With follow_magic, /proc/self/fd/N and friends become what they name
 * (for open and stat); without, they stay names (readlink, lstat). */
static int path_resolve_at(int dirfd, const char *path, char *out, int follow_magic)
{
	if (path[0] == '/') {
		out[0] = '/', out[1] = 0;
	} else if (dirfd == AT_FDCWD) {
		rt_strlcpy(out, proc.cwd, MOAT_URI_MAX);
	} else {
		struct file *f = fd_file(dirfd);
		if (!f)
			return -EBADF;
		if (f->type != F_DIR && !(f->type == F_PATH && f->attr.kind == MOAT_KIND_DIR))
			return -ENOTDIR;
		rt_strlcpy(out, f->path, MOAT_URI_MAX);
	}
	long r = path_join(out, path);
	return r < 0 || !follow_magic ? r : magic_link(out);
}

int path_resolve(int dirfd, const char *path, char *out)
{
	return path_resolve_at(dirfd, path, out, 1);
}

void path_to_uri(const char *path, char *uri)
{
	memcpy(uri, "file:", 5);
	rt_strlcpy(uri + 5, path, URI_BUF_SIZE - 5);
}

/* --- descriptors --- */

static long dup_min(int old, int min, int cloexec);

/* Threads of one process share the table: a slot is taken or emptied
 * under fds_lock, so two opens never get the same descriptor.  (A file
 * closed by one thread while another is inside a call on it is not
 * guarded against, which only a racing program does.) */
static volatile int fds_lock;

void fs_fork_lock(void) { spin_lock(&fds_lock); }
void fs_fork_unlock(void) { spin_unlock(&fds_lock); }

static int fd_install(struct file *f, int min, int cloexec)
{
	spin_lock(&fds_lock);
	for (int fd = min; fd < fd_limit(); fd++) {
		if (!fds[fd].f) {
			fds[fd].f = f;
			fds[fd].cloexec = cloexec;
			spin_unlock(&fds_lock);
			return fd;
		}
	}
	spin_unlock(&fds_lock);
	return -EMFILE;
}

/* Empty slot fd; the file it held, or NULL. */
static struct file *fd_take(int fd)
{
	if (fd < 0 || fd >= LIBOS_MAX_FDS)
		return NULL;
	spin_lock(&fds_lock);
	struct file *f = fds[fd].f;
	fds[fd].f = NULL;
	spin_unlock(&fds_lock);
	return f;
}

static void file_put(struct file *f)
{
	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (f->type == F_STREAM || f->type == F_DIR || (f->type == F_SOCKET && f->kind))
		abi->object_close(f->h);
	if (f->type == F_SOCKET)
		sock_release(f->obj);
	if (f->type == F_OBJ)
		lobj_release(f->obj_kind, f->obj);
	kfree(f->content);
	kfree(f->path);
	kfree(f);
}

static long fd_close(int fd)
{
	struct file *f = fd_take(fd);
	if (!f)
		return -EBADF;
	file_put(f);
	return 0;
}

void fs_init(void)
{
	for (int fd = 0; fd < 3; fd++) {
		struct file *f = kzalloc(sizeof(*f));
		f->refs = 1;
		f->type = F_STREAM;
		f->h = fd;
		f->kind = MOAT_KIND_CONSOLE;
		f->flags = fd ? O_WRONLY : O_RDONLY;
		fds[fd].f = f;
	}
}

/* --- stat --- */

static uint32_t kind_to_ifmt(uint32_t kind)
{
	switch (kind) {
	case MOAT_KIND_DIR: return S_IFDIR;
	case MOAT_KIND_SYMLINK: return S_IFLNK;
	case MOAT_KIND_PIPE: return S_IFIFO;
	case MOAT_KIND_CONSOLE:
	case MOAT_KIND_CHARDEV: return S_IFCHR;
	case MOAT_KIND_SOCKET:
	case MOAT_KIND_SERVER: return S_IFSOCK;
	default: return S_IFREG;
	}
}

/* Linux struct stat from a moat_attr. */
static void attr_to_stat(const struct moat_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = a->dev;
	st->st_ino = a->ino;
	st->st_nlink = a->nlink;
	st->st_mode = kind_to_ifmt(a->kind) | a->mode;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (long)a->size;
	st->st_blksize = (long)a->blksize;
	st->st_blocks = (long)a->blocks;
	st->st_atime = a->atime_ns / 1000000000;
	st->st_atime_nsec = a->atime_ns % 1000000000;
	st->st_mtime = a->mtime_ns / 1000000000;
	st->st_mtime_nsec = a->mtime_ns % 1000000000;
	st->st_ctime = a->ctime_ns / 1000000000;
	st->st_ctime_nsec = a->ctime_ns % 1000000000;
}

static void device_attr(int type, struct moat_attr *a)
{
	static const uint32_t minors[] = { [F_NULL] = 3, [F_ZERO] = 5,
					   [F_RANDOM] = 9 };
	*a = (struct moat_attr){ .kind = MOAT_KIND_CHARDEV, .mode = 0666,
				 .nlink = 1, .writable = 1, .blksize = 4096,
				 .rdev = (1 << 8) | minors[type] };
}

static int device_type(const char *path)
{
	if (!strcmp(path, "/dev/null"))
		return F_NULL;
	if (!strcmp(path, "/dev/zero"))
		return F_ZERO;
	if (!strcmp(path, "/dev/urandom") || !strcmp(path, "/dev/random"))
		return F_RANDOM;
	return -1;
}

static long file_attr(struct file *f, struct moat_attr *a);

static long path_attr(const char *path, int nofollow, struct moat_attr *a)
{
	char uri[URI_BUF_SIZE];
	int dev = device_type(path);
	if (dev >= 0) {
		device_attr(dev, a);
		return 0;
	}
	int magic = nofollow ? -1 : fd_of_magic(path);
	if (magic >= 0) { /* following /proc/self/fd/N reaches the object */
		struct file *f = fd_file(magic);
		return f ? file_attr(f, a) : -ENOENT;
	}
	if (!strcmp(path, "/proc/self/exe") && !nofollow)
		path = proc.exe_path;
	else if (procfs_owns(path))
		return procfs_get(path, a, NULL, NULL);
	path_to_uri(path, uri);
	return abi->stream_attr_query(uri, (uint32_t)nofollow, a);
}

static long file_attr(struct file *f, struct moat_attr *a)
{
	switch (f->type) {
	case F_DIR: case F_MEM: case F_MEMDIR: case F_PATH:
		*a = f->attr;
		return 0;
	case F_SOCKET:
		*a = (struct moat_attr){ .kind = MOAT_KIND_SOCKET, .mode = 0777, .nlink = 1,
					 .blksize = 4096, .uid = proc.uid, .gid = proc.gid };
		return 0;
	case F_STREAM:
		return abi->stream_attr_query_by_handle(f->h, a);
	default:
		device_attr(f->type, a);
		return 0;
	}
}

/* Resolve (dirfd, path) honouring AT_EMPTY_PATH, then describe it. */
static long at_attr(int dirfd, const char *upath, int flags,
		    struct moat_attr *a)
{
	char path[MOAT_URI_MAX];
	if (upath && upath[0] == 0 && (flags & AT_EMPTY_PATH)) {
		struct file *f = dirfd == AT_FDCWD ? NULL : fd_file(dirfd);
		if (dirfd == AT_FDCWD)
			return path_attr(proc.cwd, 0, a);
		return f ? file_attr(f, a) : -EBADF;
	}
	int nofollow = !!(flags & AT_SYMLINK_NOFOLLOW);
	long r = copy_path(path, upath);
	if (r == 0)
		r = path_resolve_at(dirfd, upath, path, !nofollow);
	if (r == 0)
		r = path_attr(path, nofollow, a);
	return r;
}

static long fd_attr(int fd, struct moat_attr *a)
{
	struct file *f = fd_file(fd);
	return f ? file_attr(f, a) : -EBADF;
}

long sys_fstat(int fd, struct stat *st)
{
	struct moat_attr a;
	long r = fd_attr(fd, &a);
	if (r == 0)
		attr_to_stat(&a, st);
	return r;
}

long sys_newfstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	struct moat_attr a;
	long r = at_attr(dirfd, path, flags, &a);
	if (r == 0)
		attr_to_stat(&a, st);
	return r;
}

long sys_stat(const char *path, struct stat *st)
{
	return sys_newfstatat(AT_FDCWD, path, st, 0);
}

long sys_lstat(const char *path, struct stat *st)
{
	return sys_newfstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

static struct statx_timestamp stx_time(int64_t ns)
{
	return (struct statx_timestamp){ .tv_sec = ns / 1000000000,
					 .tv_nsec = (uint32_t)(ns % 1000000000) };
}

long sys_statx(int dirfd, const char *path, int flags, unsigned mask,
	       struct statx *sx)
{
	(void)mask;
	struct moat_attr a;
	long r = at_attr(dirfd, path, flags, &a);
	if (r < 0)
		return r;
	memset(sx, 0, sizeof(*sx));
	sx->stx_mask = STATX_BASIC_STATS;
	sx->stx_blksize = (uint32_t)a.blksize;
	sx->stx_nlink = a.nlink;
	sx->stx_uid = a.uid;
	sx->stx_gid = a.gid;
	sx->stx_mode = (uint16_t)(kind_to_ifmt(a.kind) | a.mode);
	sx->stx_ino = a.ino;
	sx->stx_size = a.size;
	sx->stx_blocks = a.blocks;
	sx->stx_atime = stx_time(a.atime_ns);
	sx->stx_mtime = stx_time(a.mtime_ns);
	sx->stx_ctime = stx_time(a.ctime_ns);
	sx->stx_rdev_major = (uint32_t)(a.rdev >> 8) & 0xfff;
	sx->stx_rdev_minor = (uint32_t)(a.rdev & 0xff);
	sx->stx_dev_major = (uint32_t)(a.dev >> 8) & 0xfff;
	sx->stx_dev_minor = (uint32_t)(a.dev & 0xff);
	return 0;
}

/* --- open and close --- */

long fs_open_stream(const char *path, int flags, int mode, moat_handle *h)
{
	char uri[URI_BUF_SIZE];
	uint32_t access = (flags & O_ACCMODE) == O_WRONLY ? MOAT_ACCESS_WRITE
			  : (flags & O_ACCMODE) == O_RDWR ? MOAT_ACCESS_RDWR
							  : MOAT_ACCESS_READ;
	uint32_t opts = (flags & O_CREAT ? MOAT_OPEN_CREATE : 0) |
			(flags & O_EXCL ? MOAT_OPEN_EXCL : 0) |
			(flags & O_TRUNC ? MOAT_OPEN_TRUNCATE : 0) |
			(flags & O_APPEND ? MOAT_OPEN_APPEND : 0) |
			(flags & O_DIRECTORY ? MOAT_OPEN_DIRECTORY : 0) |
			(flags & O_NOFOLLOW ? MOAT_OPEN_NOFOLLOW : 0);
	if (!strcmp(path, "/proc/self/exe"))
		path = proc.exe_path;
	path_to_uri(path, uri);
	long r = abi->stream_open(uri, access, opts,
				  (uint32_t)(mode & 07777 & ~proc.umask));
	if (r >= 0)
		*h = (moat_handle)r;
	return r < 0 ? r : 0;
}

/* A descriptor still open on a standard stream that is a terminal, for
 * /dev/tty; -ENXIO if there is none (no controlling terminal). */
static int tty_fd(void)
{
	for (int fd = 0; fd < 3; fd++) {
		struct file *f = fd_file(fd);
		if (f && f->type == F_STREAM && f->kind == MOAT_KIND_CONSOLE &&
		    f->h < 3 && boot->stdio[f->h].is_tty)
			return fd;
	}
	return -ENXIO;
}

long sys_openat(int dirfd, const char *upath, int flags, int mode)
{
	char path[MOAT_URI_MAX];
	long r = copy_path(path, upath);
	if (r == 0)
		r = path_resolve(dirfd, upath, path);
	if (r < 0)
		return r;
	struct file *f = kzalloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->refs = 1;
	f->flags = flags & (O_ACCMODE | O_APPEND | O_NONBLOCK);
	int dev = device_type(path);
	int magic = fd_of_magic(path);
	if (magic < 0 && !strcmp(path, "/dev/tty"))
		magic = tty_fd(); /* the terminal the picoprocess was started on */
	if (magic == -ENXIO) {
		kfree(f);
		return -ENXIO;
	}
	if (magic >= 0) { /* a pipe or console: Linux reopens it; we share it */
		kfree(f);
		return dup_min(magic, 0, !!(flags & O_CLOEXEC));
	}
	if (flags & O_PATH) {
		r = path_attr(path, !!(flags & O_NOFOLLOW), &f->attr);
		if (r < 0) {
			kfree(f);
			return r;
		}
		if ((flags & O_DIRECTORY) && f->attr.kind != MOAT_KIND_DIR) {
			kfree(f);
			return -ENOTDIR;
		}
		f->type = F_PATH;
	} else if (dev >= 0) {
		f->type = dev;
	} else if (procfs_owns(path) && strcmp(path, "/proc/self/exe")) {
		/* Made now, so a listing of /proc/self/fd misses its own fd. */
		r = procfs_get(path, &f->attr, &f->content, &f->content_len);
		if (r < 0) {
			kfree(f);
			return r;
		}
		f->type = f->attr.kind == MOAT_KIND_DIR ? F_MEMDIR : F_MEM;
		f->attr.size = f->content_len;
	} else {
		struct moat_attr a;
		r = fs_open_stream(path, flags, mode, &f->h);
		if (r < 0) {
			kfree(f);
			return r;
		}
		r = abi->stream_attr_query_by_handle(f->h, &a);
		if (r < 0) {
			abi->object_close(f->h);
			kfree(f);
			return r;
		}
		f->kind = a.kind;
		f->type = a.kind == MOAT_KIND_DIR ? F_DIR : F_STREAM;
		if (f->type == F_DIR)
			path_attr(path, 0, &f->attr);
	}
	f->path = kstrdup(path);
	r = fd_install(f, 0, !!(flags & O_CLOEXEC));
	if (r < 0)
		file_put(f);
	return r;
}

long sys_open(const char *path, int flags, int mode)
{
	return sys_openat(AT_FDCWD, path, flags, mode);
}

long sys_creat(const char *path, int mode)
{
	return sys_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

long sys_close(int fd)
{
	return fd_close(fd);
}

long sys_close_range(unsigned first, unsigned last, unsigned flags)
{
	for (unsigned fd = first; fd <= last && fd < LIBOS_MAX_FDS; fd++) {
		if (!fds[fd].f)
			continue;
		if (flags & 4 /* CLOSE_RANGE_CLOEXEC */)
			fds[fd].cloexec = 1;
		else
			fd_close((int)fd);
	}
	return 0;
}

/* --- read and write --- */

static int positioned(const struct file *f)
{
	return f->kind == MOAT_KIND_FILE;
}

static long file_read(struct file *f, void *buf, size_t len, int64_t at)
{
	long r;
	switch (f->type) {
	case F_NULL:
		return 0;
	case F_ZERO:
		memset(buf, 0, len);
		return (long)len;
	case F_RANDOM:
		return abi->random_bits(buf, len);
	case F_DIR: case F_MEMDIR:
		return -EISDIR;
	case F_OBJ:
		return lobj_read(f->obj_kind, f->obj, f->flags, buf, len);
	case F_PATH:
		return -EBADF;
	case F_SOCKET: {
		struct { void *base; size_t len; } iov = { buf, len };
		return sock_rw(f->obj, f->h, f->kind, f->flags, &iov, 1, 0);
	}
	case F_MEM: {
		uint64_t off = at >= 0 ? (uint64_t)at : f->pos;
		size_t n = off >= f->content_len ? 0 : f->content_len - off;
		n = n < len ? n : len;
		memcpy(buf, f->content + off, n);
		if (at < 0)
			f->pos += n;
		return (long)n;
	}
	}
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (!positioned(f)) {
		if ((f->flags & O_NONBLOCK) && abi->objects_wait_any(1, &f->h, 0) != 0)
			return -EAGAIN;
		r = abi->stream_read(f->h, MOAT_OFFSET_STREAM, buf, len);
		return r == -EINTR ? -ERESTARTSYS : r;
	}
	r = abi->stream_read(f->h, at >= 0 ? (uint64_t)at : f->pos, buf, len);
	if (r > 0 && at < 0)
		f->pos += (uint64_t)r;
	return r;
}

static long file_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	long r;
	switch (f->type) {
	case F_NULL: case F_ZERO: case F_RANDOM:
		return (long)len;
	case F_DIR: case F_MEMDIR:
		return -EISDIR;
	case F_MEM:
		return -EACCES; /* pseudo-files are read-only */
	case F_OBJ:
		return lobj_write(f->obj_kind, f->obj, buf, len);
	case F_PATH:
		return -EBADF;
	case F_SOCKET: {
		struct { const void *base; size_t len; } iov = { buf, len };
		return sock_rw(f->obj, f->h, f->kind, f->flags, &iov, 1, 1);
	}
	}
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (!positioned(f)) {
		r = abi->stream_write(f->h, MOAT_OFFSET_STREAM, buf, len);
		if (r == -EPIPE)
			signal_raise(13); /* SIGPIPE, delivered on the way out */
		return r == -EINTR ? -ERESTARTSYS : r;
	}
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

long sys_read(int fd, void *buf, size_t len)
{
	struct file *f = fd_file(fd);
	return f ? file_read(f, buf, len, -1) : -EBADF;
}

long sys_write(int fd, const void *buf, size_t len)
{
	struct file *f = fd_file(fd);
	return f ? file_write(f, buf, len, -1) : -EBADF;
}

long sys_pread64(int fd, void *buf, size_t len, int64_t off)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (f->type == F_STREAM && !positioned(f))
		return -ESPIPE;
	return file_read(f, buf, len, off);
}

long sys_pwrite64(int fd, const void *buf, size_t len, int64_t off)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (f->type == F_STREAM && !positioned(f))
		return -ESPIPE;
	return file_write(f, buf, len, off);
}

struct iovec_k { void *base; size_t len; };

static long vector_io(int fd, const struct iovec_k *iov, int cnt, int write)
{
	struct file *f = fd_file(fd);
	long total = 0;
	if (!f)
		return -EBADF;
	if (cnt < 0 || cnt > 1024)
		return -EINVAL;
	if (f->type == F_SOCKET) /* one datagram, not one per iovec */
		return sock_rw(f->obj, f->h, f->kind, f->flags, (void *)iov, (size_t)cnt, write);
	for (int i = 0; i < cnt; i++) {
		if (!iov[i].len)
			continue;
		long r = write ? file_write(f, iov[i].base, iov[i].len, -1)
			       : file_read(f, iov[i].base, iov[i].len, -1);
		if (r < 0)
			return total ? total : r;
		total += r;
		if ((size_t)r < iov[i].len)
			break;
	}
	return total;
}

/* preadv/pwritev: the vector at 'off' (the file position is unchanged);
 * stops at the first short transfer, as Linux does. */
static long pvector_io(int fd, const struct iovec_k *iov, int cnt, int64_t off, int write)
{
	struct file *f = fd_file(fd);
	long total = 0;
	if (!f)
		return -EBADF;
	if (cnt < 0 || cnt > 1024 || off < 0)
		return -EINVAL;
	if (f->type == F_SOCKET || (f->type == F_STREAM && !positioned(f)))
		return -ESPIPE;
	for (int i = 0; i < cnt; i++) {
		if (!iov[i].len)
			continue;
		long r = write ? file_write(f, iov[i].base, iov[i].len, off + total)
			       : file_read(f, iov[i].base, iov[i].len, off + total);
		if (r < 0)
			return total ? total : r;
		total += r;
		if ((size_t)r < iov[i].len)
			break;
	}
	return total;
}

long sys_preadv(int fd, const struct iovec_k *iov, int cnt, int64_t off)
{
	return pvector_io(fd, iov, cnt, off, 0);
}

long sys_pwritev(int fd, const struct iovec_k *iov, int cnt, int64_t off)
{
	return pvector_io(fd, iov, cnt, off, 1);
}

/* RWF_HIPRI, RWF_DSYNC and RWF_SYNC change nothing the app can see here
 * (writes reach the host file at once).  RWF_NOWAIT and RWF_APPEND are
 * refused, as by kernels before them, which callers are ready for. */
static long rwf_check(int flags)
{
	return flags & ~7 ? -EOPNOTSUPP : 0;
}

long sys_preadv2(int fd, const struct iovec_k *iov, int cnt, int64_t off, int64_t hi,
		 int flags)
{
	(void)hi;
	long r = rwf_check(flags);
	if (r < 0)
		return r;
	return off == -1 ? vector_io(fd, iov, cnt, 0) : pvector_io(fd, iov, cnt, off, 0);
}

long sys_pwritev2(int fd, const struct iovec_k *iov, int cnt, int64_t off, int64_t hi,
		  int flags)
{
	(void)hi;
	long r = rwf_check(flags);
	if (r < 0)
		return r;
	return off == -1 ? vector_io(fd, iov, cnt, 1) : pvector_io(fd, iov, cnt, off, 1);
}

long sys_readv(int fd, const struct iovec_k *iov, int cnt)
{
	return vector_io(fd, iov, cnt, 0);
}

long sys_writev(int fd, const struct iovec_k *iov, int cnt)
{
	return vector_io(fd, iov, cnt, 1);
}

long sys_lseek(int fd, int64_t off, int whence)
{
	struct file *f = fd_file(fd);
	struct moat_attr a;
	int64_t base;
	if (!f)
		return -EBADF;
	if (f->type == F_STREAM && !positioned(f))
		return -ESPIPE;
	switch (whence) {
	case 0: base = 0; break;
	case 1: base = (int64_t)f->pos; break;
	case 2: {
		long r = file_attr(f, &a);
		if (r < 0)
			return r;
		base = (int64_t)a.size;
		break;
	}
	default:
		return -EINVAL;
	}
	if (base + off < 0)
		return -EINVAL;
	f->pos = (uint64_t)(base + off);
	return (long)f->pos;
}

long sys_getdents64(int fd, void *buf, size_t len)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (f->type == F_MEMDIR) {
		size_t used = 0;
		while (f->pos + used < f->content_len) {
			const struct moat_dirent *d = (const void *)(f->content + f->pos + used);
			if (used + d->reclen > len)
				break;
			used += d->reclen;
		}
		if (!used && f->pos < f->content_len)
			return -EINVAL;
		memcpy(buf, f->content + f->pos, used);
		f->pos += used;
		return (long)used;
	}
	if (f->type != F_DIR)
		return -ENOTDIR;
	long r = abi->stream_read(f->h, f->pos, buf, len);
	if (r > 0)
		f->pos += (uint64_t)r;
	return r;
}

long sys_ftruncate(int fd, int64_t len)
{
	struct file *f = fd_file(fd);
	if (!f || f->type != F_STREAM)
		return -EBADF;
	if (len < 0)
		return -EINVAL;
	return abi->stream_set_length(f->h, (uint64_t)len);
}

long sys_fsync(int fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	return f->type == F_STREAM ? abi->stream_flush(f->h) : 0;
}

/* Writes reach the host file when they are made; what is left is the
 * host's flush, which only fsync asks of it. */
long sys_sync_file_range(int fd, int64_t off, int64_t len, unsigned flags)
{
	if (flags & ~7u || off < 0 || len < 0)
		return -EINVAL;
	return fd_file(fd) ? 0 : -EBADF;
}

long sys_syncfs(int fd)
{
	return fd_file(fd) ? 0 : -EBADF;
}

long sys_readahead(int fd, int64_t off, size_t len)
{
	(void)off, (void)len;
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	return f->type == F_STREAM && positioned(f) ? 0 : -EINVAL;
}

/* --- descriptor table calls --- */

long sys_dup3(int old, int new, int flags)
{
	struct file *f = fd_file(old);
	if (!f || new < 0 || new >= fd_limit())
		return -EBADF;
	if (old == new)
		return -EINVAL;
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_ACQ_REL);
	spin_lock(&fds_lock);
	struct file *old_f = fds[new].f;
	fds[new].f = f;
	fds[new].cloexec = !!(flags & O_CLOEXEC);
	spin_unlock(&fds_lock);
	if (old_f)
		file_put(old_f);
	return new;
}

long sys_dup2(int old, int new)
{
	if (old == new)
		return fd_file(old) ? new : -EBADF;
	return sys_dup3(old, new, 0);
}

static long dup_min(int old, int min, int cloexec)
{
	struct file *f = fd_file(old);
	if (!f)
		return -EBADF;
	if (min < 0 || min >= fd_limit())
		return -EINVAL;
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_ACQ_REL);
	long r = fd_install(f, min, cloexec);
	if (r < 0)
		file_put(f);
	return r;
}

long sys_dup(int old)
{
	return dup_min(old, 0, 0);
}

/* POSIX record locks: make the range absolute, then ask the PAL. */
static long file_lock(struct file *f, int cmd, struct flock *fl)
{
	struct moat_attr a;
	int64_t base = 0;
	if (f->type != F_STREAM || f->kind != MOAT_KIND_FILE)
		return -EBADF;
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

long sys_fcntl(int fd, int cmd, long arg)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_DUPFD: return dup_min(fd, (int)arg, 0);
	case F_DUPFD_CLOEXEC: return dup_min(fd, (int)arg, 1);
	case F_GETFD: return fds[fd].cloexec ? FD_CLOEXEC : 0;
	case F_SETFD: fds[fd].cloexec = !!(arg & FD_CLOEXEC); return 0;
	case F_GETFL: return f->flags;
	case F_SETFL:
		if (arg & FASYNC)
			klog("fcntl: O_ASYNC recorded, but SIGIO is not delivered");
		f->flags = (f->flags & O_ACCMODE) |
			   ((int)arg & (O_APPEND | O_NONBLOCK | FASYNC));
		return 0;
	case F_SETOWN: /* a negative owner is a process group */
		f->owner = (int)arg < 0 ? -(int)arg : (int)arg;
		f->owner_type = ((int)arg < 0 ? F_OWNER_PGRP : F_OWNER_PID) + 1;
		return 0;
	case F_GETOWN:
		return f->owner_type == F_OWNER_PGRP + 1 ? -f->owner : f->owner;
	case F_SETOWN_EX: {
		const struct f_owner_ex *o = (const void *)arg;
		if (o->type != F_OWNER_TID && o->type != F_OWNER_PID && o->type != F_OWNER_PGRP)
			return -EINVAL;
		f->owner = o->pid;
		f->owner_type = (o->pid ? o->type : F_OWNER_PID) + 1;
		return 0;
	}
	case F_GETOWN_EX: {
		struct f_owner_ex *o = (void *)arg;
		o->type = f->owner_type ? f->owner_type - 1 : F_OWNER_PID;
		o->pid = f->owner;
		return 0;
	}
	case F_GETLK: case F_SETLK: case F_SETLKW:
		return file_lock(f, cmd, (struct flock *)arg);
	default:
		klog("fcntl: unsupported command %d", cmd);
		return -EINVAL;
	}
}

long sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	switch (cmd) {
	case FIONBIO:
		if (*(int *)arg)
			f->flags |= O_NONBLOCK;
		else
			f->flags &= ~O_NONBLOCK;
		return 0;
	case FIOASYNC: /* as F_SETFL O_ASYNC: recorded, no SIGIO */
		if (*(int *)arg)
			f->flags |= FASYNC;
		else
			f->flags &= ~FASYNC;
		return 0;
	case FIOCLEX: case FIONCLEX:
		fds[fd].cloexec = cmd == FIOCLEX;
		return 0;
	case FIONREAD: {
		/* Streams do not say how much is queued: 1 if anything is. */
		moat_handle h;
		int64_t wake = -1;
		short ready = fs_poll(fd, 0x001, &h, &wake);
		*(int *)arg = (ready & 0x001) ? 1 : 0;
		if (f->type == F_MEM)
			*(int *)arg = (int)(f->content_len > f->pos ? f->content_len - f->pos : 0);
		return 0;
	}
	}
	const struct moat_stdio_info *si = NULL;
	if (f->type == F_STREAM && f->kind == MOAT_KIND_CONSOLE && f->h < 3)
		si = &boot->stdio[f->h];
	if (!si || !si->is_tty)
		return -ENOTTY;
	switch (cmd) {
	case TCGETS:
		memcpy(arg, si->termios, sizeof(si->termios));
		return 0;
	case TIOCGWINSZ: {
		uint16_t *ws = arg;
		ws[0] = si->rows, ws[1] = si->cols, ws[2] = ws[3] = 0;
		return 0;
	}
	case TCSETS: case TCSETSW: case TCSETSF:
		return 0; /* the monitor owns the terminal; accepted, not applied */
	case TIOCGPGRP:
		*(int *)arg = 1;
		return 0;
	default:
		return -ENOTTY;
	}
}

/* --- names --- */

static long resolve_at(int dirfd, const char *upath, char *path)
{
	long r = copy_path(path, upath);
	return r ? r : path_resolve(dirfd, upath, path);
}

long sys_readlinkat(int dirfd, const char *upath, char *buf, size_t len)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	long r = copy_path(path, upath);
	if (r == 0)
		r = path_resolve_at(dirfd, upath, path, 0);
	if (r < 0)
		return r;
	if ((long)len <= 0)
		return -EINVAL;
	if (procfs_owns(path))
		return procfs_readlink(path, buf, len);
	path_to_uri(path, uri);
	r = abi->stream_readlink(uri, buf, len);
	return r == -ERANGE ? (long)len : r;
}

long sys_readlink(const char *path, char *buf, size_t len)
{
	return sys_readlinkat(AT_FDCWD, path, buf, len);
}

long sys_faccessat2(int dirfd, const char *upath, int mode, int flags)
{
	struct moat_attr a;
	long r = at_attr(dirfd, upath, flags & AT_SYMLINK_NOFOLLOW, &a);
	if (r < 0)
		return r;
	if ((mode & 2) && !a.writable)
		return -EROFS;
	if ((mode & 1) && a.kind != MOAT_KIND_DIR && !(a.mode & 0111))
		return -EACCES;
	return 0;
}

long sys_faccessat(int dirfd, const char *path, int mode)
{
	return sys_faccessat2(dirfd, path, mode, 0);
}

long sys_access(const char *path, int mode)
{
	return sys_faccessat2(AT_FDCWD, path, mode, 0);
}

long sys_getcwd(char *buf, size_t len)
{
	size_t n = strlen(proc.cwd) + 1;
	if (n > len)
		return -ERANGE;
	memcpy(buf, proc.cwd, n);
	return (long)n;
}

int fs_check_dir(const char *path)
{
	struct moat_attr a;
	long r = path_attr(path, 0, &a);
	return r < 0 ? (int)r : a.kind == MOAT_KIND_DIR ? 0 : -ENOTDIR;
}

static long set_cwd(const char *path)
{
	struct moat_attr a;
	long r = path_attr(path, 0, &a);
	if (r < 0)
		return r;
	if (a.kind != MOAT_KIND_DIR)
		return -ENOTDIR;
	rt_strlcpy(proc.cwd, path, sizeof(proc.cwd));
	return 0;
}

long sys_chdir(const char *upath)
{
	char path[MOAT_URI_MAX];
	long r = resolve_at(AT_FDCWD, upath, path);
	return r ? r : set_cwd(path);
}

long sys_fchdir(int fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (f->type != F_DIR && !(f->type == F_PATH && f->attr.kind == MOAT_KIND_DIR))
		return -ENOTDIR;
	rt_strlcpy(proc.cwd, f->path, sizeof(proc.cwd));
	return 0;
}

long sys_umask(int mask)
{
	int old = (int)proc.umask;
	proc.umask = (uint32_t)mask & 0777;
	return old;
}

long sys_mkdirat(int dirfd, const char *upath, int mode)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	long r = resolve_at(dirfd, upath, path);
	if (r < 0)
		return r;
	path_to_uri(path, uri);
	return abi->stream_open(uri, MOAT_ACCESS_READ, MOAT_OPEN_MKDIR,
				(uint32_t)(mode & 07777 & ~proc.umask));
}

long sys_mkdir(const char *path, int mode)
{
	return sys_mkdirat(AT_FDCWD, path, mode);
}

long sys_unlinkat(int dirfd, const char *upath, int flags)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	long r = resolve_at(dirfd, upath, path);
	if (r < 0)
		return r;
	path_to_uri(path, uri);
	return abi->stream_delete(uri, !!(flags & AT_REMOVEDIR));
}

long sys_unlink(const char *path)
{
	return sys_unlinkat(AT_FDCWD, path, 0);
}

long sys_rmdir(const char *path)
{
	return sys_unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

/* Resolve two (dirfd, path) names and hand their URIs to 'op'. */
static long two_uris(int olddir, const char *oldp, int newdir, const char *newp,
		     long (*op)(const char *, const char *))
{
	char a[MOAT_URI_MAX], b[MOAT_URI_MAX];
	char ua[URI_BUF_SIZE], ub[URI_BUF_SIZE];
	long r = resolve_at(olddir, oldp, a);
	if (r == 0)
		r = resolve_at(newdir, newp, b);
	if (r < 0)
		return r;
	path_to_uri(a, ua);
	path_to_uri(b, ub);
	return op(ua, ub);
}

long sys_renameat2(int olddir, const char *oldp, int newdir, const char *newp,
		   unsigned flags)
{
	if (flags)
		return -EINVAL;
	return two_uris(olddir, oldp, newdir, newp, abi->stream_rename);
}

long sys_renameat(int olddir, const char *oldp, int newdir, const char *newp)
{
	return sys_renameat2(olddir, oldp, newdir, newp, 0);
}

long sys_rename(const char *oldp, const char *newp)
{
	return sys_renameat2(AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}

/* mmap support: the stream behind a descriptor. */
long fs_map_handle(int fd, moat_handle *h, int *writable, int *is_zero,
		   const char **path)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	*is_zero = f->type == F_ZERO;
	if (*is_zero)
		return 0;
	if (f->type != F_STREAM || f->kind != MOAT_KIND_FILE)
		return -ENODEV;
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	*h = f->h;
	*writable = (f->flags & O_ACCMODE) == O_RDWR;
	*path = f->path;
	return 0;
}

/* --- file system facts and extended attributes --- */

struct statfs_k {
	int64_t type, bsize, blocks, bfree, bavail, files, ffree;
	int32_t fsid[2];
	int64_t namelen, frsize, flags, spare[4];
};

/* Statistics of the mapping a path lives in are not the picoprocess's
 * business; report a plain, mostly-empty file system. */
static long fill_statfs(int writable, struct statfs_k *s)
{
	memset(s, 0, sizeof(*s));
	s->type = 0x6d6f6174; /* "moat" */
	s->bsize = s->frsize = 4096;
	s->blocks = 1 << 20;
	s->bfree = s->bavail = writable ? 1 << 19 : 0;
	s->files = 1 << 16;
	s->ffree = writable ? 1 << 15 : 0;
	s->namelen = 255;
	s->flags = writable ? 0 : 1; /* ST_RDONLY */
	return 0;
}

long sys_statfs(const char *path, struct statfs_k *s)
{
	struct moat_attr a;
	long r = at_attr(AT_FDCWD, path, 0, &a);
	return r < 0 ? r : fill_statfs((int)a.writable, s);
}

long sys_fstatfs(int fd, struct statfs_k *s)
{
	struct moat_attr a;
	long r = fd_attr(fd, &a);
	return r < 0 ? r : fill_statfs((int)a.writable, s);
}

/* No extended attributes exist inside a picoprocess (ACLs, capabilities,
 * SELinux labels stay on the host): every name is absent. */
long sys_getxattr(void) { return -ENODATA; }
long sys_removexattr(void) { return -ENODATA; }
long sys_listxattr(void) { return 0; }
long sys_setxattr(void) { return -EOPNOTSUPP; }

/* --- used by process.c --- */

/* A new open-file record with the fields of 'proto', at the lowest free
 * descriptor.  Returns the descriptor or -errno (the record is freed). */
static int install_new(struct file proto, int cloexec)
{
	struct file *f = kmalloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	static uint64_t next_serial;
	*f = proto;
	f->refs = 1;
	f->serial = __atomic_add_fetch(&next_serial, 1, __ATOMIC_RELAXED);
	int fd = fd_install(f, 0, cloexec);
	if (fd < 0)
		kfree(f);
	return fd;
}

int fs_install_stream(moat_handle h, uint32_t kind, int flags, int cloexec)
{
	return install_new((struct file){ .type = F_STREAM, .h = h, .kind = kind,
					  .flags = flags }, cloexec);
}

void fs_close_on_exec(void)
{
	for (int fd = 0; fd < LIBOS_MAX_FDS; fd++)
		if (fds[fd].f && fds[fd].cloexec)
			fd_close(fd);
}

/* For poll: what fd can report now, and (in *h) the handle to sleep on
 * when it might become readable later.  POLLNVAL for a bad fd. */
short fs_poll(int fd, short events, moat_handle *h, int64_t *wake_at)
{
	struct file *f = fd_file(fd);
	short in = events & (0x001 | 0x040), out = events & (0x004 | 0x100);
	*h = MOAT_NO_HANDLE;
	if (!f)
		return 0x020; /* POLLNVAL */
	switch (f->type) {
	case F_OBJ:
		return lobj_poll(f->obj_kind, f->obj, events, h, wake_at);
	case F_SOCKET:
		return sock_poll(f->obj, f->h, f->kind, events, h);
	case F_STREAM:
		if (f->kind != MOAT_KIND_PIPE && f->kind != MOAT_KIND_CONSOLE &&
		    f->kind != MOAT_KIND_SOCKET && f->kind != MOAT_KIND_SERVER)
			break;
		if ((f->flags & O_ACCMODE) == O_WRONLY)
			return out;
		*h = f->h;
		return (in && abi->objects_wait_any(1, &f->h, 0) == 0 ? in : 0) |
		       ((f->flags & O_ACCMODE) == O_RDWR ? out : 0);
	}
	return in | out; /* files, directories and devices never block */
}

uint64_t fs_file_serial(int fd)
{
	struct file *f = fd_file(fd);
	return f ? f->serial : 0;
}

int fs_is_open(int fd)
{
	return fd_file(fd) != NULL;
}

int fs_install_obj(enum lobj kind, void *obj, int flags, int cloexec)
{
	return install_new((struct file){ .type = F_OBJ, .obj_kind = kind, .obj = obj,
					  .flags = flags }, cloexec);
}

/* The epoll or eventfd object behind fd, or NULL. */
void *fs_obj(int fd, enum lobj kind, int *flags)
{
	struct file *f = fd_file(fd);
	if (!f || f->type != F_OBJ || f->obj_kind != kind)
		return NULL;
	if (flags)
		*flags = f->flags;
	return f->obj;
}

/* --- attributes, links --- */

static long set_attr_at(int dirfd, const char *upath, int flags, uint32_t mask,
			const struct moat_attr *a)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	long r;
	if (upath == NULL || (upath[0] == 0 && (flags & AT_EMPTY_PATH))) {
		struct file *f = fd_file(dirfd);
		if (!f)
			return -EBADF;
		if (!f->path || (f->type != F_STREAM && f->type != F_DIR))
			return -EPERM;
		rt_strlcpy(path, f->path, sizeof(path));
	} else if ((r = resolve_at(dirfd, upath, path)) < 0) {
		return r;
	}
	path_to_uri(path, uri);
	return abi->stream_attr_set(uri, !!(flags & AT_SYMLINK_NOFOLLOW), mask, a);
}

long sys_fchmodat(int dirfd, const char *path, int mode)
{
	struct moat_attr a = { .mode = (uint32_t)mode & 07777 };
	return set_attr_at(dirfd, path, 0, MOAT_ATTR_MODE, &a);
}

long sys_chmod(const char *path, int mode)
{
	return sys_fchmodat(AT_FDCWD, path, mode);
}

long sys_fchmod(int fd, int mode)
{
	struct moat_attr a = { .mode = (uint32_t)mode & 07777 };
	return set_attr_at(fd, "", AT_EMPTY_PATH, MOAT_ATTR_MODE, &a);
}

struct ktimespec_k { int64_t sec, nsec; };
#define UTIME_NOW_K ((1L << 30) - 1)
#define UTIME_OMIT_K ((1L << 30) - 2)

long sys_utimensat(int dirfd, const char *path, const struct ktimespec_k *ts,
		   int flags)
{
	struct moat_attr a = { .atime_ns = MOAT_TIME_NOW, .mtime_ns = MOAT_TIME_NOW };
	uint32_t mask = MOAT_ATTR_ATIME | MOAT_ATTR_MTIME;
	if (ts) {
		for (int i = 0; i < 2; i++) {
			int64_t *dst = i ? &a.mtime_ns : &a.atime_ns;
			if (ts[i].nsec == UTIME_OMIT_K)
				mask &= ~(uint32_t)(i ? MOAT_ATTR_MTIME : MOAT_ATTR_ATIME);
			else if (ts[i].nsec != UTIME_NOW_K) {
				if (ts[i].nsec < 0 || ts[i].nsec >= 1000000000)
					return -EINVAL;
				*dst = ts[i].sec * 1000000000 + ts[i].nsec;
			}
		}
	}
	if (!mask)
		return 0;
	if (!path) /* futimens */
		return set_attr_at(dirfd, NULL, AT_EMPTY_PATH, mask, &a);
	return set_attr_at(dirfd, path, flags, mask, &a);
}

long sys_utimes(const char *path, const long *tv)
{
	struct ktimespec_k ts[2];
	if (!tv)
		return sys_utimensat(AT_FDCWD, path, NULL, 0);
	for (int i = 0; i < 2; i++)
		ts[i] = (struct ktimespec_k){ tv[2 * i], tv[2 * i + 1] * 1000 };
	return sys_utimensat(AT_FDCWD, path, ts, 0);
}

long sys_futimesat(int dirfd, const char *path, const long *tv)
{
	struct ktimespec_k ts[2];
	if (!tv)
		return sys_utimensat(dirfd, path, NULL, 0);
	for (int i = 0; i < 2; i++) {
		if (tv[2 * i + 1] < 0 || tv[2 * i + 1] >= 1000000)
			return -EINVAL;
		ts[i] = (struct ktimespec_k){ tv[2 * i], tv[2 * i + 1] * 1000 };
	}
	return sys_utimensat(dirfd, path, ts, 0);
}

long sys_utime(const char *path, const long *times)
{
	struct ktimespec_k ts[2];
	if (!times)
		return sys_utimensat(AT_FDCWD, path, NULL, 0);
	ts[0] = (struct ktimespec_k){ times[0], 0 };
	ts[1] = (struct ktimespec_k){ times[1], 0 };
	return sys_utimensat(AT_FDCWD, path, ts, 0);
}

/* Ownership stays the host's; inside, changing it to what it already is
 * succeeds and anything else is refused rather than faked. */
long sys_fchownat(int dirfd, const char *path, int uid, int gid, int flags)
{
	struct moat_attr a;
	long r = path && path[0] ? at_attr(dirfd, path, flags, &a)
				 : at_attr(dirfd, "", AT_EMPTY_PATH, &a);
	if (r < 0)
		return r;
	if ((uid != -1 && (uint32_t)uid != a.uid) || (gid != -1 && (uint32_t)gid != a.gid)) {
		klog("chown to %d:%d refused: the host owner is %u:%u", uid, gid, a.uid, a.gid);
		return -EPERM;
	}
	return a.writable ? 0 : -EROFS;
}

long sys_chown(const char *path, int uid, int gid)
{
	return sys_fchownat(AT_FDCWD, path, uid, gid, 0);
}

long sys_lchown(const char *path, int uid, int gid)
{
	return sys_fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

long sys_fchown(int fd, int uid, int gid)
{
	return sys_fchownat(fd, "", uid, gid, AT_EMPTY_PATH);
}

long sys_symlinkat(const char *target, int dirfd, const char *upath)
{
	char path[MOAT_URI_MAX], uri[URI_BUF_SIZE];
	if (!target)
		return -EFAULT;
	if (!target[0])
		return -ENOENT;
	long r = resolve_at(dirfd, upath, path);
	if (r < 0)
		return r;
	path_to_uri(path, uri);
	return abi->stream_symlink(target, uri);
}

long sys_symlink(const char *target, const char *path)
{
	return sys_symlinkat(target, AT_FDCWD, path);
}

long sys_linkat(int olddir, const char *oldp, int newdir, const char *newp,
		int flags)
{
	(void)flags; /* AT_SYMLINK_FOLLOW: the monitor never follows */
	return two_uris(olddir, oldp, newdir, newp, abi->stream_link);
}

long sys_link(const char *oldp, const char *newp)
{
	return sys_linkat(AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}

long sys_truncate(const char *upath, int64_t len)
{
	char path[MOAT_URI_MAX];
	moat_handle h;
	if (len < 0)
		return -EINVAL;
	long r = resolve_at(AT_FDCWD, upath, path);
	if (r == 0)
		r = fs_open_stream(path, O_WRONLY, 0, &h);
	if (r < 0)
		return r;
	r = abi->stream_set_length(h, (uint64_t)len);
	abi->object_close(h);
	return r;
}

/* Space is allocated as it is written; mode 0 only grows the file. */
long sys_fallocate(int fd, int mode, int64_t off, int64_t len)
{
	struct file *f = fd_file(fd);
	struct moat_attr a;
	if (!f || f->type != F_STREAM)
		return -EBADF;
	if (mode != 0)
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	long r = abi->stream_attr_query_by_handle(f->h, &a);
	if (r == 0 && (uint64_t)(off + len) > a.size)
		r = abi->stream_set_length(f->h, (uint64_t)(off + len));
	return r;
}

int fs_fd_open(int fd)
{
	return fd_file(fd) != NULL;
}

/* What /proc/self/fd/N points to. */
long fs_fd_describe(int fd, char *out, size_t len)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (f->path)
		rt_strlcpy(out, f->path, len);
	else if (f->kind == MOAT_KIND_PIPE)
		rt_snprintf(out, len, "pipe:[%d]", f->h);
	else if (f->kind == MOAT_KIND_CONSOLE)
		rt_snprintf(out, len, boot->stdio[f->h < 3 ? f->h : 0].is_tty ? "/dev/tty" : "pipe:[%d]", f->h);
	else
		rt_snprintf(out, len, "anon_inode:[%d]", f->h);
	return 0;
}

/* copy_file_range and sendfile: a read/write loop through the LibOS, so
 * that every byte still goes through the picoprocess's own streams. */
static long copy_loop(int in, int64_t *in_off, int out, int64_t *out_off, size_t len)
{
	struct file *fi = fd_file(in), *fo = fd_file(out);
	char *buf;
	long done = 0;
	if (!fi || !fo)
		return -EBADF;
	if (!(buf = kmalloc(65536)))
		return -ENOMEM;
	while ((size_t)done < len) {
		size_t chunk = len - (size_t)done < 65536 ? len - (size_t)done : 65536;
		long r = file_read(fi, buf, chunk, in_off ? *in_off + done : -1);
		if (r <= 0) {
			if (r < 0 && !done)
				done = r;
			break;
		}
		long w = file_write(fo, buf, (size_t)r, out_off ? *out_off + done : -1);
		if (w < 0) {
			if (!done)
				done = w;
			break;
		}
		done += w;
		if (w < r)
			break;
	}
	kfree(buf);
	if (done > 0) {
		if (in_off)
			*in_off += done;
		if (out_off)
			*out_off += done;
	}
	return done;
}

long sys_copy_file_range(int in, int64_t *in_off, int out, int64_t *out_off,
			 size_t len, unsigned flags)
{
	if (flags)
		return -EINVAL;
	return copy_loop(in, in_off, out, out_off, len);
}

long sys_sendfile(int out, int in, int64_t *off, size_t len)
{
	return copy_loop(in, off, out, NULL, len);
}

/* --- sockets (socket.c keeps the state) --- */

int fs_install_socket(void *obj, moat_handle h, uint32_t kind, int nonblock, int cloexec)
{
	return install_new((struct file){ .type = F_SOCKET, .obj = obj, .h = h,
					  .kind = kind, .flags = O_RDWR | (nonblock ? O_NONBLOCK : 0) },
			   cloexec);
}

void *fs_socket(int fd, moat_handle *h, uint32_t *kind, int *flags)
{
	struct file *f = fd_file(fd);
	if (!f)
		return NULL;
	if (f->type != F_SOCKET)
		return (void *)-1L;
	*h = f->h;
	*kind = f->kind;
	*flags = f->flags;
	return f->obj;
}

void fs_socket_connected(int fd, moat_handle h, uint32_t kind)
{
	struct file *f = fd_file(fd);
	f->h = h;
	f->kind = kind;
}

long sys_flock(int fd, int op)
{
	struct file *f = fd_file(fd);
	uint32_t type;
	if (!f)
		return -EBADF;
	if (f->type != F_STREAM || f->kind != MOAT_KIND_FILE)
		return f->type == F_DIR ? 0 : -EINVAL; /* directories: nothing to share */
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

long sys_memfd_create(const char *name, unsigned flags)
{
	char uri[80];
	if (!name)
		return -EFAULT;
	if (strnlen(name, 250) > 249 || (flags & ~0x7u)) /* CLOEXEC|ALLOW_SEALING|HUGETLB */
		return -EINVAL;
	rt_snprintf(uri, sizeof(uri), "memfd:%.40s", name);
	long r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r < 0)
		return r;
	char path[96];
	rt_snprintf(path, sizeof(path), "/memfd:%s (deleted)", name);
	int fd = install_new((struct file){ .type = F_STREAM, .h = (moat_handle)r,
					    .kind = MOAT_KIND_FILE, .flags = O_RDWR,
					    .path = kstrdup(path) }, flags & 1);
	if (fd < 0)
		abi->object_close((moat_handle)r);
	return fd;
}
