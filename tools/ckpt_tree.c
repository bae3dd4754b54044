/*
 * ckpt_tree.c -- the streams of a snapshot's processes, joined into one
 * raw image (moat/snapshot.h, "A snapshot's stream").
 *
 * Process 1's stream comes with MOAT_CTL_CHECKPOINT; each live child's
 * through MOAT_CTL_PROCESS once the child has stopped.  Only when every
 * process has sent its PROCESS record does each get the go byte: no
 * process then still runs while another drains a pipe they share.  Each
 * stream is untrusted: lengths are bounded, every child must be one
 * process 1 named, once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "moat/control.h"
#include "moat/snapshot.h"
#include "tools.h"

#define IDLE_MS 10000          /* no byte from a stream for this long: give up */
#define CHILDREN_WAIT_MS 5000  /* every live child has its stream by then */

struct head {
	unsigned char bytes[sizeof(struct moat_snap_header) + sizeof(struct moat_snap_rec) +
			    sizeof(struct moat_snap_process) +
			    MOAT_SNAP_MAX_CHILDREN * sizeof(struct moat_snap_child)];
	size_t len;
	struct moat_snap_rec rec;
	struct moat_snap_process proc;
	struct moat_snap_child kids[MOAT_SNAP_MAX_CHILDREN];
};

/* Exactly n bytes from fd, with the idle timeout. */
static int read_exact(int fd, void *buf, size_t n, char *err, size_t errlen)
{
	char *p = buf;
	size_t got_so_far = 0;
	while (n) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int r = poll(&pf, 1, IDLE_MS);
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t got = r > 0 ? read(fd, p, n) : -1;
		if (got < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(err, errlen, "no image after %d s (%zu bytes so far); is its "
				 "checkpointer stuck?", IDLE_MS / 1000, got_so_far);
			return -1;
		}
		if (got <= 0) {
			snprintf(err, errlen, "%s", got == 0 ? "its checkpointer ended the stream early"
				 : strerror(errno));
			return -1;
		}
		p += got, n -= (size_t)got, got_so_far += (size_t)got;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

/* The rest of stream fd, to its end, appended to out; *total counts. */
static int copy_rest(int fd, int out, uint64_t *total, char *err, size_t errlen)
{
	static char buf[1 << 16];
	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int r = poll(&pf, 1, IDLE_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(err, errlen, "no image after %d s (%" PRIu64 " bytes so far); is "
				 "its checkpointer stuck?", IDLE_MS / 1000, *total);
			return -1;
		}
		ssize_t n = r < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading the image: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		if ((uint64_t)n > MOAT_SNAP_MAX_IMAGE - *total) {
			snprintf(err, errlen, "the image is larger than %llu bytes",
				 (unsigned long long)MOAT_SNAP_MAX_IMAGE);
			return -1;
		}
		if (write_all(out, buf, (size_t)n) < 0) {
			snprintf(err, errlen, "writing the image: %s", strerror(errno ? errno : ENOSPC));
			return -1;
		}
		*total += (uint64_t)n;
	}
}

/* The header and first record of a stream; with PROCESS, its body. */
static int read_head(int fd, struct head *h, char *err, size_t errlen)
{
	size_t first = sizeof(struct moat_snap_header) + sizeof(struct moat_snap_rec);
	if (read_exact(fd, h->bytes, first, err, errlen) < 0)
		return -1;
	h->len = first;
	memcpy(&h->rec, h->bytes + sizeof(struct moat_snap_header), sizeof(h->rec));
	if (h->rec.type != MOAT_SNAP_PROCESS)
		return 0;
	uint64_t fixed = sizeof(h->proc), each = sizeof(struct moat_snap_child);
	if (h->rec.len < fixed || h->rec.len > fixed + MOAT_SNAP_MAX_CHILDREN * each ||
	    (h->rec.len - fixed) % each) {
		snprintf(err, errlen, "a PROCESS record of %" PRIu64 " bytes", h->rec.len);
		return -1;
	}
	if (read_exact(fd, h->bytes + first, h->rec.len, err, errlen) < 0)
		return -1;
	h->len += h->rec.len;
	memcpy(&h->proc, h->bytes + first, sizeof(h->proc));
	if (h->proc.nchildren != (h->rec.len - fixed) / each) {
		snprintf(err, errlen, "a PROCESS record that miscounts its children");
		return -1;
	}
	memcpy(h->kids, h->bytes + first + fixed, h->rec.len - fixed);
	return 0;
}

/* A refusal (ERROR END) from a stream whose head is read: its text. */
static void read_refusal(int fd, struct head *h, char *err, size_t errlen)
{
	char text[4097] = "";
	uint64_t n = h->rec.len < sizeof(text) - 1 ? h->rec.len : sizeof(text) - 1;
	if (h->rec.type != MOAT_SNAP_ERROR || read_exact(fd, text, n, err, errlen) < 0) {
		snprintf(err, errlen, "its checkpointer wrote a malformed image: a record of type %u "
			 "first", h->rec.type);
		return;
	}
	text[n] = 0;
	for (char *p = text; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
	snprintf(err, errlen, "%s", text);
}

/* Each live child of process 1 (head h1), its stream from the monitor. */
static int fetch_children(const char *name, const struct head *h1, struct moat_tree *t,
			  char *err, size_t errlen)
{
	int want = 0;
	for (uint32_t i = 0; i < h1->proc.nchildren; i++)
		want += !h1->kids[i].ended;
	if (!want)
		return 0;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int ctl = moat_ctl_dir(dir, sizeof(dir), err, errlen) < 0 ? -1 : moat_ctl_connect(dir, name);
	if (ctl < 0) {
		snprintf(err, errlen, "its control socket: %s", strerror(errno));
		return -1;
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (t->nkids < want) {
		struct moat_ctl_reply rep;
		int fds[2] = { -1, -1 };
		if (moat_ctl_call_fds(ctl, MOAT_CTL_PROCESS, 0, NULL, 0, &rep, fds, 2) < 0)
			break;
		if (fds[1] >= 0)
			close(fds[1]);
		if (rep.status == 0 && fds[0] >= 0) {
			t->kids[t->nkids++] = fds[0];
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (rep.status != -EAGAIN || (now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 > CHILDREN_WAIT_MS)
			break;
		usleep(5000);
	}
	close(ctl);
	if (t->nkids == want)
		return 0;
	snprintf(err, errlen, "%d of its %d child processes stopped for the checkpoint within %d s",
		 t->nkids, want, CHILDREN_WAIT_MS / 1000);
	return -1;
}

/* Is pid a live child of process 1 that no other stream claimed? */
static int child_ok(const struct head *h1, const int32_t *seen, int nseen, int32_t pid)
{
	int listed = 0;
	for (uint32_t i = 0; i < h1->proc.nchildren; i++)
		listed |= h1->kids[i].pid == pid && !h1->kids[i].ended;
	for (int i = 0; i < nseen; i++)
		if (seen[i] == pid)
			return 0;
	return listed;
}

/* Append one child's records (PROCESS on, without its END) to raw. */
static int append_child(int fd, const struct head *h, int raw, uint64_t *total, char *err,
			size_t errlen)
{
	size_t skip = sizeof(struct moat_snap_header);
	if (write_all(raw, h->bytes + skip, h->len - skip) < 0) {
		snprintf(err, errlen, "writing the image: %s", strerror(errno));
		return -1;
	}
	*total += h->len - skip;
	return copy_rest(fd, raw, total, err, errlen);
}

/* Drop the END the last stream closed with (one END closes the whole). */
static int drop_end(int raw, uint64_t *total, char *err, size_t errlen)
{
	struct moat_snap_rec r;
	if (*total < sizeof(r) + sizeof(struct moat_snap_header) ||
	    pread(raw, &r, sizeof(r), (off_t)(*total - sizeof(r))) != (ssize_t)sizeof(r) ||
	    r.type != MOAT_SNAP_END || r.len || r.zero) {
		snprintf(err, errlen, "its checkpointer wrote a malformed image: a process's "
			 "records do not end with END");
		return -1;
	}
	*total -= sizeof(r);
	if (ftruncate(raw, (off_t)*total) < 0 || lseek(raw, 0, SEEK_END) < 0) {
		snprintf(err, errlen, "writing the image: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	const struct head *x = *(struct head *const *)a, *y = *(struct head *const *)b;
	return x->proc.pid < y->proc.pid ? -1 : x->proc.pid > y->proc.pid;
}

void moat_tree_send(struct moat_tree *t, char byte)
{
	for (int i = 0; i < t->nkids; i++)
		if (t->kids[i] >= 0)
			(void)!send(t->kids[i], &byte, 1, MSG_NOSIGNAL);
}

void moat_tree_close(struct moat_tree *t)
{
	for (int i = 0; i < t->nkids; i++)
		if (t->kids[i] >= 0)
			close(t->kids[i]);
	t->nkids = 0;
}

/* The children's heads, checked against process 1's list, in pid order. */
static int children_heads(const struct head *h1, struct moat_tree *t, struct head **heads,
			  char *err, size_t errlen)
{
	int32_t seen[MOAT_SNAP_MAX_CHILDREN];
	for (int i = 0; i < t->nkids; i++) {
		if (read_head(t->kids[i], heads[i], err, errlen) < 0)
			return -1;
		if (heads[i]->rec.type != MOAT_SNAP_PROCESS) {
			read_refusal(t->kids[i], heads[i], err, errlen);
			return -1;
		}
		if (heads[i]->proc.ppid != 1 || !child_ok(h1, seen, i, heads[i]->proc.pid)) {
			snprintf(err, errlen, "a stream claims to be process %d, not a child of "
				 "process 1 it named", heads[i]->proc.pid);
			return -1;
		}
		seen[i] = heads[i]->proc.pid;
	}
	return 0;
}

int moat_tree_gather(const char *name, int sock, int raw, struct moat_tree *t, uint64_t *total,
		     char *err, size_t errlen)
{
	static struct head h1, hk[MOAT_SNAP_MAX_CHILDREN];
	struct head *heads[MOAT_SNAP_MAX_CHILDREN];
	int fds[MOAT_SNAP_MAX_CHILDREN];
	*total = 0;
	t->nkids = 0;
	if (read_head(sock, &h1, err, errlen) < 0)
		return -1;
	if (write_all(raw, h1.bytes, h1.len) < 0) {
		snprintf(err, errlen, "writing the image: %s", strerror(errno));
		return -1;
	}
	*total = h1.len;
	if (h1.rec.type != MOAT_SNAP_PROCESS) /* a refusal, or one process of old */
		return copy_rest(sock, raw, total, err, errlen);
	for (int i = 0; i < MOAT_SNAP_MAX_CHILDREN; i++)
		heads[i] = &hk[i];
	if (h1.proc.pid != 1 || h1.proc.ppid != 0) {
		snprintf(err, errlen, "the first stream is not process 1's");
		return -1;
	}
	if (fetch_children(name, &h1, t, err, errlen) < 0 ||
	    children_heads(&h1, t, heads, err, errlen) < 0)
		return -1;
	/* Everyone has stopped: go. */
	char go = MOAT_SNAP_GO;
	moat_tree_send(t, go);
	if (send(sock, &go, 1, MSG_NOSIGNAL) != 1) {
		snprintf(err, errlen, "the picoprocess did not wait for the go: %s", strerror(errno));
		return -1;
	}
	if (copy_rest(sock, raw, total, err, errlen) < 0)
		return -1;
	/* Children in pid order, their streams along. */
	for (int i = 0; i < t->nkids; i++)
		fds[i] = t->kids[i];
	for (int i = 0; i < t->nkids; i++)
		for (int j = i + 1; j < t->nkids; j++)
			if (by_pid(&heads[j], &heads[i]) < 0) {
				struct head *h = heads[i];
				int f = fds[i];
				heads[i] = heads[j], fds[i] = fds[j];
				heads[j] = h, fds[j] = f;
			}
	for (int i = 0; i < t->nkids; i++) {
		if (drop_end(raw, total, err, errlen) < 0 ||
		    append_child(fds[i], heads[i], raw, total, err, errlen) < 0)
			return -1;
	}
	return 0;
}
