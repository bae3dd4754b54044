/*
 * eventfd.c -- a counter plus a PAL notification event that is set while
 * the counter is non-zero, so poll and blocking reads can sleep on it.
 *
 * It lives in the process's memory: after fork, parent and child each
 * have their own copy (unlike Linux, where they share the object).
 */
#include "file.h"
#include "uaccess.h"

struct eventfd {
	uint64_t count;
	int semaphore;
	moat_handle ready;   /* notification event: set while count > 0 */
};

static long eventfd_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)at;
	struct eventfd *e = f->priv;
	if (len < 8)
		return -EINVAL;
	while (!e->count) {
		if (f->flags & 04000 /* O_NONBLOCK */)
			return -EAGAIN;
		long r = abi->objects_wait_any(1, &e->ready, MOAT_WAIT_FOREVER);
		if (r == -EINTR)
			return -ERESTARTSYS;
	}
	uint64_t v = e->semaphore ? 1 : e->count;
	e->count -= v;
	if (!e->count)
		abi->event_clear(e->ready);
	return copy_to_user(buf, &v, 8) < 0 ? -EFAULT : 8;
}

static long eventfd_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)at;
	struct eventfd *e = f->priv;
	uint64_t v;
	if (len < 8)
		return -EINVAL;
	if (copy_from_user(&v, buf, 8) < 0)
		return -EFAULT;
	if (v == ~0ULL)
		return -EINVAL;
	if (e->count + v < e->count || e->count + v == ~0ULL)
		return -EAGAIN; /* would overflow; Linux blocks, we refuse */
	e->count += v;
	if (e->count)
		abi->event_set(e->ready);
	return 8;
}

static short eventfd_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at)
{
	(void)wake_at;
	struct eventfd *e = f->priv;
	*h = e->ready;
	return (short)((e->count ? events & 0x001 /* POLLIN */ : 0) |
		       (e->count < ~0ULL - 1 ? events & 0x004 /* POLLOUT */ : 0));
}

static void eventfd_release(struct file *f)
{
	struct eventfd *e = f->priv;
	abi->object_close(e->ready);
	kfree(e);
}

static const struct file_ops eventfd_ops = {
	.read = eventfd_read,
	.write = eventfd_write,
	.poll = eventfd_poll,
	.release = eventfd_release,
};

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
	return file_install_obj(&eventfd_ops, e, 2 /* O_RDWR */ | (flags & 04000),
				!!(flags & 02000000));
}

long sys_eventfd(unsigned initval)
{
	return sys_eventfd2(initval, 0);
}
