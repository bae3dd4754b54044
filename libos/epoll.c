/*
 * epoll.c -- epoll, eventfd, timerfd and signalfd.
 *
 * An epoll instance is its interest list; epoll_wait is a poll over it
 * (poll.c), so readiness means exactly what poll says.  Every event is
 * level-triggered: EPOLLET is accepted and behaves as level-triggered,
 * which wakes an edge-triggered program more often but never misses an
 * event.  EPOLLONESHOT disarms an entry after it reports.
 *
 * An eventfd is a counter plus a PAL notification event that is set while
 * the counter is non-zero, so poll and blocking reads can sleep on it.
 * A timerfd is a deadline: readable once its clock passes it, and poll
 * sleeps no later than that.  A signalfd is a signal mask: reading it
 * takes pending signals in the mask (the app blocks them, so they are not
 * delivered to handlers), and poll sleeps on the LibOS's signal
 * notification event, set on every post.
 *
 * An entry belongs to the open file the fd named when it was added: once
 * that fd is closed (or names another file), the entry is gone, as Linux
 * drops a closed file from every epoll set.  (Linux keeps it while a dup
 * of the fd still holds the file; here the fd number decides.)
 *
 * All four live in the process's memory: after fork, parent and child
 * each have their own copy (unlike Linux, where they share the object).
 */
#include "libos.h"

#define EPOLLIN_K 0x001
#define EPOLLOUT_K 0x004
#define EPOLLERR_K 0x008
#define EPOLLHUP_K 0x010
#define EPOLLONESHOT_K (1u << 30)
#define EPOLLET_K (1u << 31)
#define MAX_INTEREST 1024

struct kepoll_event {
	uint32_t events;
	uint64_t data;
} __attribute__((packed));

struct interest {
	int fd;
	uint32_t events;
	uint64_t data;
	uint64_t serial;   /* fs_file_serial of fd at EPOLL_CTL_ADD */
	int disabled;      /* EPOLLONESHOT fired */
};

struct epoll {
	struct interest *items;
	int n, cap;
};

struct eventfd {
	uint64_t count;
	int semaphore;
	moat_handle ready;   /* notification event: set while count > 0 */
};

struct timerfd {
	uint32_t clock;      /* MOAT_CLOCK_* */
	int64_t next;        /* next expiry, ns on that clock; 0 disarmed */
	int64_t interval;
	uint64_t pending;    /* expirations not read yet, counted at re-arm */
};

struct signalfd {
	uint64_t mask;
};

static long timerfd_read(struct timerfd *t, int flags, void *buf, size_t len);
static long signalfd_read(struct signalfd *sfd, int flags, void *buf, size_t len);
static long eventfd_read(struct eventfd *e, int flags, void *buf, size_t len);
static long eventfd_write(struct eventfd *e, const void *buf, size_t len);

void lobj_release(enum lobj kind, void *obj)
{
	if (kind == OBJ_EVENTFD)
		abi->object_close(((struct eventfd *)obj)->ready);
	else if (kind == OBJ_EPOLL)
		kfree(((struct epoll *)obj)->items);
	kfree(obj);
}

/* Monotonic time at which a timer on 'clock' reaches 'at'. */
static int64_t monotonic_of(uint32_t clock, int64_t at)
{
	if (clock == MOAT_CLOCK_MONOTONIC)
		return at;
	return at - abi->system_time(MOAT_CLOCK_REALTIME) +
	       abi->system_time(MOAT_CLOCK_MONOTONIC);
}

short lobj_poll(enum lobj kind, void *obj, short events, moat_handle *h,
		int64_t *wake_at)
{
	if (kind == OBJ_EVENTFD) {
		struct eventfd *e = obj;
		*h = e->ready;
		return (short)((e->count ? events & EPOLLIN_K : 0) |
			       (e->count < ~0ULL - 1 ? events & EPOLLOUT_K : 0));
	}
	if (kind == OBJ_TIMERFD) {
		struct timerfd *t = obj;
		if (t->pending || (t->next && abi->system_time(t->clock) >= t->next))
			return events & EPOLLIN_K;
		if (t->next) {
			int64_t m = monotonic_of(t->clock, t->next);
			if (*wake_at < 0 || m < *wake_at)
				*wake_at = m;
		}
		return 0;
	}
	if (kind == OBJ_SIGNALFD) {
		struct signalfd *sfd = obj;
		*h = signal_notify_handle();
		if (signal_pending_set() & sfd->mask)
			return events & EPOLLIN_K;
		/* Clear, then look again: a post after the clear sets it anew. */
		abi->event_clear(*h);
		return signal_pending_set() & sfd->mask ? events & EPOLLIN_K : 0;
	}
	return 0; /* an epoll inside poll or epoll: never ready (rare) */
}

long lobj_read(enum lobj kind, void *obj, int flags, void *buf, size_t len)
{
	if (kind == OBJ_EVENTFD)
		return eventfd_read(obj, flags, buf, len);
	if (kind == OBJ_TIMERFD)
		return timerfd_read(obj, flags, buf, len);
	if (kind == OBJ_SIGNALFD)
		return signalfd_read(obj, flags, buf, len);
	return -EINVAL;
}

long lobj_write(enum lobj kind, void *obj, const void *buf, size_t len)
{
	return kind == OBJ_EVENTFD ? eventfd_write(obj, buf, len) : -EINVAL;
}

long sys_epoll_create1(int flags)
{
	if (flags & ~02000000)
		return -EINVAL;
	struct epoll *ep = kzalloc(sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	long fd = fs_install_obj(OBJ_EPOLL, ep, 2 /* O_RDWR */, !!(flags & 02000000));
	if (fd < 0)
		kfree(ep);
	return fd;
}

long sys_epoll_create(int size)
{
	return size <= 0 ? -EINVAL : sys_epoll_create1(0);
}

/* Forget entries whose file has been closed. */
static void prune(struct epoll *ep)
{
	for (int i = 0; i < ep->n;)
		if (fs_file_serial(ep->items[i].fd) != ep->items[i].serial)
			ep->items[i] = ep->items[--ep->n];
		else
			i++;
}

static struct interest *find(struct epoll *ep, int fd)
{
	prune(ep);
	for (int i = 0; i < ep->n; i++)
		if (ep->items[i].fd == fd)
			return &ep->items[i];
	return NULL;
}

long sys_epoll_ctl(int epfd, int op, int fd, const struct kepoll_event *ev)
{
	struct epoll *ep = fs_obj(epfd, OBJ_EPOLL, NULL);
	moat_handle h;
	if (!ep)
		return -EBADF;
	if (fd == epfd)
		return -EINVAL;
	int64_t wake = -1;
	if (fs_poll(fd, 0, &h, &wake) == 0x020)
		return -EBADF;
	struct interest *it = find(ep, fd);
	switch (op) {
	case 1: /* EPOLL_CTL_ADD */
		if (it)
			return -EEXIST;
		if (ep->n == ep->cap) {
			int cap = ep->cap ? ep->cap * 2 : 8;
			if (cap > MAX_INTEREST)
				return -ENOSPC;
			struct interest *items = kmalloc((size_t)cap * sizeof(*items));
			if (!items)
				return -ENOMEM;
			memcpy(items, ep->items, (size_t)ep->n * sizeof(*items));
			kfree(ep->items);
			ep->items = items;
			ep->cap = cap;
		}
		ep->items[ep->n++] = (struct interest){ fd, ev->events, ev->data,
							fs_file_serial(fd), 0 };
		return 0;
	case 2: /* EPOLL_CTL_DEL */
		if (!it)
			return -ENOENT;
		*it = ep->items[--ep->n];
		return 0;
	case 3: /* EPOLL_CTL_MOD */
		if (!it)
			return -ENOENT;
		*it = (struct interest){ fd, ev->events, ev->data, it->serial, 0 };
		return 0;
	default:
		return -EINVAL;
	}
}

long sys_epoll_pwait(int epfd, struct kepoll_event *out, int max, int timeout_ms,
		     const uint64_t *mask, size_t setsize)
{
	struct epoll *ep = fs_obj(epfd, OBJ_EPOLL, NULL);
	if (!ep)
		return -EBADF;
	if (max <= 0)
		return -EINVAL;
	if (mask && setsize != 8)
		return -EINVAL;
	prune(ep);
	struct kpollfd *fds = kmalloc((size_t)(ep->n ? ep->n : 1) * sizeof(*fds));
	int *which = kmalloc((size_t)(ep->n ? ep->n : 1) * sizeof(int));
	unsigned n = 0;
	long r = -ENOMEM;
	if (!fds || !which)
		goto out;
	for (int i = 0; i < ep->n; i++) {
		if (ep->items[i].disabled)
			continue;
		fds[n] = (struct kpollfd){ ep->items[i].fd,
					   (short)(ep->items[i].events & 0xffff), 0 };
		which[n++] = i;
	}
	struct thread_sig *ts = thread_sig();
	if (mask) {
		ts->saved = ts->blocked;
		ts->has_saved = 1;
		ts->blocked = *mask & ~((1ULL << 8) | (1ULL << 18));
	}
	r = poll_wait(fds, n, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
	if (mask && r != -ERESTARTNOHAND) {
		ts->blocked = ts->saved;
		ts->has_saved = 0;
	}
	if (r == -ERESTARTNOHAND)
		r = -EINTR; /* epoll_wait is never restarted */
	if (r <= 0)
		goto out;
	int got = 0;
	for (unsigned i = 0; i < n && got < max; i++) {
		if (!fds[i].revents)
			continue;
		struct interest *it = &ep->items[which[i]];
		uint32_t ev = (uint32_t)(unsigned short)fds[i].revents;
		if (ev & 0x020) /* POLLNVAL: the fd was closed; Linux drops it */
			continue;
		out[got++] = (struct kepoll_event){ ev & (it->events | EPOLLERR_K | EPOLLHUP_K),
						    it->data };
		if (it->events & EPOLLONESHOT_K)
			it->disabled = 1;
	}
	r = got;
out:
	kfree(fds);
	kfree(which);
	return r;
}

struct ktimespec_e { long sec, nsec; };

/* epoll_pwait2: the timeout as a timespec; waits are in whole
 * milliseconds here, rounded up so that it never returns early. */
long sys_epoll_pwait2(int epfd, struct kepoll_event *out, int max,
		      const struct ktimespec_e *t, const uint64_t *mask, size_t setsize)
{
	int ms = -1;
	if (t) {
		if (t->sec < 0 || t->nsec < 0 || t->nsec >= 1000000000)
			return -EINVAL;
		long long total = (long long)t->sec * 1000 + (t->nsec + 999999) / 1000000;
		ms = total > 0x7fffffff ? 0x7fffffff : (int)total;
	}
	return sys_epoll_pwait(epfd, out, max, ms, mask, setsize);
}

long sys_epoll_wait(int epfd, struct kepoll_event *out, int max, int timeout_ms)
{
	return sys_epoll_pwait(epfd, out, max, timeout_ms, NULL, 8);
}

/* --- eventfd --- */

long sys_eventfd2(unsigned initval, int flags)
{
	if (flags & ~(02000000 | 04000 | 1))
		return -EINVAL;
	struct eventfd *e = kzalloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	long ev = abi->event_create(MOAT_EVENT_NOTIFICATION, initval != 0);
	if (ev < 0) {
		kfree(e);
		return ev;
	}
	e->count = initval;
	e->semaphore = flags & 1;
	e->ready = (moat_handle)ev;
	long fd = fs_install_obj(OBJ_EVENTFD, e, 2 /* O_RDWR */ | (flags & 04000),
				 !!(flags & 02000000));
	if (fd < 0)
		lobj_release(OBJ_EVENTFD, e);
	return fd;
}

long sys_eventfd(unsigned initval)
{
	return sys_eventfd2(initval, 0);
}

static long eventfd_read(struct eventfd *e, int flags, void *buf, size_t len)
{
	if (len < 8)
		return -EINVAL;
	while (!e->count) {
		if (flags & 04000 /* O_NONBLOCK */)
			return -EAGAIN;
		long r = abi->objects_wait_any(1, &e->ready, MOAT_WAIT_FOREVER);
		if (r == -EINTR)
			return -ERESTARTSYS;
	}
	uint64_t v = e->semaphore ? 1 : e->count;
	e->count -= v;
	if (!e->count)
		abi->event_clear(e->ready);
	memcpy(buf, &v, 8);
	return 8;
}

static long eventfd_write(struct eventfd *e, const void *buf, size_t len)
{
	uint64_t v;
	if (len < 8)
		return -EINVAL;
	memcpy(&v, buf, 8);
	if (v == ~0ULL || e->count + v < e->count || e->count + v == ~0ULL)
		return -EAGAIN; /* would overflow; Linux blocks, we refuse */
	e->count += v;
	if (e->count)
		abi->event_set(e->ready);
	return 8;
}

/* --- timerfd --- */

struct kitimerspec { int64_t isec, insec, vsec, vnsec; };

long sys_timerfd_create(int clock, int flags)
{
	if ((clock != 0 && clock != 1 && clock != 7 && clock != 8) ||
	    (flags & ~(02000000 | 04000)))
		return -EINVAL;
	struct timerfd *t = kzalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->clock = clock == 0 || clock == 8 ? MOAT_CLOCK_REALTIME : MOAT_CLOCK_MONOTONIC;
	long fd = fs_install_obj(OBJ_TIMERFD, t, flags & 04000, !!(flags & 02000000));
	if (fd < 0)
		kfree(t);
	return fd;
}

/* Count expirations up to now and move 'next' past them. */
static void timerfd_catch_up(struct timerfd *t)
{
	int64_t now = abi->system_time(t->clock);
	if (!t->next || now < t->next)
		return;
	if (t->interval) {
		uint64_t n = 1 + (uint64_t)((now - t->next) / t->interval);
		t->pending += n;
		t->next += (int64_t)n * t->interval;
	} else {
		t->pending++;
		t->next = 0;
	}
}

static void timerfd_get(struct timerfd *t, struct kitimerspec *cur)
{
	int64_t left = t->next ? t->next - abi->system_time(t->clock) : 0;
	if (t->next && left < 1)
		left = 1;
	*cur = (struct kitimerspec){ t->interval / 1000000000, t->interval % 1000000000,
				     left / 1000000000, left % 1000000000 };
}

long sys_timerfd_settime(int fd, int flags, const struct kitimerspec *nv,
			 struct kitimerspec *old)
{
	struct timerfd *t = fs_obj(fd, OBJ_TIMERFD, NULL);
	if (!t)
		return -EBADF;
	if (nv->insec < 0 || nv->insec >= 1000000000 || nv->vnsec < 0 ||
	    nv->vnsec >= 1000000000 || nv->isec < 0 || nv->vsec < 0)
		return -EINVAL;
	timerfd_catch_up(t);
	if (old)
		timerfd_get(t, old);
	int64_t value = nv->vsec * 1000000000 + nv->vnsec;
	t->interval = nv->isec * 1000000000 + nv->insec;
	t->pending = 0;
	if (!value)
		t->next = 0;
	else
		t->next = flags & 1 /* TFD_TIMER_ABSTIME */ ? value
			  : abi->system_time(t->clock) + value;
	return 0;
}

long sys_timerfd_gettime(int fd, struct kitimerspec *cur)
{
	struct timerfd *t = fs_obj(fd, OBJ_TIMERFD, NULL);
	if (!t)
		return -EBADF;
	timerfd_catch_up(t);
	timerfd_get(t, cur);
	return 0;
}

static long timerfd_read(struct timerfd *t, int flags, void *buf, size_t len)
{
	if (len < 8)
		return -EINVAL;
	for (;;) {
		timerfd_catch_up(t);
		if (t->pending)
			break;
		if (!t->next || (flags & 04000 /* O_NONBLOCK */))
			return -EAGAIN;
		int64_t left = t->next - abi->system_time(t->clock);
		if (left > 0 && abi->thread_delay((uint64_t)left) == -EINTR)
			return -ERESTARTSYS;
	}
	memcpy(buf, &t->pending, 8);
	t->pending = 0;
	return 8;
}

/* --- signalfd --- */

/* struct signalfd_siginfo of <sys/signalfd.h>. */
struct ksignalfd_siginfo {
	uint32_t signo;
	int32_t errno_, code;
	uint32_t pid, uid;
	int32_t fd;
	uint32_t tid, band, overrun, trapno;
	int32_t status, int_;
	uint64_t ptr, utime, stime, addr;
	uint16_t addr_lsb, pad2;
	int32_t syscall;
	uint64_t call_addr;
	uint32_t arch;
	uint8_t pad[28];
};
_Static_assert(sizeof(struct ksignalfd_siginfo) == 128, "signalfd_siginfo");

/* The siginfo fields a signalfd reports, by the layout Linux gives sig. */
static void to_signalfd_info(const uint8_t *si, struct ksignalfd_siginfo *out)
{
	int32_t head[3];
	memcpy(head, si, sizeof(head));
	const uint8_t *u = si + 16; /* the union after signo, errno, code */
	*out = (struct ksignalfd_siginfo){ .signo = (uint32_t)head[0],
					   .errno_ = head[1], .code = head[2] };
	int sig = head[0], code = head[2];
	if (sig == 17 /* SIGCHLD */) {
		memcpy(&out->pid, u, 4);
		memcpy(&out->uid, u + 4, 4);
		memcpy(&out->status, u + 8, 4);
		memcpy(&out->utime, u + 16, 8);
		memcpy(&out->stime, u + 24, 8);
	} else if (code == -2 /* SI_TIMER */) {
		memcpy(&out->tid, u, 4);
		memcpy(&out->overrun, u + 4, 4);
		memcpy(&out->ptr, u + 8, 8);
		memcpy(&out->int_, u + 8, 4);
	} else if (code > 0 && (sig == 4 || sig == 5 || sig == 7 || sig == 8 || sig == 11)) {
		memcpy(&out->addr, u, 8); /* a fault's address */
	} else {
		memcpy(&out->pid, u, 4);  /* kill, tgkill, sigqueue */
		memcpy(&out->uid, u + 4, 4);
		memcpy(&out->ptr, u + 8, 8);
		memcpy(&out->int_, u + 8, 4);
	}
}

#define SFD_FLAGS (02000000 | 04000) /* SFD_CLOEXEC, SFD_NONBLOCK */

long sys_signalfd4(int fd, const uint64_t *mask, size_t size, int flags)
{
	if (size != 8 || (flags & ~SFD_FLAGS))
		return -EINVAL;
	uint64_t m = *mask & ~((1ULL << 8) | (1ULL << 18)); /* never KILL, STOP */
	if (fd != -1) {
		struct signalfd *old = fs_obj(fd, OBJ_SIGNALFD, NULL);
		if (!old)
			return fs_is_open(fd) ? -EINVAL : -EBADF;
		old->mask = m;
		return fd;
	}
	if (signal_notify_handle() == MOAT_NO_HANDLE)
		return -ENOMEM;
	struct signalfd *sfd = kzalloc(sizeof(*sfd));
	if (!sfd)
		return -ENOMEM;
	sfd->mask = m;
	long r = fs_install_obj(OBJ_SIGNALFD, sfd, flags & 04000, !!(flags & 02000000));
	if (r < 0)
		kfree(sfd);
	return r;
}

long sys_signalfd(int fd, const uint64_t *mask, size_t size)
{
	return sys_signalfd4(fd, mask, size, 0);
}

static long signalfd_read(struct signalfd *sfd, int flags, void *buf, size_t len)
{
	size_t n = 0;
	uint8_t si[128];
	if (len < sizeof(struct ksignalfd_siginfo))
		return -EINVAL;
	while (n + sizeof(struct ksignalfd_siginfo) <= len && signal_take(sfd->mask, si)) {
		struct ksignalfd_siginfo out;
		to_signalfd_info(si, &out);
		memcpy((uint8_t *)buf + n, &out, sizeof(out));
		n += sizeof(out);
	}
	if (n)
		return (long)n;
	if (flags & 04000 /* O_NONBLOCK */)
		return -EAGAIN;
	/* Sleep until a signal in the mask is posted; one the thread does not
	 * block interrupts the read, as on Linux. */
	thread_block_until_signal_in(sfd->mask | ~thread_sig()->blocked);
	return -ERESTARTSYS;
}
