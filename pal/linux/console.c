/*
 * console.c -- the standard streams' host descriptors, which must stay
 * taken while the app has them closed.
 */
#include "pal.h"

/* Host descriptors 0-2 are never left free: a descriptor received later
 * (a file, a forked child's channel) would land there, and the filter
 * lets dup3 move nothing from 0-2 (a console may be a host socket).  A
 * closed console's slot gets the read end of an empty, writer-less pipe
 * instead: reading it gives end-of-file. */
static int placeholder_fd = -1;

void pal_console_placeholder_init(void)
{
	int fds[2];
	if (host_pipe2(fds, 02000000 /* O_CLOEXEC */) < 0)
		pal_fatal("cannot create the console placeholder");
	host_close(fds[1]);
	placeholder_fd = fds[0];
}

void pal_console_park(int fd)
{
	if (host_dup3(placeholder_fd, fd, 0) < 0)
		host_close(fd);
}
