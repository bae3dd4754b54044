/*
 * epoll.c -- epoll instances.
 *
 * An epoll instance is its interest list; epoll_wait is a poll over it
 * (poll.c), so readiness means exactly what poll says.  Every event is
 * level-triggered: EPOLLET is accepted and behaves as level-triggered,
 * which wakes an edge-triggered program more often but never misses an
 * event.  EPOLLONESHOT disarms an entry after it reports.
 *
 * An entry belongs to the open file the fd named when it was added: once
 * that fd is closed (or names another file), the entry is gone, as Linux
 * drops a closed file from every epoll set.  (Linux keeps it while a dup
 * of the fd still holds the file; here the fd number decides.)
 *
 * An instance lives in the process's memory: after fork, parent and child
 * each have their own copy (unlike Linux, where they share the object).
 */
#include "file.h"
#include "linux_abi.h"
#include "uaccess.h"

#define EPOLLIN_K 0x001
#define EPOLLOUT_K 0x004
#define EPOLLERR_K 0x008
#define EPOLLHUP_K 0x010
#define EPOLLONESHOT_K (1u << 30)
#define EPOLLET_K (1u << 31)
#define MAX_INTEREST 1024
#define MAX_NESTS 4 /* Linux's EP_MAX_NESTS: epolls inside epolls */

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

/* An epoll inside poll or epoll: never ready (rare). */
static short epoll_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at)
{
	(void)f, (void)events, (void)h, (void)wake_at;
	return 0;
}

static void epoll_release(struct file *f)
{
	struct epoll *ep = f->priv;
	kfree(ep->items);
	kfree(ep);
}

static const struct file_ops epoll_ops = {
	.poll = epoll_poll,
	.release = epoll_release,
};

long sys_epoll_create1(int flags)
{
	if (flags & ~02000000)
		return -EINVAL;
	struct epoll *ep = kzalloc(sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	return file_install_obj(&epoll_ops, ep, 2 /* O_RDWR */, !!(flags & 02000000));
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

/* Does the epoll 'from' reach 'target' through epolls it watches, or
 * nest deeper than Linux allows?  (Both are ELOOP.) */
static int reaches(struct epoll *from, struct epoll *target, int depth)
{
	if (from == target || depth > MAX_NESTS)
		return 1;
	prune(from);
	for (int i = 0; i < from->n; i++) {
		struct epoll *inner = fd_priv(from->items[i].fd, &epoll_ops, NULL);
		if (inner && reaches(inner, target, depth + 1))
			return 1;
	}
	return 0;
}

/* The checks in Linux's order: the event is read first (EFAULT), both
 * descriptors must be open (EBADF), the target must support poll
 * (EPERM: a regular file or directory does not), and epfd must be an
 * epoll other than the target (EINVAL). */
long sys_epoll_ctl(int epfd, int op, int fd, const struct l_epoll_event *uev)
{
	struct l_epoll_event e, *ev = &e;
	if ((op == 1 || op == 3) && copy_from_user(&e, uev, sizeof(e)) < 0)
		return -EFAULT;
	struct file *ef = fd_file(epfd), *tf = fd_file(fd);
	if (!ef || !tf)
		return -EBADF;
	if (!tf->ops->poll && (tf->ops->caps & (FILE_CACHED | FILE_DIR)))
		return -EPERM;
	struct epoll *ep = fd_priv(epfd, &epoll_ops, NULL);
	if (!ep || fd == epfd || ef == tf)
		return -EINVAL;
	struct epoll *inner = fd_priv(fd, &epoll_ops, NULL);
	if (op == 1 && inner && reaches(inner, ep, 1))
		return -ELOOP;
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

long sys_epoll_pwait(int epfd, struct l_epoll_event *out, int max, int timeout_ms,
		     const uint64_t *mask, size_t setsize)
{
	struct epoll *ep = fd_priv(epfd, &epoll_ops, NULL);
	if (!ep)
		return fs_is_open(epfd) ? -EINVAL : -EBADF;
	if (max <= 0 || max > 0x7fffffff / (int)sizeof(*out))
		return -EINVAL;
	if (!user_range_ok(out, (size_t)max * sizeof(*out)))
		return -EFAULT;
	uint64_t m = 0;
	if (mask && setsize != 8)
		return -EINVAL;
	if (mask && get_user(&m, mask) < 0)
		return -EFAULT;
	prune(ep);
	struct l_pollfd *fds = kmalloc((size_t)(ep->n ? ep->n : 1) * sizeof(*fds));
	int *which = kmalloc((size_t)(ep->n ? ep->n : 1) * sizeof(int));
	unsigned n = 0;
	long r = -ENOMEM;
	if (!fds || !which)
		goto out;
	for (int i = 0; i < ep->n; i++) {
		if (ep->items[i].disabled)
			continue;
		fds[n] = (struct l_pollfd){ ep->items[i].fd,
					   (short)(ep->items[i].events & 0xffff), 0 };
		which[n++] = i;
	}
	struct thread_sig *ts = thread_sig();
	if (mask) {
		ts->saved = ts->blocked;
		ts->has_saved = 1;
		ts->blocked = m & ~((1ULL << 8) | (1ULL << 18));
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
		struct l_epoll_event e = { ev & (it->events | EPOLLERR_K | EPOLLHUP_K),
					   it->data };
		if (copy_to_user(&out[got], &e, sizeof(e)) < 0) {
			r = got ? got : -EFAULT; /* as Linux: what was stored counts */
			goto out;
		}
		got++;
		if (it->events & EPOLLONESHOT_K)
			it->disabled = 1;
	}
	r = got;
out:
	kfree(fds);
	kfree(which);
	return r;
}

/* epoll_pwait2: the timeout as a timespec; waits are in whole
 * milliseconds here, rounded up so that it never returns early. */
long sys_epoll_pwait2(int epfd, struct l_epoll_event *out, int max,
		      const struct l_timespec *ut, const uint64_t *mask, size_t setsize)
{
	int ms = -1;
	struct l_timespec ts, *t = &ts;
	if (ut && copy_from_user(&ts, ut, sizeof(ts)) < 0)
		return -EFAULT;
	if (ut) {
		if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000)
			return -EINVAL;
		long long total = (long long)t->tv_sec * 1000 + (t->tv_nsec + 999999) / 1000000;
		ms = total > 0x7fffffff ? 0x7fffffff : (int)total;
	}
	return sys_epoll_pwait(epfd, out, max, ms, mask, setsize);
}

long sys_epoll_wait(int epfd, struct l_epoll_event *out, int max, int timeout_ms)
{
	return sys_epoll_pwait(epfd, out, max, timeout_ms, NULL, 8);
}
