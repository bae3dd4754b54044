/*
 * epoll.c -- epoll and eventfd.
 *
 * An epoll instance is its interest list; epoll_wait is a poll over it
 * (poll.c), so readiness means exactly what poll says.  Every event is
 * level-triggered: EPOLLET is accepted and behaves as level-triggered,
 * which wakes an edge-triggered program more often but never misses an
 * event.  EPOLLONESHOT disarms an entry after it reports.
 *
 * An eventfd is a counter plus a PAL notification event that is set while
 * the counter is non-zero, so poll and blocking reads can sleep on it.
 * Both live in the process's memory: after fork, parent and child each
 * have their own copy (unlike Linux, where they share the object).
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

void epoll_release(int is_eventfd, void *obj)
{
	if (is_eventfd) {
		struct eventfd *e = obj;
		abi->object_close(e->ready);
	} else {
		kfree(((struct epoll *)obj)->items);
	}
	kfree(obj);
}

short epoll_obj_poll(int is_eventfd, void *obj, short events, moat_handle *h)
{
	if (!is_eventfd)
		return 0; /* epoll fds inside epoll/poll: never ready (rare) */
	struct eventfd *e = obj;
	*h = e->ready;
	return (short)((e->count ? events & EPOLLIN_K : 0) |
		       (e->count < ~0ULL - 1 ? events & EPOLLOUT_K : 0));
}

long sys_epoll_create1(int flags)
{
	if (flags & ~02000000)
		return -EINVAL;
	struct epoll *ep = kzalloc(sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	long fd = fs_install_obj(0, ep, 2 /* O_RDWR */, !!(flags & 02000000));
	if (fd < 0)
		kfree(ep);
	return fd;
}

long sys_epoll_create(int size)
{
	return size <= 0 ? -EINVAL : sys_epoll_create1(0);
}

static struct interest *find(struct epoll *ep, int fd)
{
	for (int i = 0; i < ep->n; i++)
		if (ep->items[i].fd == fd)
			return &ep->items[i];
	return NULL;
}

long sys_epoll_ctl(int epfd, int op, int fd, const struct kepoll_event *ev)
{
	struct epoll *ep = fs_obj(epfd, 0, NULL);
	moat_handle h;
	if (!ep)
		return -EBADF;
	if (fd == epfd)
		return -EINVAL;
	if (fs_poll(fd, 0, &h) == 0x020)
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
		ep->items[ep->n++] = (struct interest){ fd, ev->events, ev->data, 0 };
		return 0;
	case 2: /* EPOLL_CTL_DEL */
		if (!it)
			return -ENOENT;
		*it = ep->items[--ep->n];
		return 0;
	case 3: /* EPOLL_CTL_MOD */
		if (!it)
			return -ENOENT;
		*it = (struct interest){ fd, ev->events, ev->data, 0 };
		return 0;
	default:
		return -EINVAL;
	}
}

long sys_epoll_pwait(int epfd, struct kepoll_event *out, int max, int timeout_ms,
		     const uint64_t *mask, size_t setsize)
{
	struct epoll *ep = fs_obj(epfd, 0, NULL);
	if (!ep)
		return -EBADF;
	if (max <= 0)
		return -EINVAL;
	if (mask && setsize != 8)
		return -EINVAL;
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
	long fd = fs_install_obj(1, e, 2 /* O_RDWR */ | (flags & 04000), !!(flags & 02000000));
	if (fd < 0)
		epoll_release(1, e);
	return fd;
}

long sys_eventfd(unsigned initval)
{
	return sys_eventfd2(initval, 0);
}

long eventfd_read(void *obj, int flags, void *buf, size_t len)
{
	struct eventfd *e = obj;
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

long eventfd_write(void *obj, const void *buf, size_t len)
{
	struct eventfd *e = obj;
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
