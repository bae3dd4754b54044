/*
 * console.c -- the standard streams the monitor handed over at launch.
 *
 * They read and write as pipes do; one that is a terminal answers the
 * terminal ioctls from what the monitor said at launch (its termios and
 * size), and accepts settings without applying them: the monitor owns
 * the terminal.
 */
#include <linux/fcntl.h>
#include <asm/ioctls.h>

#include "file.h"

/* The terminal behind f, or NULL if f is not one. */
static const struct moat_stdio_info *tty_of(const struct file *f)
{
	if (f->h < 0 || f->h >= 3 || !boot->stdio[f->h].is_tty)
		return NULL;
	return &boot->stdio[f->h];
}

static long console_ioctl(struct file *f, unsigned long cmd, void *arg)
{
	const struct moat_stdio_info *si = tty_of(f);
	if (!si || cmd == FIONREAD)
		return -ENOTTY;
	switch (cmd) {
	case TCGETS:
		memcpy(arg, si->termios, sizeof(si->termios));
		return 0;
	case TIOCGWINSZ: {
		uint16_t *ws = arg;
		ws[0] = si->rows, ws[1] = si->cols, ws[2] = ws[3] = 0;
		return 0;
	}
	case TCSETS: case TCSETSW: case TCSETSF:
		return 0; /* the monitor owns the terminal; accepted, not applied */
	case TIOCGPGRP:
		*(int *)arg = 1;
		return 0;
	default:
		return -ENOTTY;
	}
}

static void console_describe(struct file *f, char *out, size_t len)
{
	rt_snprintf(out, len, boot->stdio[f->h < 3 ? f->h : 0].is_tty ? "/dev/tty" : "pipe:[%d]",
		    f->h);
}

const struct file_ops console_ops = {
	.read = host_stream_read,
	.write = host_stream_write,
	.poll = host_stream_poll,
	.stat = host_stream_stat,
	.truncate = host_stream_truncate,
	.allocate = host_stream_allocate,
	.sync = host_stream_sync,
	.ioctl = console_ioctl,
	.describe = console_describe,
	.caps = FILE_STREAMING | FILE_NAMED,
};

/* Descriptors 0, 1 and 2 on the three standard streams. */
void console_init(void)
{
	for (int fd = 0; fd < 3; fd++) {
		struct file *f = file_new(&console_ops, fd ? O_WRONLY : O_RDONLY);
		if (!f)
			libos_panic("no memory for the standard streams");
		f->h = fd;
		f->kind = MOAT_KIND_CONSOLE;
		if (file_install(f, 0) != fd)
			libos_panic("standard stream %d not at descriptor %d", fd, fd);
	}
}
