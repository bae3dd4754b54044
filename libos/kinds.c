/*
 * kinds.c -- the kinds of file that paths name, in the order openat and
 * stat ask them (file.h says what each hook does).  A new kind is one
 * line here.  Kinds made only by their own calls (pipes, sockets,
 * eventfd, epoll, ...) are not here.
 */
#include "file.h"

#define FILE_KINDS(X) \
	X(opath_kind)       /* O_PATH: before anything is opened */ \
	X(device_kind)      /* /dev/null, /dev/zero, /dev/urandom */ \
	X(pseudo_kind)      /* /proc, /sys */ \
	X(fifo_kind)       /* before regular: its node is a marked file */ \
	X(dir_kind) \
	X(regular_kind) \
	X(host_stream_kind) /* last: any other host stream */

#define DECLARE(kind) extern const struct file_kind kind;
#define ADDRESS(kind) &kind,

FILE_KINDS(DECLARE)

const struct file_kind *const file_kinds[] = { FILE_KINDS(ADDRESS) NULL };
