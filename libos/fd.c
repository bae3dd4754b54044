/*
 * fd.c -- the descriptor table and the calls made on a descriptor.
 *
 * A descriptor points at a shared open file (struct file, file.h) so that
 * dup() shares the position, as in Linux.  Every call here reaches the
 * object through its kind's file_ops: this file knows no kind.
 */
#include <linux/fcntl.h>
#include <asm/ioctls.h>

#include "file.h"
#include "linux_abi.h"
#include "rlimit.h"
#include "uaccess.h"

struct fd_slot {
	struct file *f;
	int cloexec;
};

static struct fd_slot fds[LIBOS_MAX_FDS];

/* Threads of one process share the table: a slot is taken or emptied
 * under fds_lock, so two opens never get the same descriptor.  (A file
 * closed by one thread while another is inside a call on it is not
 * guarded against, which only a racing program does.) */
static volatile int fds_lock;

void fs_fork_lock(void) { spin_lock(&fds_lock); }
void fs_fork_unlock(void) { spin_unlock(&fds_lock); }

struct file *fd_file(int fd)
{
	if (fd < 0 || fd >= LIBOS_MAX_FDS)
		return NULL;
	return fds[fd].f;
}

struct file *file_new(const struct file_ops *ops, int flags)
{
	static uint64_t next_serial;
	struct file *f = kzalloc(sizeof(*f));
	if (!f)
		return NULL;
	f->refs = 1;
	f->ops = ops;
	f->h = MOAT_NO_HANDLE;
	f->flags = flags;
	f->serial = __atomic_add_fetch(&next_serial, 1, __ATOMIC_RELAXED);
	return f;
}

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

int file_install(struct file *f, int cloexec)
{
	int fd = fd_install(f, 0, cloexec);
	if (fd < 0)
		file_put(f);
	return fd;
}

int file_install_obj(const struct file_ops *ops, void *priv, int flags, int cloexec)
{
	struct file *f = file_new(ops, flags);
	if (!f) {
		struct file tmp = { .ops = ops, .priv = priv, .h = MOAT_NO_HANDLE };
		if (ops->release)
			ops->release(&tmp);
		return -ENOMEM;
	}
	f->priv = priv;
	/* What fstat says of an object with no stat of its own (epoll,
	 * eventfd, timerfd, signalfd): a character device. */
	f->attr = (struct moat_attr){ .kind = MOAT_KIND_CHARDEV, .mode = 0666, .nlink = 1,
				      .writable = 1, .blksize = 4096, .rdev = 1 << 8 };
	return file_install(f, cloexec);
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

void file_put(struct file *f)
{
	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (f->h != MOAT_NO_HANDLE)
		abi->object_close(f->h);
	if (f->ops && f->ops->release)
		f->ops->release(f);
	kfree(f->path);
	kfree(f);
}

/* A descriptor of f is going away.  Linux drops the process's record
 * locks on the file when any of its descriptors is closed; the host does
 * so when the host stream closes, which is only the last reference's
 * close here, so a dup's close unlocks the whole file itself. */
static void fd_release(struct file *f)
{
	if (f->ops && f->ops->lock &&
	    __atomic_load_n(&f->refs, __ATOMIC_ACQUIRE) > 1) {
		struct flock all = { .l_type = F_UNLCK, .l_whence = 0 };
		f->ops->lock(f, F_SETLK, &all);
	}
	file_put(f);
}

static long fd_close(int fd)
{
	struct file *f = fd_take(fd);
	if (!f)
		return -EBADF;
	fd_release(f);
	return 0;
}

void *fd_priv(int fd, const struct file_ops *ops, int *flags)
{
	struct file *f = fd_file(fd);
	if (!f || f->ops != ops)
		return NULL;
	if (flags)
		*flags = f->flags;
	return f->priv;
}

long file_stat(struct file *f, struct moat_attr *a)
{
	if (f->ops->stat)
		return f->ops->stat(f, a);
	*a = f->attr;
	return 0;
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

void fs_close_on_exec(void)
{
	for (int fd = 0; fd < LIBOS_MAX_FDS; fd++)
		if (fds[fd].f && fds[fd].cloexec)
			fd_close(fd);
}

/* --- read and write --- */

static long file_read(struct file *f, void *buf, size_t len, int64_t at)
{
	return f->ops->read ? f->ops->read(f, buf, len, at) : -EINVAL;
}

static long file_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	return f->ops->write ? f->ops->write(f, buf, len, at) : -EINVAL;
}

static int streaming(const struct file *f)
{
	return !!(f->ops->caps & FILE_STREAMING);
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
	if (streaming(f))
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
	if (streaming(f))
		return -ESPIPE;
	return file_write(f, buf, len, off);
}

/* Element by element from 'off' (< 0: at the position); stops at the
 * first short transfer, as Linux does. */
static long each_vector(struct file *f, const struct l_iovec *iov, int cnt, int64_t off,
			int write)
{
	long total = 0;
	for (int i = 0; i < cnt; i++) {
		if (!iov[i].iov_len)
			continue;
		int64_t at = off < 0 ? -1 : off + total;
		long r = write ? file_write(f, iov[i].iov_base, iov[i].iov_len, at)
			       : file_read(f, iov[i].iov_base, iov[i].iov_len, at);
		if (r < 0)
			return total ? total : r;
		total += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return total;
}

static long vector_io(int fd, const struct l_iovec *iov, int cnt, int write)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (cnt < 0 || cnt > 1024)
		return -EINVAL;
	if (f->ops->rw_vector) /* one datagram, not one per iovec */
		return f->ops->rw_vector(f, (void *)iov, (size_t)cnt, write);
	return each_vector(f, iov, cnt, -1, write);
}

/* preadv/pwritev: the vector at 'off' (the file position is unchanged). */
static long pvector_io(int fd, const struct l_iovec *iov, int cnt, int64_t off, int write)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (cnt < 0 || cnt > 1024 || off < 0)
		return -EINVAL;
	if (f->ops->rw_vector || streaming(f))
		return -ESPIPE;
	return each_vector(f, iov, cnt, off, write);
}

long sys_preadv(int fd, const struct l_iovec *iov, int cnt, int64_t off)
{
	return pvector_io(fd, iov, cnt, off, 0);
}

long sys_pwritev(int fd, const struct l_iovec *iov, int cnt, int64_t off)
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

long sys_preadv2(int fd, const struct l_iovec *iov, int cnt, int64_t off, int64_t hi,
		 int flags)
{
	(void)hi;
	long r = rwf_check(flags);
	if (r < 0)
		return r;
	return off == -1 ? vector_io(fd, iov, cnt, 0) : pvector_io(fd, iov, cnt, off, 0);
}

long sys_pwritev2(int fd, const struct l_iovec *iov, int cnt, int64_t off, int64_t hi,
		  int flags)
{
	(void)hi;
	long r = rwf_check(flags);
	if (r < 0)
		return r;
	return off == -1 ? vector_io(fd, iov, cnt, 1) : pvector_io(fd, iov, cnt, off, 1);
}

long sys_readv(int fd, const struct l_iovec *iov, int cnt)
{
	return vector_io(fd, iov, cnt, 0);
}

long sys_writev(int fd, const struct l_iovec *iov, int cnt)
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
	if (streaming(f))
		return -ESPIPE;
	switch (whence) {
	case 0: base = 0; break;
	case 1: base = (int64_t)f->pos; break;
	case 2: {
		long r = file_stat(f, &a);
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
	return f->ops->getdents ? f->ops->getdents(f, buf, len) : -ENOTDIR;
}

/* As Linux: a negative length first, then the descriptor; a file not
 * open for writing, or not a file at all (a socket, a pipe), is EINVAL. */
long sys_ftruncate(int fd, int64_t len)
{
	struct file *f = fd_file(fd);
	if (len < 0)
		return -EINVAL;
	if (!f)
		return -EBADF;
	if (!f->ops->truncate || (f->ops->caps & FILE_STREAMING) ||
	    (f->flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	return f->ops->truncate(f, (uint64_t)len);
}

/* Files and directories sync; pipes, sockets, FIFOs, terminals, devices
 * and anonymous objects have nothing to sync: EINVAL, as on Linux. */
long sys_fsync(int fd)
{
	struct file *f = fd_file(fd);
	if (!f || (f->ops->caps & FILE_NAME_ONLY))
		return -EBADF;
	if (f->ops->sync && !(f->ops->caps & FILE_STREAMING))
		return f->ops->sync(f);
	return f->ops->caps & FILE_DIR ? 0 : -EINVAL;
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
	return f->ops->caps & FILE_CACHED ? 0 : -EINVAL;
}

/* Space is allocated as it is written; mode 0 only grows the file. */
long sys_fallocate(int fd, int mode, int64_t off, int64_t len)
{
	struct file *f = fd_file(fd);
	if (!f || !f->ops->allocate)
		return -EBADF;
	if (mode != 0)
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	return f->ops->allocate(f, (uint64_t)(off + len));
}

long sys_flock(int fd, int op)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	return f->ops->flock ? f->ops->flock(f, op) : -EINVAL;
}

/* --- descriptor table calls --- */

long sys_dup3(int old, int new, int flags)
{
	/* Linux looks at the flags and at old == new before the descriptors. */
	if ((flags & ~O_CLOEXEC) || old == new)
		return -EINVAL;
	struct file *f = fd_file(old);
	if (!f || new < 0 || new >= fd_limit())
		return -EBADF;
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_ACQ_REL);
	spin_lock(&fds_lock);
	struct file *old_f = fds[new].f;
	fds[new].f = f;
	fds[new].cloexec = !!(flags & O_CLOEXEC);
	spin_unlock(&fds_lock);
	if (old_f)
		fd_release(old_f);
	return new;
}

long sys_dup2(int old, int new)
{
	if (old == new)
		return fd_file(old) ? new : -EBADF;
	return sys_dup3(old, new, 0);
}

long fd_dup_min(int old, int min, int cloexec)
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
	return fd_dup_min(old, 0, 0);
}

static long set_owner_ex(struct file *f, const struct f_owner_ex *uo)
{
	struct f_owner_ex o;
	if (copy_from_user(&o, uo, sizeof(o)) < 0)
		return -EFAULT;
	if (o.type != F_OWNER_TID && o.type != F_OWNER_PID && o.type != F_OWNER_PGRP)
		return -EINVAL;
	f->owner = o.pid;
	f->owner_type = (o.pid ? o.type : F_OWNER_PID) + 1;
	return 0;
}

/* F_GETLK/F_SETLK/F_SETLKW: the struct flock is read (EFAULT) and its
 * type and whence checked (EINVAL) before the kind is asked, as Linux
 * does; F_GETLK's answer goes back to the app. */
static long fd_lock(struct file *f, int cmd, void *uarg)
{
	struct flock fl;
	if (copy_from_user(&fl, uarg, sizeof(fl)) < 0)
		return -EFAULT;
	if ((fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) ||
	    fl.l_whence < 0 || fl.l_whence > 2)
		return -EINVAL;
	if (!f->ops->lock)
		return -EBADF;
	long r = f->ops->lock(f, cmd, &fl);
	if (r == 0 && cmd == F_GETLK && copy_to_user(uarg, &fl, sizeof(fl)) < 0)
		return -EFAULT;
	return r;
}

long sys_fcntl(int fd, int cmd, long arg)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_DUPFD: return fd_dup_min(fd, (int)arg, 0);
	case F_DUPFD_CLOEXEC: return fd_dup_min(fd, (int)arg, 1);
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
	case F_SETOWN_EX:
		return set_owner_ex(f, (const void *)arg);
	case F_GETOWN_EX: {
		struct f_owner_ex o = { f->owner_type ? f->owner_type - 1 : F_OWNER_PID,
					f->owner };
		return copy_to_user((void *)arg, &o, sizeof(o)) < 0 ? -EFAULT : 0;
	}
	case F_GETLK: case F_SETLK: case F_SETLKW:
		return fd_lock(f, cmd, (void *)arg);
	default:
		klog("fcntl: unsupported command %d", cmd);
		return -EINVAL;
	}
}

static void set_flag(struct file *f, int flag, int on)
{
	if (on)
		f->flags |= flag;
	else
		f->flags &= ~flag;
}

long sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	int on;
	switch (cmd) {
	case FIONBIO:
		if (get_user(&on, (int *)arg) < 0)
			return -EFAULT;
		set_flag(f, O_NONBLOCK, on);
		return 0;
	case FIOASYNC: /* as F_SETFL O_ASYNC: recorded, no SIGIO */
		if (get_user(&on, (int *)arg) < 0)
			return -EFAULT;
		set_flag(f, FASYNC, on);
		return 0;
	case FIOCLEX: case FIONCLEX:
		fds[fd].cloexec = cmd == FIOCLEX;
		return 0;
	}
	long r = f->ops->ioctl ? f->ops->ioctl(f, cmd, arg) : -ENOTTY;
	if (cmd == FIONREAD && r == -ENOTTY) {
		/* Streams do not say how much is queued: 1 if anything is. */
		moat_handle h;
		int64_t wake = -1;
		int n = fs_poll(fd, 0x001, &h, &wake) & 0x001 ? 1 : 0;
		return put_user((int *)arg, n) < 0 ? -EFAULT : 0;
	}
	return r;
}

/* mmap support: the stream behind a descriptor. */
long fs_map_handle(int fd, moat_handle *h, int *writable, int *is_zero,
		   const char **path)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	*is_zero = 0;
	long r = f->ops->map ? f->ops->map(f, h, writable, is_zero) : -ENODEV;
	*path = f->path;
	return r;
}

/* For poll: what fd can report now, and (in *h) the handle to sleep on
 * when it might become readable later.  POLLNVAL for a bad fd. */
short fs_poll(int fd, short events, moat_handle *h, int64_t *wake_at)
{
	struct file *f = fd_file(fd);
	*h = MOAT_NO_HANDLE;
	if (!f)
		return 0x020; /* POLLNVAL */
	if (f->ops->poll)
		return f->ops->poll(f, events, h, wake_at);
	/* files, directories and devices never block */
	return events & (0x001 | 0x040 | 0x004 | 0x100);
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
	else if (f->ops->describe)
		f->ops->describe(f, out, len);
	else
		rt_snprintf(out, len, "anon_inode:[%d]", f->h < 0 ? 0 : f->h);
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

/* The offsets the app passes (NULL: the file position), read before and
 * written back after, as Linux does: a bad pointer is EFAULT, a negative
 * offset EINVAL.  The descriptors must be open the right way round
 * (EBADF), and an O_APPEND output is refused (EINVAL). */
static long copy_user(int in, int64_t *uin_off, int out, int64_t *uout_off, size_t len)
{
	int64_t in_off = 0, out_off = 0;
	struct file *fi = fd_file(in), *fo = fd_file(out);
	if (!fi || !fo || (fi->flags & O_ACCMODE) == O_WRONLY ||
	    (fo->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (fo->flags & O_APPEND)
		return -EINVAL;
	if ((uin_off && get_user(&in_off, uin_off) < 0) ||
	    (uout_off && get_user(&out_off, uout_off) < 0))
		return -EFAULT;
	if (in_off < 0 || out_off < 0)
		return -EINVAL;
	if ((uin_off && streaming(fi)) || (uout_off && streaming(fo)))
		return -ESPIPE;
	long r = copy_loop(in, uin_off ? &in_off : NULL, out, uout_off ? &out_off : NULL, len);
	if (r >= 0 && ((uin_off && put_user(uin_off, in_off) < 0) ||
		       (uout_off && put_user(uout_off, out_off) < 0)))
		return -EFAULT;
	return r;
}

long sys_copy_file_range(int in, int64_t *in_off, int out, int64_t *out_off,
			 size_t len, unsigned flags)
{
	struct file *fo = fd_file(out);
	if (flags)
		return -EINVAL;
	if (fo && (fo->flags & O_APPEND)) /* EBADF here, EINVAL for sendfile */
		return -EBADF;
	return copy_user(in, in_off, out, out_off, len);
}

long sys_sendfile(int out, int in, int64_t *off, size_t len)
{
	return copy_user(in, off, out, NULL, len);
}
