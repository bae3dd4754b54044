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

long sys_poll(struct l_pollfd *fds, unsigned n, int timeout_ms)
{
	return poll_wait(fds, n, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
}

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

struct ppoll_args { struct l_pollfd *fds; unsigned n; int64_t ns; };

static long ppoll_fn(void *p)
{
	struct ppoll_args *a = p;
	return poll_wait(a->fds, a->n, a->ns);
}

long sys_ppoll(struct l_pollfd *fds, unsigned n, const struct l_timespec *ts,
	       const uint64_t *mask, size_t setsize)
{
	if (mask && setsize != 8)
		return -EINVAL;
	struct ppoll_args a = { fds, n, ts ? ts->tv_sec * 1000000000L + ts->tv_nsec : -1 };
	return with_mask(mask, ppoll_fn, &a);
}

/* --- select --- */

struct select_args {
	int n;
	uint64_t *rd, *wr, *ex;
	int64_t ns;
};

static long select_fn(void *p)
{
	struct select_args *a = p;
	struct l_pollfd *fds = kmalloc((size_t)a->n * sizeof(*fds));
	unsigned count = 0;
	if (!fds)
		return -ENOMEM;
	for (int fd = 0; fd < a->n; fd++) {
		short ev = 0;
		uint64_t bit = 1ULL << (fd % 64);
		if (a->rd && (a->rd[fd / 64] & bit))
			ev |= POLLIN;
		if (a->wr && (a->wr[fd / 64] & bit))
			ev |= POLLOUT;
		if (ev)
			fds[count++] = (struct l_pollfd){ fd, ev, 0 };
	}
	long r = poll_wait(fds, count, a->ns);
	if (r >= 0) {
		int bits = 0;
		for (int w = 0; w < (a->n + 63) / 64; w++) {
			if (a->rd) a->rd[w] = 0;
			if (a->wr) a->wr[w] = 0;
			if (a->ex) a->ex[w] = 0;
		}
		for (unsigned i = 0; i < count; i++) {
			uint64_t bit = 1ULL << (fds[i].fd % 64);
			if (fds[i].revents & POLLNVAL) {
				r = -EBADF;
				break;
			}
			if (a->rd && (fds[i].revents & (POLLIN | POLLHUP)))
				a->rd[fds[i].fd / 64] |= bit, bits++;
			if (a->wr && (fds[i].revents & POLLOUT))
				a->wr[fds[i].fd / 64] |= bit, bits++;
		}
		if (r >= 0)
			r = bits;
	}
	kfree(fds);
	return r;
}

long sys_select(int n, uint64_t *rd, uint64_t *wr, uint64_t *ex, long *tv)
{
	if (n < 0 || n > LIBOS_MAX_FDS)
		return -EINVAL;
	struct select_args a = { n, rd, wr, ex, tv ? tv[0] * 1000000000L + tv[1] * 1000 : -1 };
	return select_fn(&a);
}

long sys_pselect6(int n, uint64_t *rd, uint64_t *wr, uint64_t *ex,
		  const struct l_timespec *ts, const uint64_t *sigdata)
{
	if (n < 0 || n > LIBOS_MAX_FDS)
		return -EINVAL;
	struct select_args a = { n, rd, wr, ex, ts ? ts->tv_sec * 1000000000L + ts->tv_nsec : -1 };
	const uint64_t *mask = sigdata && sigdata[0] ? (const uint64_t *)sigdata[0] : NULL;
	return with_mask(mask, select_fn, &a);
}
