/*
 * poll.c -- poll, ppoll, select and pselect6.
 *
 * Files, directories and LibOS devices are always ready.  Pipes,
 * consoles and eventfds are asked through objects_wait_any (fs_poll):
 * with a zero timeout to test each one, then with the caller's timeout
 * over all of them to sleep until one becomes readable or a signal
 * arrives.  Write ends are
 * reported writable (a full pipe then blocks in write, as it may on
 * Linux between poll and write).
 */
#include <linux/poll.h>

#include "libos.h"
#include "linux_abi.h"
#include "uaccess.h"

#define MAX_WAIT 64

/* One pass over the set; returns the count ready, fills hs[] with the
 * handles worth sleeping on and *wake_at with the earliest timer. */
static int scan(struct l_pollfd *fds, unsigned n, moat_handle *hs, unsigned *nh,
		int64_t *wake_at)
{
	int ready = 0;
	*nh = 0;
	*wake_at = -1;
	for (unsigned i = 0; i < n; i++) {
		moat_handle h = MOAT_NO_HANDLE;
		fds[i].revents = fds[i].fd < 0 ? 0
				 : fs_poll(fds[i].fd, fds[i].events, &h, wake_at);
		if (fds[i].revents)
			ready++;
		else if (h != MOAT_NO_HANDLE && *nh < MAX_WAIT)
			hs[(*nh)++] = h;
	}
	return ready;
}

long poll_wait(struct l_pollfd *fds, unsigned n, int64_t timeout_ns)
{
	moat_handle hs[MAX_WAIT];
	unsigned nh;
	int64_t end = timeout_ns < 0 ? -1
		      : abi->system_time(MOAT_CLOCK_MONOTONIC) + timeout_ns;
	if (n > LIBOS_MAX_FDS)
		return -EINVAL;
	for (;;) {
		int64_t wake_at;
		int ready = scan(fds, n, hs, &nh, &wake_at);
		if (ready || timeout_ns == 0)
			return ready;
		int64_t now = abi->system_time(MOAT_CLOCK_MONOTONIC), left = -1;
		if (end >= 0) {
			left = end - now;
			if (left <= 0)
				return 0;
		}
		if (wake_at >= 0 && (left < 0 || wake_at - now < left))
			left = wake_at > now ? wake_at - now : 0; /* a timerfd fires */
		long r;
		if (nh)
			r = abi->objects_wait_any(nh, hs, left < 0 ? MOAT_WAIT_FOREVER : left);
		else if (left >= 0)
			r = left ? abi->thread_delay((uint64_t)left) : 0;
		else
			r = (thread_block_until_signal(), -EINTR);
		if (r == -EINTR)
			return -ERESTARTNOHAND;
	}
}

/* poll and ppoll: the array is copied into the LibOS, and revents back. */
static long user_poll(struct l_pollfd *ufds, unsigned n, int64_t ns)
{
	if (n > LIBOS_MAX_FDS)
		return -EINVAL;
	struct l_pollfd *fds = kmalloc((n ? n : 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	long r = copy_from_user(fds, ufds, n * sizeof(*fds));
	if (r == 0)
		r = poll_wait(fds, n, ns);
	if (r >= 0 && copy_to_user(ufds, fds, n * sizeof(*fds)) < 0)
		r = -EFAULT;
	kfree(fds);
	return r;
}

long sys_poll(struct l_pollfd *fds, unsigned n, int timeout_ms)
{
	return user_poll(fds, n, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
}

/* Run fn with the signal mask *mask (NULL: unchanged) for its length. */
static long with_mask(const uint64_t *mask, long (*fn)(void *), void *arg)
{
	struct thread_sig *ts = thread_sig();
	if (mask) {
		ts->saved = ts->blocked;
		ts->has_saved = 1;
		ts->blocked = *mask & ~((1ULL << 8) | (1ULL << 18));
	}
	long r = fn(arg);
	if (mask && r != -ERESTARTNOHAND) {
		ts->blocked = ts->saved; /* no signal: the old mask comes back now */
		ts->has_saved = 0;
	}
	return r;
}

/* A timeout the app gave (NULL: none, -1 ns): 0, -EFAULT or -EINVAL. */
static long timeout_ns(const struct l_timespec *uts, int64_t *ns)
{
	struct l_timespec ts;
	*ns = -1;
	if (!uts)
		return 0;
	if (copy_from_user(&ts, uts, sizeof(ts)) < 0)
		return -EFAULT;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
		return -EINVAL;
	*ns = ts.tv_sec > 0x7fffffffffffffffLL / 1000000000 - 1 ? -1
	      : ts.tv_sec * 1000000000 + ts.tv_nsec;
	return 0;
}

struct ppoll_args { struct l_pollfd *fds; unsigned n; int64_t ns; };

static long ppoll_fn(void *p)
{
	struct ppoll_args *a = p;
	return user_poll(a->fds, a->n, a->ns);
}

long sys_ppoll(struct l_pollfd *fds, unsigned n, const struct l_timespec *ts,
	       const uint64_t *umask, size_t setsize)
{
	uint64_t mask;
	if (umask && setsize != 8)
		return -EINVAL;
	if (umask && get_user(&mask, umask) < 0)
		return -EFAULT;
	struct ppoll_args a = { fds, n, -1 };
	long r = timeout_ns(ts, &a.ns);
	return r < 0 ? r : with_mask(umask ? &mask : NULL, ppoll_fn, &a);
}

/* --- select --- */

/* The three sets in the LibOS, copied in from the app and back out. */
struct select_args {
	int n;
	uint64_t *urd, *uwr, *uex;
	uint64_t rd[LIBOS_MAX_FDS / 64 + 1], wr[LIBOS_MAX_FDS / 64 + 1],
		 ex[LIBOS_MAX_FDS / 64 + 1];
	int64_t ns;
};

static long sets_copy(struct select_args *a, int out)
{
	size_t bytes = (size_t)(a->n + 63) / 64 * 8;
	uint64_t *u[3] = { a->urd, a->uwr, a->uex }, *k[3] = { a->rd, a->wr, a->ex };
	for (int i = 0; i < 3; i++) {
		if (!u[i])
			continue;
		long r = out ? copy_to_user(u[i], k[i], bytes) : copy_from_user(k[i], u[i], bytes);
		if (r < 0)
			return -EFAULT;
	}
	return 0;
}

static long select_fn(void *p)
{
	struct select_args *a = p;
	struct l_pollfd *fds = kmalloc((size_t)(a->n ? a->n : 1) * sizeof(*fds));
	unsigned count = 0;
	if (!fds)
		return -ENOMEM;
	for (int fd = 0; fd < a->n; fd++) {
		short ev = 0;
		uint64_t bit = 1ULL << (fd % 64);
		if (a->urd && (a->rd[fd / 64] & bit))
			ev |= POLLIN;
		if (a->uwr && (a->wr[fd / 64] & bit))
			ev |= POLLOUT;
		/* Nothing here has urgent data: an fd only in the exception
		 * set is checked, not waited on. */
		if (!ev && a->uex && (a->ex[fd / 64] & bit) && !fs_is_open(fd)) {
			kfree(fds);
			return -EBADF;
		}
		if (ev)
			fds[count++] = (struct l_pollfd){ fd, ev, 0 };
	}
	long r = poll_wait(fds, count, a->ns);
	if (r >= 0) {
		int bits = 0;
		memset(a->rd, 0, sizeof(a->rd));
		memset(a->wr, 0, sizeof(a->wr));
		memset(a->ex, 0, sizeof(a->ex));
		for (unsigned i = 0; i < count; i++) {
			uint64_t bit = 1ULL << (fds[i].fd % 64);
			if (fds[i].revents & POLLNVAL) {
				r = -EBADF;
				break;
			}
			if (a->urd && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				a->rd[fds[i].fd / 64] |= bit, bits++;
			if (a->uwr && (fds[i].revents & (POLLOUT | POLLERR)))
				a->wr[fds[i].fd / 64] |= bit, bits++;
		}
		if (r >= 0)
			r = bits;
	}
	kfree(fds);
	if (r >= 0 && sets_copy(a, 1) < 0)
		r = -EFAULT;
	return r;
}

/* The sets are read before the wait (EFAULT before any sleep). */
static long select_common(struct select_args *a, uint64_t *rd, uint64_t *wr, uint64_t *ex,
			  const uint64_t *mask)
{
	if (a->n < 0)
		return -EINVAL;
	if (a->n > LIBOS_MAX_FDS)
		a->n = LIBOS_MAX_FDS; /* Linux caps n at the table's size */
	a->urd = rd, a->uwr = wr, a->uex = ex;
	if (sets_copy(a, 0) < 0)
		return -EFAULT;
	return with_mask(mask, select_fn, a);
}

long sys_select(int n, uint64_t *rd, uint64_t *wr, uint64_t *ex, long *utv)
{
	struct select_args *a = kzalloc(sizeof(*a));
	long tv[2];
	if (!a)
		return -ENOMEM;
	a->n = n;
	a->ns = -1;
	long r = 0;
	if (utv && copy_from_user(tv, utv, sizeof(tv)) < 0)
		r = -EFAULT;
	else if (utv && (tv[0] < 0 || tv[1] < 0))
		r = -EINVAL;
	else if (utv && (uint64_t)tv[0] + (uint64_t)(tv[1] / 1000000) < 9000000000ULL)
		a->ns = (tv[0] + tv[1] / 1000000) * 1000000000L + tv[1] % 1000000 * 1000;
	if (r == 0)
		r = select_common(a, rd, wr, ex, NULL);
	kfree(a);
	return r;
}

long sys_pselect6(int n, uint64_t *rd, uint64_t *wr, uint64_t *ex,
		  const struct l_timespec *ts, const uint64_t *usigdata)
{
	struct select_args *a = kzalloc(sizeof(*a));
	uint64_t sigdata[2] = { 0, 0 }, mask = 0;
	if (!a)
		return -ENOMEM;
	a->n = n;
	long r = timeout_ns(ts, &a->ns);
	if (r == 0 && usigdata && copy_from_user(sigdata, usigdata, sizeof(sigdata)) < 0)
		r = -EFAULT;
	if (r == 0 && sigdata[0] && sigdata[1] != 8)
		r = -EINVAL;
	if (r == 0 && sigdata[0] && get_user(&mask, (const uint64_t *)sigdata[0]) < 0)
		r = -EFAULT;
	if (r == 0)
		r = select_common(a, rd, wr, ex, sigdata[0] ? &mask : NULL);
	kfree(a);
	return r;
}
