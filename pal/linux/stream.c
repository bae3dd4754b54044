/*
 * stream.c -- I/O streams and the monitor channel.
 *
 * A stream handle wraps a host descriptor that the monitor opened on the
 * picoprocess's behalf and passed back; the PAL itself can name nothing
 * on the host.  Directories arrive as sealed memfds of linux_dirent64
 * records, so no directory descriptor ever enters the picoprocess.
 */
#include <asm/stat.h>
#include <linux/mman.h>

#include "pal.h"

struct host_cmsg { size_t len; int level, type; int fds[1]; };
#define H_SOL_SOCKET 1
#define H_SCM_RIGHTS 1
#define H_MSG_CMSG_CLOEXEC 0x40000000

static volatile int channel_lock;

/* Requests go out with write(), not sendmsg(): sendmsg is not in the
 * filter's allowlist at all, so no descriptor the app could move onto
 * MOAT_CHANNEL_FD (a host socket passed as stdin, say) can be used to
 * send to an address of its choosing. */
static long channel_send(const struct moat_msg_hdr *hdr, const char *p1,
			 size_t l1, const char *p2, size_t l2)
{
	static char buf[MOAT_MSG_MAX];
	size_t len = sizeof(*hdr) + l1 + l2;
	if (len > sizeof(buf))
		return -MOAT_EINVAL;
	memcpy(buf, hdr, sizeof(*hdr));
	memcpy(buf + sizeof(*hdr), p1, l1);
	memcpy(buf + sizeof(*hdr) + l1, p2, l2);
	return host_write(MOAT_CHANNEL_FD, buf, len);
}

long pal_request_raw(uint32_t op, int32_t a, uint32_t b, const void *p1,
		     size_t l1, const void *p2, size_t l2, void *reply,
		     size_t reply_len, int *fd)
{
	struct moat_msg_hdr hdr = { op, (uint32_t)(l1 + l2), a, b };
	struct moat_msg_hdr rhdr;
	struct host_cmsg cm;
	struct host_iovec iov[2] = { { &rhdr, sizeof(rhdr) },
				     { reply, reply_len } };
	struct host_msghdr m = { .iov = iov, .iovlen = reply ? 2 : 1,
				 .control = &cm, .controllen = sizeof(cm) };
	long r;

	if (fd)
		*fd = -1;
	pal_lock(&channel_lock);
	r = channel_send(&hdr, p1, l1, p2, l2);
	if (r >= 0)
		r = host_recvmsg(MOAT_CHANNEL_FD, &m, H_MSG_CMSG_CLOEXEC);
	pal_unlock(&channel_lock);
	if (r < (long)sizeof(rhdr))
		pal_fatal("lost the channel to the monitor");
	if (m.controllen >= sizeof(cm) && cm.level == H_SOL_SOCKET &&
	    cm.type == H_SCM_RIGHTS) {
		if (fd)
			*fd = cm.fds[0];
		else
			host_close(cm.fds[0]);
	}
	return rhdr.a;
}

long pal_request(uint32_t op, int32_t a, uint32_t b, const char *path,
		 const char *path2, void *reply, size_t reply_len, int *fd)
{
	size_t l1 = path ? strnlen(path, MOAT_PATH_MAX) + 1 : 0;
	size_t l2 = path2 ? strnlen(path2, MOAT_PATH_MAX) + 1 : 0;
	if (l1 > MOAT_PATH_MAX || l2 > MOAT_PATH_MAX)
		return -MOAT_ENAMETOOLONG;
	return pal_request_raw(op, a, b, path, l1, path2, l2, reply, reply_len, fd);
}

/* Around fork: the child must not start with the channel taken by a
 * thread it does not have. */
void pal_channel_fork_lock(void) { pal_lock(&channel_lock); }
void pal_channel_fork_unlock(void) { pal_unlock(&channel_lock); }

void pal_notify(uint32_t op, int32_t a, uint32_t b, const void *data,
		size_t len)
{
	if (len > MOAT_MSG_MAX - sizeof(struct moat_msg_hdr))
		len = MOAT_MSG_MAX - sizeof(struct moat_msg_hdr);
	struct moat_msg_hdr hdr = { op, (uint32_t)len, a, b };
	pal_lock(&channel_lock);
	channel_send(&hdr, data, len, 0, 0);
	pal_unlock(&channel_lock);
}

void pal_notify_exit(int32_t code, uint32_t sig)
{
	struct moat_msg_hdr hdr = { MOAT_OP_EXIT, 0, code, sig };
	if (pal_lock_within(&channel_lock, 100000000) < 0)
		return;
	channel_send(&hdr, 0, 0, 0, 0);
	pal_unlock(&channel_lock);
}

static uint32_t kind_of_mode(unsigned mode)
{
	switch (mode & 0170000) {
	case 0040000: return MOAT_KIND_DIR;
	case 0120000: return MOAT_KIND_SYMLINK;
	case 0010000: return MOAT_KIND_PIPE;
	case 0020000: return MOAT_KIND_CHARDEV;
	case 0140000: return MOAT_KIND_SOCKET;
	default: return MOAT_KIND_FILE;
	}
}

/* Strip the scheme: the monitor speaks virtual paths. */
static const char *file_path(const char *uri)
{
	if (strncmp(uri, "file:", 5) != 0)
		return 0;
	return uri + 5;
}

static long wait_ready(int fd, short events);

/* A connection or a listener, made by the monitor if the manifest
 * grants it (a client's connect is still in progress when it arrives),
 * or an anonymous memory file. */
static long net_open(const char *uri)
{
	int fd;
	long kind = pal_request(MOAT_OP_NET, 0, 0, uri, 0, 0, 0, &fd);
	if (kind < 0 || fd < 0)
		return kind < 0 ? kind : -MOAT_EIO;
	if (kind == MOAT_KIND_SOCKET) {
		int err = 0, errlen = sizeof(err);
		long r = wait_ready(fd, 4 /* POLLOUT */);
		if (r == 0)
			r = host_getsockopt(fd, 1 /* SOL_SOCKET */, 4 /* SO_ERROR */,
					    &err, &errlen);
		if (r == 0 && err)
			r = -err;
		if (r < 0) {
			host_close(fd);
			return r;
		}
	}
	long h = pal_handle_alloc(PAL_H_STREAM, fd, 0);
	if (h < 0) {
		host_close(fd);
		return h;
	}
	pal_handles[h].kind = (uint32_t)kind;
	pal_handles[h].access = MOAT_ACCESS_RDWR;
	return h;
}

long pal_stream_open(const char *uri, uint32_t access, uint32_t options,
		     uint32_t mode)
{
	if (strncmp(uri, "console:", 8) == 0)
		return -MOAT_EACCES; /* consoles are handles 0-2 from boot */
	if (strncmp(uri, "tcp.", 4) == 0 || strncmp(uri, "udp.", 4) == 0 ||
	    strncmp(uri, "unix.", 5) == 0 || strncmp(uri, "memfd:", 6) == 0)
		return net_open(uri);
	/* A checkpoint's stream, or a resumed run's image (read-only: the
	 * monitor hands a read-only descriptor of it). */
	if (strncmp(uri, "snapshot:", 9) == 0) {
		long h = net_open(uri);
		if (h >= 0 && pal_handles[h].kind == MOAT_KIND_FILE)
			pal_handles[h].access = MOAT_ACCESS_READ;
		return h;
	}
	const char *path = file_path(uri);
	if (!path)
		return -MOAT_EINVAL;
	if (access < MOAT_ACCESS_READ || access > MOAT_ACCESS_RDWR)
		return -MOAT_EINVAL;
	long r = pal_directfs_absent(path, access, options);
	if (r < 0)
		return r;
	int fd;
	struct moat_open_reply reply = { 0 };
	r = pal_request(MOAT_OP_OPEN, (int32_t)(access | options), mode,
			     path, 0, &reply, sizeof(reply), &fd);
	if (r < 0 || (options & MOAT_OPEN_MKDIR)) {
		if (fd >= 0)
			host_close(fd);
		return r < 0 ? r : 0;
	}
	if (fd < 0)
		return -MOAT_EIO;
	long h = pal_handle_alloc(PAL_H_STREAM, fd, 0);
	if (h < 0) {
		host_close(fd);
		return h;
	}
	pal_handles[h].kind = (uint32_t)r; /* the monitor says file or dir */
	pal_handles[h].access = access;
	pal_handles[h].uid = reply.uid;
	pal_handles[h].gid = reply.gid;
	pal_handles[h].sbits = reply.sbits & 06000;
	pal_handles[h].base = reply.base;
	if (reply.base || reply.attr.kind == MOAT_KIND_DIR)
		pal_handles[h].win = reply.attr;
	return h;
}

/* Directory streams return whole records only. */
static long read_dir(int fd, uint64_t off, void *buf, size_t len)
{
	long r = host_pread64(fd, buf, len, off);
	if (r <= 0)
		return r;
	size_t used = 0;
	while (used + 19 <= (size_t)r) {
		struct moat_dirent *d = (void *)((char *)buf + used);
		if (used + d->reclen > (size_t)r || d->reclen == 0)
			break;
		used += d->reclen;
	}
	return used ? (long)used : -MOAT_EINVAL;
}

/* Wait until a pipe or console is ready, with host signals open so that
 * a signal interrupts the wait (ppoll switches the mask atomically); a
 * quiet thread's stay blocked (pal_signals_wait_mask). */
static long wait_ready(int fd, short events)
{
	struct host_pollfd p = { fd, events, 0 };
	uint64_t open_mask = pal_signals_wait_mask();
	long r = host_ppoll(&p, 1, 0, &open_mask);
	return r < 0 ? r : 0;
}

static int may_block(const struct pal_handle *ph)
{
	return ph->kind == MOAT_KIND_PIPE || ph->kind == MOAT_KIND_CONSOLE ||
	       ph->kind == MOAT_KIND_SOCKET || ph->kind == MOAT_KIND_SERVER ||
	       ph->kind == MOAT_KIND_DATAGRAM;
}

long pal_stream_read(moat_handle h, uint64_t off, void *buf, size_t len)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph || !(ph->access & MOAT_ACCESS_READ))
		return -MOAT_EBADF;
	if (ph->kind == MOAT_KIND_DIR)
		return read_dir(ph->fd, off, buf, len);
	if (ph->base) { /* a package file: stay inside its window */
		if (off == MOAT_OFFSET_STREAM)
			return -MOAT_EINVAL;
		if (off >= ph->win.size)
			return 0;
		if (len > ph->win.size - off)
			len = ph->win.size - off;
		return host_pread64(ph->fd, buf, len, ph->base + off);
	}
	long r;
	/* A descriptor that never blocks is read first, unless the last read
	 * emptied it (a reader that keeps up, or a ping-pong): then the
	 * wait comes first, which saves a read that would fail. */
	for (int wait = may_block(ph) && ph->nowait != PAL_NOWAIT;; wait = 1) {
		if (wait && (r = wait_ready(ph->fd, 1 /* POLLIN */)) < 0)
			return r;
		if (off == MOAT_OFFSET_STREAM)
			r = host_read(ph->fd, buf, len);
		else
			r = host_pread64(ph->fd, buf, len, off);
		if (ph->nowait)
			ph->nowait = r == -MOAT_EAGAIN || (r >= 0 && (size_t)r < len)
				     ? PAL_NOWAIT_EMPTY : PAL_NOWAIT;
		if (r != -MOAT_EINTR && r != -MOAT_EAGAIN)
			return r;
	}
}

/* A write to a descriptor that never blocks (a pipe): try first, wait
 * only while it is full, and go on until all is written, as a blocking
 * write does; a signal in a wait ends it with what was written. */
static long write_nowait(struct pal_handle *ph, const void *buf, size_t len)
{
	size_t done = 0;
	/* The last write had to wait: this one likely too, so wait first
	 * (once: a writer that found room tries first again). */
	int waited = 0; /* this write found it full */
	if (ph->nowait == PAL_NOWAIT_FULL)
		(void)wait_ready(ph->fd, 4 /* POLLOUT */); /* a signal: the write and its wait tell */
	for (;;) {
		long r = host_write(ph->fd, (const char *)buf + done, len - done);
		if (r > 0)
			done += (size_t)r;
		else if (r != -MOAT_EAGAIN && r != -MOAT_EINTR)
			return done ? (long)done : r;
		if (done == len) {
			ph->nowait = waited ? PAL_NOWAIT_FULL : PAL_NOWAIT;
			return (long)done;
		}
		if ((r = wait_ready(ph->fd, 4 /* POLLOUT */)) < 0)
			return done ? (long)done : r;
		waited = 1;
	}
}

long pal_stream_write(moat_handle h, uint64_t off, const void *buf,
		      size_t len)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph || !(ph->access & MOAT_ACCESS_WRITE))
		return -MOAT_EBADF;
	if (ph->nowait)
		return write_nowait(ph, buf, len);
	long r;
	do {
		if (may_block(ph) && (r = wait_ready(ph->fd, 4 /* POLLOUT */)) < 0)
			return r;
		if (off == MOAT_OFFSET_STREAM)
			r = host_write(ph->fd, buf, len);
		else
			r = host_pwrite64(ph->fd, buf, len, off);
	} while (r == -MOAT_EINTR || r == -MOAT_EAGAIN);
	return r;
}

long pal_stream_map(moat_handle h, void *addr, uint64_t off, size_t size,
		    uint32_t prot, uint32_t flags)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph || ph->kind != MOAT_KIND_FILE)
		return -MOAT_EBADF;
	long mf = flags & MOAT_MAP_SHARED ? MAP_SHARED : MAP_PRIVATE;
	if (flags & MOAT_MAP_NOREPLACE)
		mf |= MAP_FIXED_NOREPLACE;
	else if (flags & MOAT_MAP_FIXED)
		mf |= MAP_FIXED;
	return host_mmap(addr, size, prot & 7, mf, ph->fd, off + ph->base);
}

long pal_stream_unmap(void *addr, size_t size)
{
	return host_munmap(addr, size);
}

long pal_stream_set_length(moat_handle h, uint64_t len)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph || !(ph->access & MOAT_ACCESS_WRITE))
		return -MOAT_EBADF;
	return host_ftruncate(ph->fd, len);
}

long pal_stream_flush(moat_handle h)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph)
		return -MOAT_EBADF;
	long r = host_fsync(ph->fd);
	return r == -MOAT_EINVAL ? 0 : r; /* consoles and pipes: nothing to do */
}

long pal_stream_delete(const char *uri, uint32_t dir)
{
	const char *path = file_path(uri);
	if (!path)
		return -MOAT_EINVAL;
	return pal_request(MOAT_OP_DELETE, (int32_t)!!dir, 0, path, 0, 0, 0, 0);
}

long pal_stream_rename(const char *from, const char *to)
{
	const char *p1 = file_path(from), *p2 = file_path(to);
	if (!p1 || !p2)
		return -MOAT_EINVAL;
	return pal_request(MOAT_OP_RENAME, 0, 0, p1, p2, 0, 0, 0);
}

long pal_stream_wait_for_client(moat_handle h, uint32_t nonblock, char *peer,
				size_t len)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph || ph->kind != MOAT_KIND_SERVER)
		return -MOAT_EINVAL;
	struct { uint16_t family, port; uint8_t addr[4]; uint8_t zero[8]; } sa;
	int salen;
	long fd;
	do {
		if (!nonblock && (fd = wait_ready(ph->fd, 1 /* POLLIN */)) < 0)
			return fd;
		salen = sizeof(sa);
		fd = host_accept4(ph->fd, &sa, &salen,
				  02000000 | 04000 /* SOCK_CLOEXEC | SOCK_NONBLOCK */);
	} while (!nonblock && (fd == -MOAT_EAGAIN || fd == -MOAT_EINTR));
	if (fd < 0)
		return fd;
	long nh = pal_handle_alloc(PAL_H_STREAM, (int)fd, 0);
	if (nh < 0) {
		host_close(fd);
		return nh;
	}
	pal_handles[nh].kind = MOAT_KIND_SOCKET;
	pal_handles[nh].access = MOAT_ACCESS_RDWR;
	if (peer && len && sa.family == 2 /* AF_INET */)
		rt_snprintf(peer, len, "%u.%u.%u.%u:%u", sa.addr[0], sa.addr[1], sa.addr[2],
			    sa.addr[3], (unsigned)((sa.port >> 8) | ((sa.port & 0xff) << 8)));
	else if (peer && len)
		peer[0] = 0; /* a local (unix) peer has no address */
	return nh;
}

long pal_stream_shutdown(moat_handle h, uint32_t how)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph)
		return -MOAT_EBADF;
	if (ph->kind != MOAT_KIND_SOCKET || !how || how > 3)
		return ph->kind == MOAT_KIND_SOCKET ? -MOAT_EINVAL : -MOAT_ENOTCONN;
	return host_shutdown(ph->fd, how - 1);
}

long pal_stream_attr_query(const char *uri, uint32_t nofollow,
			   struct moat_attr *attr)
{
	const char *path = file_path(uri);
	if (!path && (strncmp(uri, "tcp.", 4) == 0 || strncmp(uri, "udp.", 4) == 0)) {
		/* a network endpoint: would the manifest grant it? */
		long r = pal_request(MOAT_OP_NET, 1, 0, uri, 0, 0, 0, 0);
		if (r == 0)
			*attr = (struct moat_attr){ .kind = uri[0] == 'u' ? MOAT_KIND_DATAGRAM
						   : uri[4] == 's' ? MOAT_KIND_SERVER
						   : MOAT_KIND_SOCKET };
		return r;
	}
	if (!path)
		return -MOAT_EINVAL;
	long r = pal_directfs_stat(path, nofollow, attr);
	if (r != DIRFS_ASK)
		return r;
	return pal_request(MOAT_OP_STAT, (int32_t)!!nofollow, 0, path, 0, attr,
			   sizeof(*attr), 0);
}

long pal_stream_attr_query_by_handle(moat_handle h, struct moat_attr *a)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	struct stat st;
	if (!ph)
		return -MOAT_EBADF;
	if (ph->base || ph->win.kind == MOAT_KIND_DIR) {
		*a = ph->win; /* the host descriptor is a package or a listing */
		return 0;
	}
	long r = host_fstat(ph->fd, &st);
	if (r < 0)
		return r;
	*a = (struct moat_attr){
		.kind = ph->kind == MOAT_KIND_FILE ? kind_of_mode(st.st_mode)
						   : ph->kind,
		.mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid,
		.nlink = (uint32_t)st.st_nlink,
		.writable = !!(ph->access & MOAT_ACCESS_WRITE),
		.size = (uint64_t)st.st_size, .blocks = (uint64_t)st.st_blocks,
		.blksize = (uint64_t)st.st_blksize, .ino = st.st_ino,
		.dev = st.st_dev, .rdev = st.st_rdev,
		.atime_ns = (int64_t)st.st_atime * 1000000000 + (int64_t)st.st_atime_nsec,
		.mtime_ns = (int64_t)st.st_mtime * 1000000000 + (int64_t)st.st_mtime_nsec,
		.ctime_ns = (int64_t)st.st_ctime * 1000000000 + (int64_t)st.st_ctime_nsec,
	};
	if (ph->kind == MOAT_KIND_FILE || ph->kind == MOAT_KIND_DIR) {
		a->uid = ph->uid; /* fstat here sees user-namespace ids */
		a->gid = ph->gid;
		a->mode |= ph->sbits;
	}
	return 0;
}

/* A file's recorded owner changed: the handles open on it show the new
 * one (their owner is otherwise the one told at open). */
static void owner_changed(const struct moat_owner_reply *o)
{
	for (int i = 0; i < PAL_MAX_HANDLES; i++) {
		struct pal_handle *ph = &pal_handles[i];
		struct stat st;
		if (ph->type != PAL_H_STREAM || ph->base ||
		    (ph->kind != MOAT_KIND_FILE && ph->kind != MOAT_KIND_DIR))
			continue;
		if (ph->win.kind == MOAT_KIND_DIR) {
			if (ph->win.dev != o->dev || ph->win.ino != o->ino)
				continue;
			ph->win.uid = o->uid, ph->win.gid = o->gid;
			ph->win.mode = (ph->win.mode & ~06000u) | (o->sbits & 06000);
		} else if (host_fstat(ph->fd, &st) < 0 || st.st_dev != o->dev ||
			   st.st_ino != o->ino) {
			continue;
		}
		ph->uid = o->uid, ph->gid = o->gid, ph->sbits = o->sbits & 06000;
	}
}

long pal_stream_attr_set(const char *uri, uint32_t nofollow, uint32_t mask,
			 const struct moat_attr *attr)
{
	const char *path = file_path(uri);
	if (!path)
		return -MOAT_EINVAL;
	size_t l1 = strnlen(path, MOAT_PATH_MAX) + 1;
	if (l1 > MOAT_PATH_MAX)
		return -MOAT_ENAMETOOLONG;
	struct { int64_t t[2]; uint32_t id[2]; } __attribute__((packed)) data = {
		{ attr->atime_ns, attr->mtime_ns }, { attr->uid, attr->gid } };
	struct moat_owner_reply o = { 0 };
	long r = pal_request_raw(MOAT_OP_SETATTR, (int32_t)(mask | (nofollow ? 1u << 8 : 0)),
				 attr->mode, path, l1, &data, sizeof(data), &o, sizeof(o), 0);
	if (r == 0 && o.valid)
		owner_changed(&o);
	return r;
}

long pal_stream_symlink(const char *target, const char *uri)
{
	const char *path = file_path(uri);
	if (!path)
		return -MOAT_EINVAL;
	return pal_request(MOAT_OP_SYMLINK, 0, 0, path, target, 0, 0, 0);
}

long pal_stream_link(const char *from, const char *to)
{
	const char *p1 = file_path(from), *p2 = file_path(to);
	if (!p1 || !p2)
		return -MOAT_EINVAL;
	return pal_request(MOAT_OP_LINK, 0, 0, p1, p2, 0, 0, 0);
}


/* flock(2): LOCK_SH 1, LOCK_EX 2, LOCK_UN 8, LOCK_NB 4.  Waiting polls,
 * as for record locks, so that a signal can end it. */
static long whole_lock(int fd, uint32_t op, uint32_t type)
{
	static const int how[] = { [MOAT_LOCK_READ] = 1, [MOAT_LOCK_WRITE] = 2,
				   [MOAT_LOCK_UNLOCK] = 8 };
	if (op > MOAT_LOCK_WAIT || type > MOAT_LOCK_UNLOCK)
		return -MOAT_EINVAL;
	for (;;) {
		long r = host_flock(fd, how[type] | 4 /* LOCK_NB */);
		if (r != -MOAT_EAGAIN || op != MOAT_LOCK_WAIT)
			return r;
		if (pal_thread_delay(5000000) == -MOAT_EINTR)
			return -MOAT_EINTR;
	}
}

long pal_stream_lock(moat_handle h, uint32_t op, uint32_t type, uint64_t *start,
		     uint64_t *len, int32_t *pid)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph || ph->kind != MOAT_KIND_FILE)
		return -MOAT_EBADF;
	if (op & MOAT_LOCK_WHOLE)
		return whole_lock(ph->fd, op & ~MOAT_LOCK_WHOLE, type);
	if (op > MOAT_LOCK_TEST || type > MOAT_LOCK_UNLOCK)
		return -MOAT_EINVAL;
	/* Linux's F_RDLCK 0, F_WRLCK 1, F_UNLCK 2 are the ABI's numbers. */
	struct host_flock fl = { (short)type, 0 /* SEEK_SET */, (long)*start, (long)*len, 0 };
	if (op == MOAT_LOCK_TEST) {
		long r = host_fcntl_lock(ph->fd, 5 /* F_GETLK */, &fl);
		if (r < 0)
			return r;
		*start = (uint64_t)fl.start, *len = (uint64_t)fl.len, *pid = fl.pid;
		return fl.type;
	}
	/* A blocking F_SETLKW could not be interrupted by a signal here, so
	 * waiting is polling with an interruptible sleep. */
	for (;;) {
		long r = host_fcntl_lock(ph->fd, 6 /* F_SETLK */, &fl);
		if (r != -MOAT_EAGAIN && r != -MOAT_EACCES)
			return r;
		if (op != MOAT_LOCK_WAIT)
			return -MOAT_EAGAIN;
		if (pal_thread_delay(5000000) == -MOAT_EINTR)
			return -MOAT_EINTR;
	}
}

long pal_stream_readlink(const char *uri, char *buf, size_t len)
{
	const char *path = file_path(uri);
	if (!path)
		return -MOAT_EINVAL;
	return pal_request(MOAT_OP_READLINK, 0, 0, path, 0, buf, len, 0);
}

long pal_debug_log(const char *msg, size_t len)
{
	pal_notify(MOAT_OP_LOG, 0, 0, msg, len);
	return 0;
}

long pal_stream_pipe(moat_handle *rd, moat_handle *wr, uint32_t flags)
{
	int fds[2];
	int duplex = flags & MOAT_PIPE_DUPLEX;
	long r = duplex ? host_socketpair(1 /* AF_UNIX */,
					  1 | 02000000 /* SOCK_STREAM | SOCK_CLOEXEC */, 0, fds)
			: host_pipe2(fds, 02000000 | 04000 /* O_CLOEXEC | O_NONBLOCK */);
	if (r < 0)
		return r;
	long a = pal_handle_alloc(PAL_H_STREAM, fds[0], 0);
	long b = a < 0 ? a : pal_handle_alloc(PAL_H_STREAM, fds[1], 0);
	if (b < 0) {
		if (a >= 0)
			pal_handles[a].type = PAL_H_FREE;
		host_close(fds[0]);
		host_close(fds[1]);
		return b;
	}
	pal_handles[a].kind = pal_handles[b].kind = duplex ? MOAT_KIND_SOCKET
							   : MOAT_KIND_PIPE;
	pal_handles[a].access = duplex ? MOAT_ACCESS_RDWR : MOAT_ACCESS_READ;
	pal_handles[a].nowait = pal_handles[b].nowait = !duplex;
	pal_handles[b].access = duplex ? MOAT_ACCESS_RDWR : MOAT_ACCESS_WRITE;
	*rd = (moat_handle)a;
	*wr = (moat_handle)b;
	return 0;
}
