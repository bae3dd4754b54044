/*
 * kinds.c -- the kinds of file that paths name, in the order openat and
 * stat ask them (file.h says what each hook does).  Kinds made only by
 * their own calls (pipes, sockets, eventfd, epoll, ...) are not here.
 */
#include "file.h"

extern const struct file_kind opath_kind, device_kind, pseudo_kind, dir_kind,
	regular_kind, host_stream_kind;

const struct file_kind *const file_kinds[] = {
	&opath_kind,       /* O_PATH: before anything is opened */
	&device_kind,      /* /dev/null, /dev/zero, /dev/urandom */
	&pseudo_kind,      /* /proc, /sys */
	&dir_kind,
	&regular_kind,
	&host_stream_kind, /* last: any other host stream */
	NULL
};
