/*
 * mqueue.c -- POSIX message queues: mq_open, mq_unlink, mq_timedsend,
 * mq_timedreceive, mq_notify, mq_getsetattr, and their descriptors.
 *
 * A queue's description is a slot of the registry (ipc.h), found by
 * name; its messages are a file of the private scratch,
 * /dev/shm/.moat-sysv.mq.SLOT.SEQ, of maxmsg records, which every open
 * description maps shared (a forked child inherits the map).  A record is
 * free while its order is 0; a receive takes the highest priority, oldest
 * first.  The queue goes when it is unlinked and its last description
 * closed, in whichever process.
 */
#include "file.h"
#include "ipc.h"
#include "linux_abi.h"
#include "uaccess.h"

#define PAGE 4096UL
#define MQ_PRIO_MAX 32768
#define MQ_MSG_MAX 10          /* /proc/sys/fs/mqueue/msg_max */
#define MQ_MSGSIZE_MAX 8192    /* /proc/sys/fs/mqueue/msgsize_max */
#define MQ_HARD_MSGMAX 65536
#define MQ_HARD_MSGSIZEMAX (16 * 1024 * 1024)
#define MQ_AREA_MAX (64ULL << 20) /* a queue's file at most */
#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SI_MESGQ (-3)
#define O_ACCMODE_K 3
#define O_CREAT_K 0100
#define O_EXCL_K 0200
#define O_NONBLOCK_K 04000

struct mq_rec {
	uint64_t order;  /* 0: free */
	uint32_t prio, len;
};

/* An open description: its queue and its map of the messages. */
struct mqd {
	struct mqd *next;
	unsigned slot;
	uint32_t seq;
	uint8_t *area;
	uint64_t area_len;
};
static struct mqd *open_list; /* this process's, under the registry lock */

static uint64_t rec_size(const struct ipc_mq *q)
{
	return sizeof(struct mq_rec) + RT_ALIGN_UP((uint64_t)q->msgsize, 8);
}

static uint64_t area_len(const struct ipc_mq *q)
{
	return RT_ALIGN_UP((uint64_t)q->maxmsg * rec_size(q), PAGE);
}

static void mq_uri(char *uri, size_t len, unsigned slot, uint32_t seq)
{
	rt_snprintf(uri, len, "file:/dev/shm/.moat-sysv.mq.%u.%u", slot, seq);
}

/* The queue of a description, if it is still the same one. */
static struct ipc_mq *mq_of(struct ipc_registry *r, const struct mqd *d)
{
	struct ipc_mq *q = d->slot < IPC_MQ_SLOTS ? &r->mq[d->slot] : NULL;
	if (!q || !q->used || q->seq != d->seq || q->maxmsg <= 0 || q->msgsize <= 0 ||
	    q->maxmsg > MQ_HARD_MSGMAX || q->msgsize > MQ_HARD_MSGSIZEMAX ||
	    area_len(q) != d->area_len)
		return NULL; /* the app wrote the registry */
	return q;
}

/* A description is gone (registry locked): the queue goes with the last
 * one once unlinked. */
static void mq_drop(struct ipc_mq *q, unsigned slot)
{
	if (q->opens)
		q->opens--;
	if (q->opens || !q->unlinked)
		return;
	char uri[80];
	mq_uri(uri, sizeof(uri), slot, q->seq);
	abi->stream_delete(uri, 0);
	uint32_t wake = q->wake;
	memset(q, 0, sizeof(*q));
	q->wake = wake;
}

static void mqd_unlist(struct mqd *d)
{
	for (struct mqd **p = &open_list; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
}

static void mqd_release(struct file *f)
{
	struct mqd *d = f->priv;
	if (!d)
		return;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (r) {
		struct ipc_mq *q = mq_of(r, d);
		if (q)
			mq_drop(q, d->slot);
		mqd_unlist(d);
		ipc_unlock(r);
	}
	if (d->area)
		abi->stream_unmap(d->area, d->area_len);
	kfree(d);
}

static short mqd_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at)
{
	(void)h;
	struct mqd *d = f->priv;
	long err;
	short ready = 0;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return 0;
	struct ipc_mq *q = mq_of(r, d);
	if (q) {
		ready = (short)((q->curmsgs ? events & 0x001 : 0) |
				(q->curmsgs < q->maxmsg ? events & 0x004 : 0));
	}
	ipc_unlock(r);
	/* No handle to sleep on: look again soon. */
	int64_t soon = abi->system_time(MOAT_CLOCK_MONOTONIC) + 10000000;
	if (!ready && (*wake_at < 0 || soon < *wake_at))
		*wake_at = soon;
	return ready;
}

static void mqd_describe(struct file *f, char *out, size_t len)
{
	(void)f;
	rt_snprintf(out, len, "/dev/mqueue");
}

static const struct file_ops mq_ops = {
	.poll = mqd_poll,
	.release = mqd_release,
	.describe = mqd_describe,
	.caps = FILE_STREAMING,
};

/* The name as the kernel takes it (glibc strips the '/'). */
static long mq_name(char *out, const char *uname)
{
	long n = strncpy_from_user(out, uname, 256);
	if (n < 0)
		return n;
	if (n >= 256)
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	if (strchr(out, '/') || !strcmp(out, ".") || !strcmp(out, ".."))
		return -EACCES;
	return 0;
}

static long mq_lookup(struct ipc_registry *r, const char *name)
{
	for (unsigned i = 0; i < IPC_MQ_SLOTS; i++) {
		struct ipc_mq *q = &r->mq[i];
		if (q->used && !q->unlinked && !strncmp(q->name, name, sizeof(q->name)))
			return i;
	}
	return -ENOENT;
}

static int mq_allowed(const struct ipc_mq *q, int want)
{
	struct ipc_obj o = { .uid = q->uid, .cuid = q->uid, .gid = q->gid,
			     .cgid = q->gid, .mode = q->mode };
	return ipc_allowed(&o, want);
}

static long attr_check(const struct l_mq_attr *a)
{
	if (a->mq_maxmsg <= 0 || a->mq_msgsize <= 0)
		return -EINVAL;
	if (proc.uid != 0 && (a->mq_maxmsg > MQ_MSG_MAX || a->mq_msgsize > MQ_MSGSIZE_MAX))
		return -EINVAL;
	if (a->mq_maxmsg > MQ_HARD_MSGMAX || a->mq_msgsize > MQ_HARD_MSGSIZEMAX)
		return -EINVAL;
	return 0;
}

/* A new queue in a free slot, with its file (registry locked). */
static long mq_create(struct ipc_registry *r, const char *name, int mode,
		      const struct l_mq_attr *a)
{
	long slot = -ENOSPC;
	for (unsigned i = 0; i < IPC_MQ_SLOTS && slot < 0; i++)
		if (!r->mq[i].used)
			slot = i;
	if (slot < 0)
		return slot;
	struct ipc_mq *q = &r->mq[slot];
	uint32_t wake = q->wake;
	memset(q, 0, sizeof(*q));
	q->wake = wake;
	q->maxmsg = a ? a->mq_maxmsg : MQ_MSG_MAX;
	q->msgsize = a ? a->mq_msgsize : MQ_MSGSIZE_MAX;
	if (area_len(q) > MQ_AREA_MAX)
		return -ENOMEM;
	q->seq = r->seq++;
	char uri[80];
	mq_uri(uri, sizeof(uri), (unsigned)slot, q->seq);
	long h = abi->stream_open(uri, MOAT_ACCESS_RDWR, MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE,
				  0600);
	if (h >= 0) {
		long e = abi->stream_set_length((moat_handle)h, area_len(q));
		abi->object_close((moat_handle)h);
		h = e;
	}
	if (h < 0) {
		memset(q, 0, sizeof(*q));
		q->wake = wake;
		return h == -ENOSPC || h == -EFBIG ? -ENOMEM : -ENOSPC;
	}
	q->used = 1;
	q->uid = proc.uid;
	q->gid = proc.gid;
	q->mode = (uint32_t)mode & 0777 & ~proc.umask;
	rt_strlcpy(q->name, name, sizeof(q->name));
	return slot;
}

/* The queue in slot, or a new one, per oflag (registry locked). */
static long mq_find(struct ipc_registry *r, const char *name, int oflag, int mode,
		    const struct l_mq_attr *a)
{
	long slot = mq_lookup(r, name);
	if (slot >= 0) {
		if ((oflag & O_CREAT_K) && (oflag & O_EXCL_K))
			return -EEXIST;
		int acc = oflag & O_ACCMODE_K;
		int want = acc == 0 ? 4 : acc == 1 ? 2 : 6;
		return mq_allowed(&r->mq[slot], want) ? slot : -EACCES;
	}
	if (!(oflag & O_CREAT_K))
		return -ENOENT;
	if (a) {
		long e = attr_check(a);
		if (e < 0)
			return e;
	}
	return mq_create(r, name, mode, a);
}

/* Map the queue's messages for a new description. */
static long mqd_map(struct mqd *d, const struct ipc_mq *q)
{
	char uri[80];
	mq_uri(uri, sizeof(uri), d->slot, d->seq);
	long h = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (h < 0)
		return h;
	d->area_len = area_len(q);
	long m = abi->stream_map((moat_handle)h, NULL, 0, d->area_len,
				 MOAT_PROT_READ | MOAT_PROT_WRITE, MOAT_MAP_SHARED);
	abi->object_close((moat_handle)h);
	if (m < 0)
		return m;
	d->area = (uint8_t *)m;
	return 0;
}

static long mq_open_locked(struct ipc_registry *r, const char *name, int oflag, int mode,
			   const struct l_mq_attr *a, struct mqd *d)
{
	long slot = mq_find(r, name, oflag, mode, a);
	if (slot < 0)
		return slot;
	struct ipc_mq *q = &r->mq[slot];
	d->slot = (unsigned)slot;
	d->seq = q->seq;
	long e = mqd_map(d, q);
	if (e < 0)
		return e == -EMFILE ? -EMFILE : -ENOMEM;
	q->opens++;
	d->next = open_list;
	open_list = d;
	return 0;
}

long sys_mq_open(const char *uname, int oflag, int mode, const struct l_mq_attr *uattr)
{
	char name[257];
	struct l_mq_attr a;
	long e = mq_name(name, uname);
	if (e < 0)
		return e;
	if ((oflag & O_ACCMODE_K) == O_ACCMODE_K)
		return -EINVAL;
	if ((oflag & O_CREAT_K) && uattr && copy_from_user(&a, uattr, sizeof(a)) < 0)
		return -EFAULT;
	struct mqd *d = kzalloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r) {
		kfree(d);
		return e;
	}
	e = mq_open_locked(r, name, oflag, mode, (oflag & O_CREAT_K) && uattr ? &a : NULL, d);
	ipc_unlock(r);
	if (e < 0) {
		kfree(d);
		return e;
	}
	/* Linux makes every queue descriptor close-on-exec. */
	return file_install_obj(&mq_ops, d, (oflag & (O_ACCMODE_K | O_NONBLOCK_K)), 1);
}

long sys_mq_unlink(const char *uname)
{
	char name[257];
	long e = mq_name(name, uname);
	if (e < 0)
		return e;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r)
		return e;
	long slot = mq_lookup(r, name);
	if (slot >= 0) {
		struct ipc_mq *q = &r->mq[slot];
		if (proc.uid != 0 && proc.uid != q->uid) {
			slot = -EACCES; /* as /dev/mqueue's sticky bit */
		} else {
			q->unlinked = 1;
			q->opens++;
			mq_drop(q, (unsigned)slot);
			slot = 0;
		}
	}
	ipc_unlock(r);
	return slot;
}

/* The description behind fd, usable for 'want' (1 read, 2 write). */
static struct mqd *mqd_of(int mqd, int want, struct file **fp)
{
	struct file *f = fd_file(mqd);
	if (!f || f->ops != &mq_ops)
		return NULL;
	int acc = f->flags & O_ACCMODE_K;
	if ((want & 1 && acc == 1) || (want & 2 && acc == 0))
		return NULL;
	if (fp)
		*fp = f;
	return f->priv;
}

/* An absolute CLOCK_REALTIME timeout as a monotonic deadline (-1: none). */
static long deadline_of(const struct l_timespec *uts, int64_t *deadline)
{
	struct l_timespec ts;
	*deadline = -1;
	if (!uts)
		return 0;
	if (copy_from_user(&ts, uts, sizeof(ts)) < 0)
		return -EFAULT;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
		return -EINVAL;
	int64_t left = ts.tv_sec * 1000000000LL + ts.tv_nsec -
		       abi->system_time(MOAT_CLOCK_REALTIME);
	*deadline = abi->system_time(MOAT_CLOCK_MONOTONIC) + (left > 0 ? left : 0);
	return 0;
}

/* The registered process hears of a message on an empty queue that no
 * one is waiting for; the registration ends. */
static void mq_notify_send(struct ipc_mq *q)
{
	int32_t pid = q->notify_pid;
	if (!pid || q->receivers)
		return;
	q->notify_pid = 0;
	if (q->notify_none)
		return;
	if (pid == proc.pid) {
		/* si_pid, si_uid, si_value as for SI_MESGQ */
		struct { int32_t pid, uid; uint64_t value; } f = { proc.pid, (int32_t)proc.uid,
								  q->notify_value };
		signal_set_info(q->notify_sig, SI_MESGQ, &f, sizeof(f));
		signal_raise(q->notify_sig);
	} else {
		abi->process_control(MOAT_PROC_SIGNAL, pid, q->notify_sig);
	}
}

static void mq_put(struct ipc_mq *q, uint8_t *area, const void *msg, uint64_t len,
		   unsigned prio)
{
	for (int64_t i = 0; i < q->maxmsg; i++) {
		struct mq_rec *rec = (struct mq_rec *)(area + i * rec_size(q));
		if (rec->order)
			continue;
		memcpy(rec + 1, msg, len);
		rec->prio = prio;
		rec->len = (uint32_t)len;
		rec->order = ++q->order;
		break;
	}
	if (q->curmsgs++ == 0)
		mq_notify_send(q);
	ipc_wake(&q->wake);
}

long sys_mq_timedsend(int fd, const char *umsg, size_t len, unsigned prio,
		      const struct l_timespec *uts)
{
	int64_t deadline;
	if (prio >= MQ_PRIO_MAX)
		return -EINVAL;
	long e = deadline_of(uts, &deadline);
	if (e < 0)
		return e;
	struct file *f = NULL;
	struct mqd *d = mqd_of(fd, 2, &f);
	if (!d)
		return -EBADF;
	void *msg = kmalloc(len ? len : 1);
	if (!msg)
		return -ENOMEM;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r) {
		kfree(msg);
		return e;
	}
	struct ipc_mq *q = mq_of(r, d);
	e = !q ? -EBADF : (int64_t)len > q->msgsize ? -EMSGSIZE : 0;
	if (!e && copy_from_user(msg, umsg, len) < 0)
		e = -EFAULT;
	while (!e && q->curmsgs >= q->maxmsg) {
		if (f->flags & O_NONBLOCK_K) {
			e = -EAGAIN;
			break;
		}
		uint32_t seen = q->wake;
		ipc_unlock(r);
		long w = ipc_sleep(&q->wake, seen, deadline);
		r = ipc_lock(&e);
		if (!mq_of(r, d))
			e = -EBADF;
		else if (w == -EINTR || w == -ETIMEDOUT)
			e = w == -EINTR ? -ERESTARTSYS : -ETIMEDOUT;
	}
	if (!e)
		mq_put(q, d->area, msg, len, prio);
	ipc_unlock(r);
	kfree(msg);
	return e;
}

/* The message to receive: highest priority, then oldest. */
static struct mq_rec *mq_pick(const struct ipc_mq *q, uint8_t *area)
{
	struct mq_rec *best = NULL;
	for (int64_t i = 0; i < q->maxmsg; i++) {
		struct mq_rec *rec = (struct mq_rec *)(area + i * rec_size(q));
		if (rec->order && (!best || rec->prio > best->prio ||
				   (rec->prio == best->prio && rec->order < best->order)))
			best = rec;
	}
	return best;
}

static long mq_take(struct ipc_mq *q, uint8_t *area, char *umsg, unsigned *uprio)
{
	struct mq_rec *rec = mq_pick(q, area);
	if (!rec) {
		q->curmsgs = 0; /* the count was wrong: the app wrote the file */
		return -EAGAIN;
	}
	uint32_t len = rec->len < q->msgsize ? rec->len : (uint32_t)q->msgsize;
	if (copy_to_user(umsg, rec + 1, len) < 0 || (uprio && put_user(uprio, rec->prio) < 0))
		return -EFAULT;
	rec->order = 0;
	q->curmsgs--;
	ipc_wake(&q->wake);
	return len;
}

long sys_mq_timedreceive(int fd, char *umsg, size_t len, unsigned *uprio,
			 const struct l_timespec *uts)
{
	int64_t deadline;
	long e = deadline_of(uts, &deadline);
	if (e < 0)
		return e;
	struct file *f = NULL;
	struct mqd *d = mqd_of(fd, 1, &f);
	if (!d)
		return -EBADF;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r)
		return e;
	struct ipc_mq *q = mq_of(r, d);
	e = !q ? -EBADF : (int64_t)len < q->msgsize ? -EMSGSIZE : 0;
	while (!e && q->curmsgs <= 0) {
		if (f->flags & O_NONBLOCK_K) {
			e = -EAGAIN;
			break;
		}
		uint32_t seen = q->wake;
		q->receivers++;
		ipc_unlock(r);
		long w = ipc_sleep(&q->wake, seen, deadline);
		r = ipc_lock(&e);
		if (!mq_of(r, d)) {
			e = -EBADF;
			break;
		}
		if (q->receivers)
			q->receivers--;
		if (w == -EINTR || w == -ETIMEDOUT)
			e = w == -EINTR ? -ERESTARTSYS : -ETIMEDOUT;
	}
	if (!e)
		e = mq_take(q, d->area, umsg, uprio);
	ipc_unlock(r);
	return e;
}

long sys_mq_notify(int fd, const struct l_sigevent *usev)
{
	struct l_sigevent ev = { 0 };
	if (usev && copy_from_user(&ev, usev, sizeof(ev)) < 0)
		return -EFAULT;
	if (usev && ev.notify != SIGEV_NONE &&
	    (ev.notify != SIGEV_SIGNAL || ev.signo < 1 || ev.signo > 64))
		return ev.notify == 2 /* SIGEV_THREAD */ ? -ENOSYS : -EINVAL;
	struct mqd *d = mqd_of(fd, 0, NULL);
	if (!d)
		return -EBADF;
	long e;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r)
		return e;
	struct ipc_mq *q = mq_of(r, d);
	e = q ? 0 : -EBADF;
	if (q && !usev) {
		if (q->notify_pid == proc.pid)
			q->notify_pid = 0;
	} else if (q && q->notify_pid &&
		   (q->notify_pid == proc.pid ||
		    abi->process_control(MOAT_PROC_SIGNAL, q->notify_pid, 0) == 0)) {
		e = -EBUSY;
	} else if (q) {
		q->notify_pid = proc.pid;
		q->notify_sig = ev.signo;
		q->notify_none = ev.notify == SIGEV_NONE;
		q->notify_value = ev.value;
	}
	ipc_unlock(r);
	return e;
}

long sys_mq_getsetattr(int fd, const struct l_mq_attr *unew, struct l_mq_attr *uold)
{
	struct l_mq_attr a, old = { 0 };
	if (unew) {
		if (copy_from_user(&a, unew, sizeof(a)) < 0)
			return -EFAULT;
		if (a.mq_flags & ~(int64_t)O_NONBLOCK_K)
			return -EINVAL;
	}
	struct file *f = NULL;
	struct mqd *d = mqd_of(fd, 0, &f);
	if (!d)
		return -EBADF;
	long e;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r)
		return e;
	struct ipc_mq *q = mq_of(r, d);
	if (q) {
		memset(&old, 0, sizeof(old));
		old.mq_flags = f->flags & O_NONBLOCK_K;
		old.mq_maxmsg = q->maxmsg;
		old.mq_msgsize = q->msgsize;
		old.mq_curmsgs = q->curmsgs;
	}
	ipc_unlock(r);
	if (!q)
		return -EBADF;
	if (uold && copy_to_user(uold, &old, sizeof(old)) < 0)
		return -EFAULT;
	if (unew)
		f->flags = (f->flags & ~O_NONBLOCK_K) | (int)(a.mq_flags & O_NONBLOCK_K);
	return 0;
}

/* --- process hooks (ipc.c) --- */

/* A forked child holds its parent's descriptions too. */
void mq_after_fork(void)
{
	long e;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r)
		return;
	for (struct mqd *d = open_list; d; d = d->next) {
		struct ipc_mq *q = mq_of(r, d);
		if (q)
			q->opens++;
	}
	ipc_unlock(r);
}

/* At exit the descriptions close. */
void mq_close_all(void)
{
	long e;
	struct ipc_registry *r = ipc_lock(&e);
	if (!r)
		return;
	for (struct mqd *d = open_list; d; d = d->next) {
		struct ipc_mq *q = mq_of(r, d);
		if (q)
			mq_drop(q, d->slot);
	}
	open_list = NULL;
	ipc_unlock(r);
}
