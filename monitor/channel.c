/*
 * channel.c -- serving a picoprocess's requests.
 *
 * Every packet is hostile until proven otherwise: its size must match its
 * header, its opcode must be known, its paths NUL-terminated, in bounds
 * and well-formed.  A framing violation means the PAL is not a PAL any
 * more (the app took it over), so the picoprocess is killed and the user
 * told why; a bad path is just refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "moat/path.h"
#include "moat/snapshot.h"
#include "monitor_int.h"

static int takes_path(uint32_t op)
{
	return op == MOAT_OP_OPEN || op == MOAT_OP_STAT || op == MOAT_OP_READLINK ||
	       op == MOAT_OP_DELETE || op == MOAT_OP_RENAME || op == MOAT_OP_SETATTR ||
	       op == MOAT_OP_SYMLINK || op == MOAT_OP_LINK;
}

static int takes_two_strings(uint32_t op)
{
	return op == MOAT_OP_RENAME || op == MOAT_OP_SYMLINK || op == MOAT_OP_LINK;
}

int moat_request_parse(const void *buf, size_t len, struct moat_request *req)
{
	memset(req, 0, sizeof(*req));
	if (len < sizeof(req->hdr) || len > MOAT_MSG_MAX)
		return -EPROTO;
	memcpy(&req->hdr, buf, sizeof(req->hdr));
	const char *payload = (const char *)buf + sizeof(req->hdr);
	size_t plen = len - sizeof(req->hdr);
	if (req->hdr.len != plen || req->hdr.op == 0 || req->hdr.op >= MOAT_OP_LAST)
		return -EPROTO;
	if (req->hdr.op == MOAT_OP_LOG) {
		req->data = payload;
		req->data_len = plen;
		return 0;
	}
	if (req->hdr.op == MOAT_OP_NET) { /* one short string; policy parses it */
		if (plen < 2 || plen > MOAT_NET_URI_MAX || payload[plen - 1] ||
		    strlen(payload) != plen - 1)
			return -EPROTO;
		req->data = payload;
		req->data_len = plen - 1;
		return 0;
	}
	if (req->hdr.op == MOAT_OP_RESIDENCY) { /* two uint64: addr, npages */
		if (plen != 2 * sizeof(uint64_t))
			return -EPROTO;
		req->data = payload;
		req->data_len = plen;
		return 0;
	}
	if (!takes_path(req->hdr.op))
		return plen == 0 ? 0 : -EPROTO;
	const char *end = payload + plen;
	const char *nul = memchr(payload, 0, plen);
	if (!nul)
		return -EPROTO;
	req->path = payload;
	if (req->hdr.op == MOAT_OP_SETATTR) {
		/* the times, then (with MOAT_ATTR_OWNER) the uid and gid */
		size_t n = (size_t)(end - (nul + 1));
		if (n != 2 * sizeof(int64_t) && n != 2 * sizeof(int64_t) + 2 * sizeof(uint32_t))
			return -EPROTO;
		req->data = nul + 1;
		req->data_len = n;
	} else if (takes_two_strings(req->hdr.op)) {
		const char *p2 = nul + 1;
		const char *nul2 = p2 < end ? memchr(p2, 0, (size_t)(end - p2)) : NULL;
		if (!nul2 || nul2 + 1 != end)
			return -EPROTO;
		req->path2 = p2;
	} else if (nul + 1 != end) {
		return -EPROTO;
	}
	/* A symlink's second string is its text, not a path to resolve. */
	if (moat_path_check(req->path) < 0 ||
	    (req->path2 && req->hdr.op != MOAT_OP_SYMLINK &&
	     moat_path_check(req->path2) < 0))
		return -EINVAL;
	return 0;
}

/* Replies never wait: a PAL sends one request and reads its reply before
 * the next (under its channel lock), so one reply always fits.  A full
 * socket means the picoprocess forged requests without reading replies;
 * the caller ends it (see moat_channel_serve) rather than block the
 * monitor on it.  Returns 0, -EAGAIN for a full socket, -1 otherwise. */
static int send_reply(int chan, uint32_t op, int32_t result,
		      const void *data, size_t len, int fd)
{
	struct moat_msg_hdr hdr = { op, (uint32_t)len, result, 0 };
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)data, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	if (fd >= 0) {
		m.msg_control = cm.buf;
		m.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n = sendmsg(chan, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	int e = n < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	if (e == ETOOMANYREFS && fd >= 0) /* the descriptor could not travel: say so */
		return send_reply(chan, op, -EMFILE, NULL, 0, -1);
	return e == EAGAIN ? -EAGAIN : n < 0 ? -1 : 0;
}

/* The monitor's end of a channel: small send buffer (one reply at a time
 * is all a PAL ever has outstanding), so a flood shows early and what it
 * can make the kernel hold for the monitor stays small. */
void moat_channel_setup(int chan)
{
	int sndbuf = MOAT_CHANNEL_SNDBUF;
	setsockopt(chan, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

/* The filter must be in place before the picoprocess gets anything. */
static int filter_installed(pid_t pid)
{
	char path[64], line[256];
	int mode = 0, filters = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Seccomp: %d", &mode);
		sscanf(line, "Seccomp_filters: %d", &filters);
	}
	fclose(f);
	return mode == 2 && filters >= 1;
}

static void kill_pico(struct pico *pp, const char *why)
{
	kill(pp->pid, SIGKILL);
	pp->exit.by_monitor = 1;
	snprintf(pp->exit.reason, sizeof(pp->exit.reason),
		 "picoprocess killed by the monitor: %s", why);
}

/* A slot for one more channel: a closed one (its process ended) or a new
 * one at the end; -1 when MOAT_MAX_CHANNELS are open. */
static int channel_slot(struct pico *pp)
{
	int open = 0, slot = -1;
	for (int c = 1; c < pp->nchans; c++) {
		if (pp->chans[c] >= 0)
			open++;
		else if (slot < 0)
			slot = c;
	}
	if (open + 1 >= MOAT_MAX_CHANNELS)
		return -1;
	if (slot >= 0)
		return slot;
	int *chans = realloc(pp->chans, (size_t)(pp->nchans + 1) * sizeof(int));
	if (!chans)
		return -1;
	pp->chans = chans;
	chans[pp->nchans] = -1;
	return pp->nchans++;
}

/* A process is about to fork: give it a channel of its own.  Slots of
 * processes that ended are reused, so only the processes alive at once
 * count against MOAT_MAX_CHANNELS, not every fork of a long life. */
static int new_channel(struct pico *pp, int chan)
{
	int sv[2];
	int slot = channel_slot(pp);
	if (slot < 0)
		return send_reply(chan, MOAT_OP_CHANNEL, -EAGAIN, NULL, 0, -1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return send_reply(chan, MOAT_OP_CHANNEL, -errno, NULL, 0, -1);
	moat_channel_setup(sv[0]);
	pp->chans[slot] = sv[0];
	return send_reply(chan, MOAT_OP_CHANNEL, 0, NULL, 0, sv[1]);
}

/* "snapshot:out" asked by a child process while a snapshot is under way:
 * a stream of its own, with the request byte first; the other end waits
 * for the client (MOAT_CTL_PROCESS). */
static int child_stream(struct pico *pp, int probe, int *fd)
{
	int sv[2];
	char req = MOAT_SNAP_REQ_SNAPSHOT;
	if ((pp->snap_out < 0 && pp->snap_busy < 0) || pp->snap_req != req ||
	    pp->nsnap_kids == MOAT_SNAP_KIDS_MAX)
		return -EACCES;
	if (probe)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (write(sv[1], &req, 1) != 1) {
		close(sv[0]);
		close(sv[1]);
		return -EIO;
	}
	pp->snap_kids[pp->nsnap_kids++] = sv[1];
	*fd = sv[0];
	return MOAT_KIND_SOCKET;
}

/* "snapshot:out": the stream of a checkpoint `moat checkpoint` asked
 * for (control.c), to the first process only, once; "snapshot:in": a
 * resumed run's image, read-only, once ("snapshot:base" the same: the
 * pages a received image names).  Otherwise, and for any other
 * name, EACCES: the picoprocess reaches neither unasked.  A resumed
 * checkpointer that restored everything opens "snapshot:running": no
 * stream (ENOENT), but a resumed run that was asked to (moat receive)
 * tells its waiter with one byte, once. */
#define SNAP_LATER 1000 /* no reply yet */

static int snapshot_stream(struct pico *pp, int ci, const char *uri, int probe, int *fd)
{
	if (!strcmp(uri, "snapshot:running")) {
		*fd = -1;
		if (ci == 0 && !probe && pp->snap_running >= 0) {
			if (write(pp->snap_running, "R", 1) != 1 && pp->debug)
				fprintf(stderr, "moat[%s]: nobody waits to hear the resume ran\n",
					pp->name);
			close(pp->snap_running);
			pp->snap_running = -1;
		}
		return -ENOENT;
	}
	int *slot = !strcmp(uri, "snapshot:out") ? &pp->snap_out
		    : !strcmp(uri, "snapshot:in") ? &pp->snap_in
		    : !strcmp(uri, "snapshot:base") ? &pp->snap_base : NULL;
	*fd = -1;
	if (slot == &pp->snap_out && ci != 0)
		return child_stream(pp, probe, fd);
	if (slot == &pp->snap_in && *slot < 0 && pp->snap_later >= 0 && ci == 0)
		return probe ? 0 : SNAP_LATER; /* moat_channel_answer_in, once it came */
	if (!slot || *slot < 0 || ci != 0)
		return -EACCES;
	if (probe)
		return 0;
	if (slot == &pp->snap_out) {
		*fd = *slot; /* send_reply closes it: the monitor forgets it */
		*slot = -1;
		/* but keeps a duplicate, to refuse another checkpoint while
		 * this one's client is there (control.c) */
		if (pp->snap_busy >= 0)
			close(pp->snap_busy);
		pp->snap_busy = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
		return MOAT_KIND_SOCKET;
	}
	*fd = moat_reopen(*slot, O_RDONLY); /* a read-only descriptor of its own */
	close(*slot);
	*slot = -1;
	return *fd < 0 ? *fd : MOAT_KIND_FILE;
}

static int handle(struct pico *pp, int ci, const struct moat_request *rq)
{
	int chan = pp->chans[ci];
	const struct moat_msg_hdr *h = &rq->hdr;
	struct moat_policy *pol = pp->policy;
	int fd = -1, r;
	switch (h->op) {
	case MOAT_OP_HELLO:
		if (!filter_installed(pp->pid)) {
			kill_pico(pp, "no seccomp filter at hello");
			return -1;
		}
		pp->hello = 1;
		return send_reply(chan, h->op, 0, NULL, 0, -1);
	case MOAT_OP_OPEN: {
		/* The reply carries the owner as the host sees it: inside the
		 * user namespace an fstat would show ids it does not map as
		 * 65534. */
		struct moat_open_reply reply = { 0 };
		r = moat_policy_open(pol, rq->path, (unsigned)h->a, h->b, &reply, &fd);
		return send_reply(chan, h->op, r, &reply, fd >= 0 ? sizeof(reply) : 0, fd);
	}
	case MOAT_OP_STAT: {
		struct moat_attr a;
		r = moat_policy_stat(pol, rq->path, h->a != 0, &a);
		return send_reply(chan, h->op, r, &a, r < 0 ? 0 : sizeof(a), -1);
	}
	case MOAT_OP_READLINK: {
		char buf[MOAT_PATH_MAX];
		r = moat_policy_readlink(pol, rq->path, buf, sizeof(buf));
		return send_reply(chan, h->op, r, buf, r < 0 ? 0 : (size_t)r, -1);
	}
	case MOAT_OP_DELETE:
		r = moat_policy_delete(pol, rq->path, h->a != 0);
		return send_reply(chan, h->op, r, NULL, 0, -1);
	case MOAT_OP_RENAME:
		r = moat_policy_rename(pol, rq->path, rq->path2);
		return send_reply(chan, h->op, r, NULL, 0, -1);
	case MOAT_OP_SETATTR: {
		int64_t t[2];
		uint32_t id[2] = { (uint32_t)-1, (uint32_t)-1 }; /* none given */
		struct moat_owner_reply o = { 0 };
		memcpy(t, rq->data, sizeof(t));
		if (rq->data_len > sizeof(t))
			memcpy(id, (const char *)rq->data + sizeof(t), sizeof(id));
		r = moat_policy_setattr(pol, rq->path, (h->a >> 8) & 1, (unsigned)h->a & 0xff,
					h->b, t[0], t[1], id[0], id[1], &o);
		return send_reply(chan, h->op, r, &o, r == 0 && o.valid ? sizeof(o) : 0, -1);
	}
	case MOAT_OP_SYMLINK:
		r = moat_policy_symlink(pol, rq->path, rq->path2);
		return send_reply(chan, h->op, r, NULL, 0, -1);
	case MOAT_OP_LINK:
		r = moat_policy_link(pol, rq->path, rq->path2);
		return send_reply(chan, h->op, r, NULL, 0, -1);
	case MOAT_OP_PROC_STAT: {
		struct moat_proc_stat ps;
		r = moat_proc_stat(pp, h->a, &ps);
		return send_reply(chan, h->op, r, &ps, r < 0 ? 0 : sizeof(ps), -1);
	}
	case MOAT_OP_RESIDENCY: {
		uint64_t q[2];
		uint8_t map[MOAT_RESIDENCY_MAX / 8];
		memcpy(q, rq->data, sizeof(q));
		r = moat_residency(pp, ci, h->a, h->b, q[0], q[1], map);
		return send_reply(chan, h->op, r, map, r < 0 ? 0 : (size_t)(q[1] + 7) / 8, -1);
	}
	case MOAT_OP_NET:
		if (!strncmp(rq->data, "snapshot:", 9)) {
			r = snapshot_stream(pp, ci, rq->data, h->a == 1, &fd);
			if (r == SNAP_LATER) {
				pp->snap_waiting = 1;
				return 0;
			}
			return send_reply(chan, h->op, r, NULL, 0, fd);
		}
		if (!strncmp(rq->data, "memfd:", 6)) {
			/* anonymous memory with a name: reaches nothing outside */
			fd = memfd_create(rq->data + 6, MFD_CLOEXEC);
			r = fd < 0 ? -errno : MOAT_KIND_FILE;
			return send_reply(chan, h->op, r, NULL, 0, fd);
		}
		if (!strncmp(rq->data, "unix.", 5)) {
			/* a name of this app's own, never a host socket */
			r = moat_unix_open(pp, rq->data, &fd);
			return send_reply(chan, h->op, r, NULL, 0, fd);
		}
		if (h->a == 1) /* would it be granted? */
			r = moat_policy_net_check(pol, rq->data);
		else
			r = moat_policy_net(pol, rq->data, &fd);
		if (r == MOAT_KIND_DATAGRAM) { /* the app gets a relay, not the socket */
			int end;
			int rr = moat_relay_new(pp, fd, !strncmp(rq->data, "udp.server:", 11), &end);
			fd = end;
			r = rr < 0 ? rr : r;
		}
		if (pp->debug && r < 0)
			fprintf(stderr, "moat[%s]: %s: not granted by the manifest\n", pp->name,
				rq->data);
		return send_reply(chan, h->op, r, NULL, 0, fd);
	case MOAT_OP_LOG:
		if (pp->debug)
			fprintf(stderr, "moat[%s]: %.*s\n", pp->name,
				(int)rq->data_len, rq->data);
		return 0;
	case MOAT_OP_EXIT:
		if (ci == 0) { /* a forked process's end is its parent's news */
			pp->reported_exit = 1;
			pp->exit.code = h->a & 0xff;
			pp->exit.signal = (int)(h->b & 0x7f);
		}
		return 0;
	case MOAT_OP_CHANNEL:
		return new_channel(pp, chan);
	}
	return -1;
}

int moat_channel_answer_in(struct pico *pp, int ok)
{
	int fd = -1, r = -EIO;
	pp->snap_waiting = 0;
	if (ok)
		r = snapshot_stream(pp, 0, "snapshot:in", 0, &fd);
	r = send_reply(pp->chans[0], MOAT_OP_NET, r, NULL, 0, fd);
	if (r == -EAGAIN)
		kill_pico(pp, "it sent requests without reading the replies");
	return r < 0 ? -1 : 0;
}

int moat_channel_serve(struct pico *pp, int ci)
{
	static char buf[MOAT_MSG_MAX + 1];
	struct moat_request rq;
	/* never wait here either: poll said readable, but a slot may have
	 * been reused since */
	ssize_t n = recv(pp->chans[ci], buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	if ((size_t)n > MOAT_MSG_MAX) {
		kill_pico(pp, "oversized channel message");
		return -1;
	}
	int r = moat_request_parse(buf, (size_t)n, &rq);
	if (r == -EPROTO) {
		kill_pico(pp, "malformed channel message");
		return -1;
	}
	if (!pp->hello && rq.hdr.op != MOAT_OP_HELLO) {
		kill_pico(pp, "request before hello");
		return -1;
	}
	if (r == -EINVAL)
		r = send_reply(pp->chans[ci], rq.hdr.op, -EINVAL, NULL, 0, -1);
	else
		r = handle(pp, ci, &rq);
	if (r == -EAGAIN) {
		kill_pico(pp, "it sent requests without reading the replies");
		return -1;
	}
	return r < 0 && pp->exit.by_monitor ? -1 : 0;
}
