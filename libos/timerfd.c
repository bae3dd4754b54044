/*
 * timerfd.c -- a deadline: readable once its clock passes it, and poll
 * sleeps no later than that.  Expirations are counted when read or
 * re-armed, from the clock, so nothing runs while nobody looks.
 *
 * It lives in the process's memory: after fork, parent and child each
 * have their own copy (unlike Linux, where they share the object).
 */
#include "file.h"
#include "uaccess.h"
#include "linux_abi.h"

struct timerfd {
	uint32_t clock;      /* MOAT_CLOCK_* */
	int64_t next;        /* next expiry, ns on that clock; 0 disarmed */
	int64_t interval;
	uint64_t pending;    /* expirations not read yet, counted at re-arm */
};

/* Monotonic time at which a timer on 'clock' reaches 'at'. */
static int64_t monotonic_of(uint32_t clock, int64_t at)
{
	if (clock == MOAT_CLOCK_MONOTONIC)
		return at;
	return at - abi->system_time(MOAT_CLOCK_REALTIME) +
	       abi->system_time(MOAT_CLOCK_MONOTONIC);
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

static void timerfd_get(struct timerfd *t, struct l_itimerspec *cur)
{
	int64_t left = t->next ? t->next - abi->system_time(t->clock) : 0;
	if (t->next && left < 1)
		left = 1;
	*cur = (struct l_itimerspec){ { t->interval / 1000000000, t->interval % 1000000000 },
				      { left / 1000000000, left % 1000000000 } };
}

static long timerfd_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)at;
	struct timerfd *t = f->priv;
	if (len < 8)
		return -EINVAL;
	for (;;) {
		timerfd_catch_up(t);
		if (t->pending)
			break;
		if (!t->next || (f->flags & 04000 /* O_NONBLOCK */))
			return -EAGAIN;
		int64_t left = t->next - abi->system_time(t->clock);
		if (left > 0 && abi->thread_delay((uint64_t)left) == -EINTR)
			return -ERESTARTSYS;
	}
	if (copy_to_user(buf, &t->pending, 8) < 0)
		return -EFAULT;
	t->pending = 0;
	return 8;
}

static short timerfd_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at)
{
	(void)h;
	struct timerfd *t = f->priv;
	if (t->pending || (t->next && abi->system_time(t->clock) >= t->next))
		return events & 0x001 /* POLLIN */;
	if (t->next) {
		int64_t m = monotonic_of(t->clock, t->next);
		if (*wake_at < 0 || m < *wake_at)
			*wake_at = m;
	}
	return 0;
}

static void timerfd_release(struct file *f)
{
	kfree(f->priv);
}

static const struct file_ops timerfd_ops = {
	.read = timerfd_read,
	.poll = timerfd_poll,
	.release = timerfd_release,
};

long sys_timerfd_create(int clock, int flags)
{
	if ((clock != 0 && clock != 1 && clock != 7 && clock != 8) ||
	    (flags & ~(02000000 | 04000)))
		return -EINVAL;
	struct timerfd *t = kzalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->clock = clock == 0 || clock == 8 ? MOAT_CLOCK_REALTIME : MOAT_CLOCK_MONOTONIC;
	return file_install_obj(&timerfd_ops, t, flags & 04000, !!(flags & 02000000));
}

long sys_timerfd_settime(int fd, int flags, const struct l_itimerspec *unv,
			 struct l_itimerspec *uold)
{
	struct l_itimerspec v, o, *nv = &v;
	if (flags & ~3 /* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */)
		return -EINVAL;
	if (copy_from_user(&v, unv, sizeof(v)) < 0)
		return -EFAULT;
	struct timerfd *t = fd_priv(fd, &timerfd_ops, NULL);
	if (!t)
		return fs_is_open(fd) ? -EINVAL : -EBADF;
	if (nv->it_interval.tv_nsec < 0 || nv->it_interval.tv_nsec >= 1000000000 || nv->it_value.tv_nsec < 0 ||
	    nv->it_value.tv_nsec >= 1000000000 || nv->it_interval.tv_sec < 0 || nv->it_value.tv_sec < 0)
		return -EINVAL;
	timerfd_catch_up(t);
	timerfd_get(t, &o);
	int64_t value = nv->it_value.tv_sec * 1000000000 + nv->it_value.tv_nsec;
	t->interval = nv->it_interval.tv_sec * 1000000000 + nv->it_interval.tv_nsec;
	t->pending = 0;
	if (!value)
		t->next = 0;
	else
		t->next = flags & 1 /* TFD_TIMER_ABSTIME */ ? value
			  : abi->system_time(t->clock) + value;
	return uold && copy_to_user(uold, &o, sizeof(o)) < 0 ? -EFAULT : 0;
}

long sys_timerfd_gettime(int fd, struct l_itimerspec *ucur)
{
	struct l_itimerspec cur;
	struct timerfd *t = fd_priv(fd, &timerfd_ops, NULL);
	if (!t)
		return fs_is_open(fd) ? -EINVAL : -EBADF;
	timerfd_catch_up(t);
	timerfd_get(t, &cur);
	return copy_to_user(ucur, &cur, sizeof(cur)) < 0 ? -EFAULT : 0;
}
