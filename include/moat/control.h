/*
 * moat/control.h -- named picoprocesses and their control socket.
 *
 * NAME
 *     moat_control_* -- register a running picoprocess under a name, and
 *     talk to it (list, signal; later checkpoint) from another process.
 *
 * DESCRIPTION
 *     `moat run --name NAME` makes the monitor listen on a unix socket
 *     DIR/NAME.sock, where DIR is the caller's runtime directory:
 *     /run/moat for root, $XDG_RUNTIME_DIR/moat for any other user
 *     (or /tmp/moat-UID where XDG_RUNTIME_DIR is unset).  DIR is made
 *     mode 0700 and must be owned by the caller, a directory and not a
 *     link, or nothing is registered.  Only the same user reaches the
 *     socket: the directory's mode says so, and both ends also check the
 *     other's SO_PEERCRED uid (defence in depth).
 *
 *     The protocol is one fixed-size request and one fixed-size reply
 *     (struct moat_ctl_req, struct moat_ctl_reply) on a SOCK_SEQPACKET
 *     connection, with a magic, a version, a command code, a status and
 *     a payload: see docs/control.md.  The monitor serves it from its
 *     event loop and never blocks on a client (non-blocking accept, recv
 *     and send; at most MOAT_CTL_CLIENTS connections, the oldest closed
 *     for a new one), and treats every request as untrusted.
 *
 *     An entry whose monitor died without removing it (SIGKILL) is
 *     stale: connect() to it fails with ECONNREFUSED.  Any later command
 *     (moat ps, moat kill, a new moat run --name) removes it under the
 *     directory's lock; no other content of the directory is trusted.
 */
#ifndef MOAT_CONTROL_H
#define MOAT_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MOAT_CTL_MAGIC   0x4c54434du /* "MCTL", little-endian */
#define MOAT_CTL_VERSION 1
#define MOAT_CTL_NAME_MAX 48       /* bytes of a name, without the NUL */
#define MOAT_CTL_CLIENTS  8        /* connections a monitor serves at once */
#define MOAT_CTL_PAYLOAD  240      /* payload bytes of a request or a reply */

/* Command codes.  A monitor answers an unknown one with -EOPNOTSUPP. */
enum moat_ctl_cmd {
	MOAT_CTL_STATUS = 1,     /* reply payload: struct moat_ctl_status */
	MOAT_CTL_KILL = 2,       /* arg: signal number, 1..64; empty reply */
	MOAT_CTL_CHECKPOINT = 3, /* start a checkpoint (docs/checkpoint.md): the
				    reply carries, by SCM_RIGHTS, the client's
				    end of the image stream and a memfd of the
				    snapshot's manifest; a refusal's reason is
				    the payload, NUL-terminated text:
				    -ENOSYS started without the checkpointer,
				    -EBUSY one is under way, -ESRCH ended,
				    -EAGAIN stopping, -EIO no manifest.
				    arg: 0 a snapshot, 1 a migration (the
				    request byte MOAT_SNAP_REQ_SNAPSHOT or
				    _MIGRATE the checkpointer reads first,
				    moat/snapshot.h); else -EINVAL */
	MOAT_CTL_PAUSE = 4,      /* a migration's final pause: the checkpoint
				    signal to every task again; -EINVAL when
				    no checkpoint is under way, -ESRCH ended */
	MOAT_CTL_SCRATCH = 5,    /* while a checkpoint holds the app for its
				    verdict: a memfd (SCM_RIGHTS) with the
				    archive of its private /tmp, /dev/shm and
				    copy-up layer (docs/checkpoint.md); -EINVAL
				    none under way, -EIO with the reason */
	MOAT_CTL_PROCESS = 6,    /* during a snapshot: the client's end of the
				    next child process's stream (SCM_RIGHTS;
				    moat/snapshot.h), in the order the
				    children asked for theirs; -EAGAIN none
				    yet, -EINVAL no snapshot under way */
};

/* A request: exactly sizeof(struct moat_ctl_req) bytes, one packet. */
struct moat_ctl_req {
	uint32_t magic;   /* MOAT_CTL_MAGIC */
	uint16_t version; /* MOAT_CTL_VERSION */
	uint16_t cmd;     /* enum moat_ctl_cmd */
	uint32_t arg;     /* command argument (KILL: the signal) */
	uint32_t len;     /* payload bytes used, <= MOAT_CTL_PAYLOAD */
	uint8_t payload[MOAT_CTL_PAYLOAD];
};

/* A reply: exactly sizeof(struct moat_ctl_reply) bytes, one packet.  A
 * malformed request (wrong size, magic, version or len) gets a reply
 * with cmd 0 and status -EPROTO, and the connection is then closed. */
struct moat_ctl_reply {
	uint32_t magic;   /* MOAT_CTL_MAGIC */
	uint16_t version; /* MOAT_CTL_VERSION */
	uint16_t cmd;     /* the request's command, or 0 */
	int32_t status;   /* 0, or -errno */
	uint32_t len;     /* payload bytes used */
	uint8_t payload[MOAT_CTL_PAYLOAD];
};

enum moat_ctl_state { MOAT_CTL_RUNNING = 1, MOAT_CTL_STOPPING = 2 };
enum moat_ctl_memsrc { MOAT_CTL_MEM_NONE = 0, MOAT_CTL_MEM_CGROUP = 1, MOAT_CTL_MEM_RSS = 2 };

/* The STATUS reply's payload. */
struct moat_ctl_status {
	int32_t monitor_pid; /* host pid of the monitor (moat run) */
	int32_t pico_pid;    /* host pid of the picoprocess's first process */
	uint32_t state;      /* enum moat_ctl_state */
	uint32_t mem_source; /* enum moat_ctl_memsrc */
	uint64_t started;    /* registration time, seconds since the epoch */
	uint64_t uptime_ms;  /* since registration (monotonic clock) */
	uint64_t memory;     /* bytes: its cgroup's usage, or the sum of the
				VmRSS of its processes (mem_source says which) */
	char app[64];        /* program name, NUL-terminated */
};

/* Is NAME a valid name: 1 to MOAT_CTL_NAME_MAX bytes of [A-Za-z0-9._-],
 * the first a letter or digit.  0, or -1 with a one-line reason in err. */
int moat_ctl_name_check(const char *name, char *err, size_t errlen);

/* The caller's runtime directory (see DESCRIPTION) in OUT, created 0700
 * if need be and checked.  0, or -1 with a one-line reason in err. */
int moat_ctl_dir(char *out, size_t len, char *err, size_t errlen);

/* Client side: connect to NAME's socket in DIR, checking the peer's
 * uid.  The descriptor (timeouts of a second each way), or -1 with errno:
 * ECONNREFUSED or ENOENT for a stale or missing entry, EPERM for a peer
 * of another uid. */
int moat_ctl_connect(const char *dir, const char *name);

/* One request and its reply on a connected descriptor.  0 (the reply's
 * status is in rep->status), or -1 with errno (EPROTO: a malformed
 * reply, EAGAIN: no answer in time). */
int moat_ctl_call(int fd, uint16_t cmd, uint32_t arg, const void *payload, uint32_t len,
		  struct moat_ctl_reply *rep);

/* The same, receiving up to nfds descriptors that come with the reply
 * into fds[] (-1 where none came; more are closed). */
int moat_ctl_call_fds(int fd, uint16_t cmd, uint32_t arg, const void *payload, uint32_t len,
		      struct moat_ctl_reply *rep, int *fds, int nfds);

/* Remove NAME's entry in DIR if it is stale (checked again under the
 * directory's lock).  1 removed, 0 alive or gone, -1 error. */
int moat_ctl_reap(const char *dir, const char *name);

/* Remove every stale entry in DIR (names that are not valid are left
 * alone).  The number removed, or -1 if DIR cannot be read.  moat run
 * --name, moat ps and moat kill all call it. */
int moat_ctl_sweep(const char *dir);

/* Monitor side (monitor.c): register monitor MON's picoprocess under
 * NAME before launching it; the entry goes with moat_monitor_free.  0,
 * or -1 with a one-line message in err (invalid name, name in use,
 * unusable runtime directory). */
struct moat_monitor;
int moat_monitor_name(struct moat_monitor *mon, const char *name, char *err, size_t errlen);

#endif /* MOAT_CONTROL_H */
