/* monitor_int.h -- internals shared by the monitor's files (the public
 * contract is include/moat/monitor.h). */
#ifndef MOAT_MONITOR_INTERNAL_H
#define MOAT_MONITOR_INTERNAL_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "moat/channel.h"
#include "moat/monitor.h"
#include "moat/policy.h"

/* filter.c */
struct sock_filter *moat_filter_build(size_t *len, char *err, size_t errlen);
int moat_filter_count(void);

/* One picoprocess as the monitor sees it. */
#define MOAT_SNAP_KIDS_MAX 64 /* = MOAT_SNAP_MAX_CHILDREN */

struct pico {
	int id;
	pid_t pid;          /* host pid of the PAL (pid 1 inside) */
	int *chans;         /* monitor's ends; chans[0] is pid 1's, -1 closed */
	int nchans;
	int hello;          /* filter verified */
	int debug;
	int reported_exit;  /* the PAL sent MOAT_OP_EXIT */
	int done;
	int stopped_by;     /* killed when the grace period after this signal
			       to moat (SIGTERM, SIGINT, SIGHUP) ran out */
	struct moat_policy *policy;
	struct moat_exit exit;
	char name[64];      /* program name for messages */
	char scratch[4096]; /* host directory behind /tmp and /dev/shm, or "" */
	int scratch_quota;  /* the scratch is a tmpfs of this picoprocess's own */
	char cg_pids[600];  /* its cgroups, or "" (cgroup.c); on cgroup v2 */
	char cg_mem[600];   /* all three are the same directory */
	char cg_cpu[600];
	unsigned cg_enforced; /* MOAT_CG_* the cgroups enforce */
	uint64_t tasks_max, memory_max; /* the caps in force (for messages) */
	uint64_t held_budget; /* what the monitor may hold for it at once, of
				 each kind: directory listings, datagrams
				 waiting in relays (0: MOAT_LISTING_BYTES_MAX) */
	struct moat_limits limits; /* as given by the manifest (0: default) */
	struct relay **relays;       /* sockets.c: UDP endpoints it relays */
	int nrelays;
	struct unix_name *unames;    /* sockets.c: the app's unix socket names */
	int nunames;
	unsigned unix_seq;
	char sockdir[4096];          /* host directory of their listeners, or "" */
	/* Checkpoints (snapshot.c, control.c; docs/checkpoint.md). */
	int ckpt;           /* "ckpt" is in its extension stack */
	char *snap_manifest;/* the snapshot manifest of this run, or NULL */
	char snap_why[256]; /* why there is none, with ckpt */
	int snap_out;       /* a pending checkpoint's stream for
			       "snapshot:out", or -1 */
	int snap_busy;      /* a duplicate of it once handed out, to see
			       when its client is gone, or -1 */
	int snap_in;        /* a resumed run's image for "snapshot:in"
			       (handed out once), or -1 */
	int snap_base;      /* and its base for "snapshot:base", or -1 */
	int snap_running;   /* where to say the resume is done, or -1 */
	int snap_later;     /* where snap_in, snap_base and the saved /tmp
			       come from (has_later), or -1 */
	int snap_waiting;   /* "snapshot:in" asked, unanswered until they
			       came: chans[0] is not polled meanwhile */
	char snap_req;      /* the request under way: MOAT_SNAP_REQ_* */
	int snap_kids[MOAT_SNAP_KIDS_MAX]; /* the client's ends of child
				 processes' streams, not yet taken */
	int nsnap_kids;
};

/* How long a picoprocess has to end after moat is told to end. */
#define MOAT_STOP_GRACE_MS 3000

#define MOAT_CG_PIDS   1u
#define MOAT_CG_MEMORY 2u
#define MOAT_CG_CPU    4u

/* sockets.c: UDP relays and unix socket names (see there). */
struct pollfd;
int moat_relay_new(struct pico *pp, int host, int server, int *app_end);
int moat_relays_max(const struct pico *pp);
int moat_relay_pollfds(struct pico *pp, struct pollfd *out);
void moat_relay_serve(struct pico *pp, const struct pollfd *pfd, int n);
int moat_unix_open(struct pico *pp, const char *uri, int *fd);
void moat_sockets_close(struct pico *pp);

/* cgroup.c: task, memory and CPU caps, where the host lets the monitor.
 * Where it does not, launch warns once about the limits the manifest set
 * that only a cgroup can enforce, and sandbox.c falls back to rlimits. */
void moat_cgroup_create(struct pico *pp, const struct moat_limits *l);
void moat_cgroup_attach(struct pico *pp, pid_t pid);
/* How often the memory cgroup OOM-killed a task, and the pids cgroup
 * refused one (read before remove). */
unsigned long moat_cgroup_oom_kills(const struct pico *pp);
unsigned long moat_cgroup_task_refusals(const struct pico *pp);
void moat_cgroup_remove(struct pico *pp);
/* The memory cap when the manifest sets none: half the host's RAM. */
uint64_t moat_default_memory(void);

/* scratch.c: a private /tmp and /dev/shm, unless the manifest maps them;
 * a size-limited tmpfs ([Limits] disk) where the monitor may mount one. */
int moat_scratch_create(struct pico *pp, const struct moat_limits *l, char *err,
			size_t errlen);
void moat_scratch_remove(struct pico *pp);
/* A fresh 0700 directory $TMPDIR/PREFIX-<monitor pid>-XXXXXX in OUT,
 * after removing those of monitors that died without cleaning up.  0, or
 * -errno with a message in ERR. */
int moat_tmp_dir(const char *prefix, char *out, size_t len, char *err, size_t errlen);
/* The upper directory for writes to package paths (see policy.h). */
int moat_scratch_upper(struct pico *pp, const char *overlay, char *err, size_t errlen);
/* The scratch's contents (/tmp, /dev/shm, the copy-up layer) as an
 * archive written to out_fd, at most max_bytes; and an archive read back
 * (untrusted) into a new scratch, its files owned by uid:gid when the
 * monitor is root.  0, or -1 with one line in err. */
int moat_scratch_save(const struct pico *pp, int out_fd, uint64_t max_bytes, char *err,
		      size_t errlen);
int moat_scratch_load(const struct pico *pp, const void *archive, size_t len, uid_t uid,
		      gid_t gid, char *err, size_t errlen);

/* sandbox.c: create the process, namespaces, empty root and limits, and
 * exec moat-pico.  Fills pp->pid and the root channel, *chan. */
int moat_sandbox_spawn(struct pico *pp, const struct moat_manifest *m,
		       const struct moat_launch_options *opt, int *chan,
		       char *err, size_t errlen);
/* Write 'text' whole to the existing file 'path' (a /proc map, a cgroup
 * knob), opened write-only without creating it: 0, or -1 and errno. */
int moat_write_file(const char *path, const char *text);

/* channel.c */
struct moat_request {
	struct moat_msg_hdr hdr;
	const char *path;    /* NULL if the op has none */
	const char *path2;
	const char *data;    /* MOAT_OP_LOG text */
	size_t data_len;
};

/* Check one received packet: 0 and *req filled, -EPROTO for framing
 * errors (the picoprocess is killed), -EINVAL for a bad path. */
int moat_request_parse(const void *buf, size_t len, struct moat_request *req);

#define MOAT_MAX_CHANNELS 1024 /* processes alive at once per picoprocess */
#define MOAT_CHANNEL_SNDBUF (32 * 1024) /* the monitor's end (the kernel doubles it) */

/* Set up the monitor's end of a new channel. */
void moat_channel_setup(int chan);

/* Serve one readable channel (index ci); returns 0, or -1 when the
 * channel closed or the picoprocess was killed. */
int moat_channel_serve(struct pico *pp, int ci);

/* procinfo.c: process 'nspid' of the picoprocess (its own numbering),
 * read from the host's /proc: 0, or -ESRCH when it has none by that
 * number. */
int moat_proc_stat(const struct pico *pp, int nspid, struct moat_proc_stat *out);
/* procinfo.c: MOAT_OP_RESIDENCY for the process behind channel 'ci', which
 * says it is 'nspid': map (MOAT_RESIDENCY_MAX / 8 bytes) gets a bit per
 * page of [addr, addr + npages * 4096), 0 for a private anonymous page
 * (with MOAT_RESIDENCY_FILE in flags: or private file page) neither
 * resident nor swapped.  npages, or -EINVAL, -ESRCH, -EIO. */
int moat_residency(const struct pico *pp, int ci, int nspid, uint32_t flags, uint64_t addr,
		   uint64_t npages, uint8_t *map);

/* Answer the "snapshot:in" that waited (pico.snap_waiting): with the
 * image if ok (snap_in set), else EIO.  0, or -1 as moat_channel_serve. */
int moat_channel_answer_in(struct pico *pp, int ok);

#endif
