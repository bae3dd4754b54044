/*
 * signalfd.c -- a signal mask behind a descriptor: reading it takes
 * pending signals in the mask (the app blocks them, so they are not
 * delivered to handlers), and poll sleeps on the LibOS's signal
 * notification event, set on every post.
 */
#include "file.h"
#include "uaccess.h"
#include "linux_abi.h"

struct signalfd {
	uint64_t mask;
};

/* The siginfo fields a signalfd reports, by the layout Linux gives sig. */
static void to_signalfd_info(const uint8_t *si, struct l_signalfd_siginfo *out)
{
	int32_t head[3];
	memcpy(head, si, sizeof(head));
	const uint8_t *u = si + 16; /* the union after signo, errno, code */
	*out = (struct l_signalfd_siginfo){ .ssi_signo = (uint32_t)head[0],
					     .ssi_errno = head[1], .ssi_code = head[2] };
	int sig = head[0], code = head[2];
	if (sig == 17 /* SIGCHLD */) {
		memcpy(&out->ssi_pid, u, 4);
		memcpy(&out->ssi_uid, u + 4, 4);
		memcpy(&out->ssi_status, u + 8, 4);
		memcpy(&out->ssi_utime, u + 16, 8);
		memcpy(&out->ssi_stime, u + 24, 8);
	} else if (code == -2 /* SI_TIMER */) {
		memcpy(&out->ssi_tid, u, 4);
		memcpy(&out->ssi_overrun, u + 4, 4);
		memcpy(&out->ssi_ptr, u + 8, 8);
		memcpy(&out->ssi_int, u + 8, 4);
	} else if (code > 0 && (sig == 4 || sig == 5 || sig == 7 || sig == 8 || sig == 11)) {
		memcpy(&out->ssi_addr, u, 8); /* a fault's address */
	} else {
		memcpy(&out->ssi_pid, u, 4);  /* kill, tgkill, sigqueue */
		memcpy(&out->ssi_uid, u + 4, 4);
		memcpy(&out->ssi_ptr, u + 8, 8);
		memcpy(&out->ssi_int, u + 8, 4);
	}
}

static long signalfd_read(struct file *f, void *buf, size_t len, int64_t at);

/* Readable while a signal in the mask is pending; poll sleeps on the
 * LibOS's signal notification event, set on every post. */
static short signalfd_poll(struct file *f, short events, moat_handle *h, int64_t *wake_at)
{
	(void)wake_at;
	struct signalfd *sfd = f->priv;
	*h = signal_notify_handle();
	if (signal_pending_set() & sfd->mask)
		return events & 0x001 /* POLLIN */;
	/* Clear, then look again: a post after the clear sets it anew. */
	abi->event_clear(*h);
	return signal_pending_set() & sfd->mask ? events & 0x001 : 0;
}

static void signalfd_release(struct file *f)
{
	kfree(f->priv);
}

static const struct file_ops signalfd_ops = {
	.read = signalfd_read,
	.poll = signalfd_poll,
	.release = signalfd_release,
};

#define SFD_FLAGS (02000000 | 04000) /* SFD_CLOEXEC, SFD_NONBLOCK */

long sys_signalfd4(int fd, const uint64_t *mask, size_t size, int flags)
{
	uint64_t m;
	if (size != 8 || (flags & ~SFD_FLAGS))
		return -EINVAL;
	if (get_user(&m, mask) < 0)
		return -EFAULT;
	m &= ~((1ULL << 8) | (1ULL << 18)); /* never KILL, STOP */
	if (fd != -1) {
		struct signalfd *old = fd_priv(fd, &signalfd_ops, NULL);
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
	return file_install_obj(&signalfd_ops, sfd, flags & 04000, !!(flags & 02000000));
}

long sys_signalfd(int fd, const uint64_t *mask, size_t size)
{
	return sys_signalfd4(fd, mask, size, 0);
}

static long signalfd_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)at;
	struct signalfd *sfd = f->priv;
	int flags = f->flags;
	size_t n = 0;
	uint8_t si[128];
	if (len < sizeof(struct l_signalfd_siginfo))
		return -EINVAL;
	while (n + sizeof(struct l_signalfd_siginfo) <= len && signal_take(sfd->mask, si)) {
		struct l_signalfd_siginfo out;
		to_signalfd_info(si, &out);
		if (copy_to_user((uint8_t *)buf + n, &out, sizeof(out)) < 0)
			return n ? (long)n : -EFAULT; /* the signal is gone, as on Linux */
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
