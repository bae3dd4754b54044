/*
 * moat/monitor.h -- the security monitor as a library.
 *
 * One monitor hosts any number of picoprocesses: launch them, then run the
 * event loop, which serves their channels until every one has ended.
 * `moat run` embeds one monitor for one picoprocess.
 */
#ifndef MOAT_MONITOR_H
#define MOAT_MONITOR_H

#include <stddef.h>
#include <stdio.h>

#include "moat/manifest.h"

struct moat_monitor;

struct moat_launch_options {
	const char *pico_path; /* moat-pico image; NULL: next to moat */
	int debug;             /* show the picoprocess's debug log */
	int trace;             /* and log every system call the app makes */
	int learn;             /* learn mode (see moat_policy_learn) */
	int no_rewrite;        /* no syscall-site rewriting in the LibOS */
	int has_resume;        /* resume a checkpoint: */
	int resume_fd;         /* the raw image (a memfd), handed to the
				  picoprocess once as "snapshot:in" (the
				  monitor keeps a duplicate of its own) */
	int has_base;          /* and the pages its REF regions name: */
	int base_fd;           /* a sealed memfd of whole pages, handed
				  to the picoprocess once as
				  "snapshot:base" (moat receive) */
	int has_running;       /* and tell when it runs again: */
	int running_fd;        /* one byte 'R' is written here when the
				  resumed picoprocess's checkpointer says
				  it restored everything ("snapshot:running";
				  moat receive's acknowledgement) */
	int has_scratch;       /* and fill the new private /tmp first: */
	int scratch_fd;        /* an archive of the snapshot's /tmp,
				  /dev/shm and copy-up layer (read, not kept) */
	int has_later;         /* or, instead of resume_fd, base_fd and
				  scratch_fd: they come later, over */
	int later_fd;          /* this SOCK_SEQPACKET socket (moat receive,
				  which starts the picoprocess while the
				  stream still comes): "snapshot:in" waits
				  for one message, MOAT_LATER_*, with the
				  descriptors, checked by the sender
				  (moat_snap_adopt); its end fails the
				  request */
};

/* The message on later_fd: one int32 of flags, and the descriptors in
 * this order: the image; its base if MOAT_LATER_BASE; the saved /tmp if
 * MOAT_LATER_SCRATCH. */
#define MOAT_LATER_BASE    1
#define MOAT_LATER_SCRATCH 2

/* The moat-pico a launch with no pico_path runs ($MOAT_PICO, else next
 * to moat, else ../lib/moat/moat-pico), in buf. */
const char *moat_pico_default(char *buf, size_t len);

/* How a picoprocess ended. */
struct moat_exit {
	int code;          /* exit status, valid when signal == 0 */
	int signal;        /* non-zero: killed by this signal */
	int by_filter;     /* killed by the seccomp filter */
	int by_monitor;    /* killed by the monitor (protocol violation) */
	char reason[256];  /* one line for the user, empty for a plain exit */
};

struct moat_monitor *moat_monitor_new(void);
void moat_monitor_free(struct moat_monitor *mon);

/* Start a picoprocess for manifest 'm'.  Returns its id (>= 0), or -1
 * with a one-line message in err. */
int moat_monitor_launch(struct moat_monitor *mon, const struct moat_manifest *m,
			const struct moat_launch_options *opt, char *err,
			size_t errlen);

/* Async-signal-safe: ask the running event loop to send 'sig' to every
 * live picoprocess (their LibOS applies the app's disposition).  For a
 * handler of SIGINT, SIGTERM or SIGHUP installed without SA_RESTART, so
 * that the loop wakes up. */
void moat_monitor_signal(int sig);

/* Serve until every picoprocess has ended.  Returns 0. */
int moat_monitor_run(struct moat_monitor *mon);

/* The end of picoprocess 'id' (after moat_monitor_run). */
const struct moat_exit *moat_monitor_exit(struct moat_monitor *mon, int id);

/* Learn mode: write what picoprocess 'id' reached as [Namespace] lines. */
int moat_monitor_learned(struct moat_monitor *mon, int id, FILE *out);

/* Write the seccomp allowlist every picoprocess runs under, in
 * libseccomp's readable PFC form, to fd.  The instruction-pointer prefix
 * (only the PAL's gate may call the host) comes first in the real
 * filter and is described in a comment line.  Returns 0 or -1. */
int moat_filter_print(int fd);

/* The shell-style status for an end: code, or 128 + signal. */
int moat_exit_status(const struct moat_exit *e);

#endif /* MOAT_MONITOR_H */
