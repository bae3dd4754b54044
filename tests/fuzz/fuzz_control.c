/*
 * fuzz_control.c -- libFuzzer target: packets on a monitor's control
 * socket (monitor/control.c, docs/control.md), served by the monitor's
 * own code.
 *
 * One control socket is registered once, as `moat run --name` would (in
 * the runtime directory, named fuzz-PID).  The input is cut at each
 * "\n--\n" into up to 8 packets, each sent on one SOCK_SEQPACKET
 * connection (a new one after the monitor closed it, or when the
 * packet's first byte is odd), and served after each by
 * moat_control_serve() from a poll with no wait, as the event loop does.
 *
 * Beyond the sanitizers, it traps when:
 *  - a reply is not exactly one 256-byte packet with the magic, version 1
 *    and a payload length within bounds;
 *  - a malformed request (size, magic, version, len) gets anything but
 *    -EPROTO with cmd 0, or a well-formed one a reply to another command;
 *  - a signal is sent for anything but a well-formed KILL of 1..64;
 *  - serving ever blocks (libFuzzer's timeout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_int.h"
#include "monitor_int.h"

static struct moat_control *ctl;
static struct pico pp;
static char name[32], dir[108], cgdir[64];
static int last_signal;

/* control.c's KILL lands here instead of in the event loop. */
void moat_monitor_signal(int sig)
{
	last_signal = sig;
}

static void bye(void)
{
	moat_control_close(ctl);
	char f[128];
	snprintf(f, sizeof(f), "%s/memory.current", cgdir);
	unlink(f);
	rmdir(cgdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];
	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN);
	snprintf(name, sizeof(name), "fuzz-%d", (int)getpid());
	if (moat_ctl_dir(dir, sizeof(dir), err, sizeof(err)) < 0 ||
	    !(ctl = moat_control_open(name, err, sizeof(err)))) {
		fprintf(stderr, "fuzz_control: %s\n", err);
		exit(1);
	}
	/* A memory "cgroup" of one file: STATUS reads it, no /proc scan. */
	snprintf(cgdir, sizeof(cgdir), "/tmp/moat-fuzz-cg.%d", (int)getpid());
	mkdir(cgdir, 0700);
	char f[128];
	snprintf(f, sizeof(f), "%s/memory.current", cgdir);
	FILE *fp = fopen(f, "w");
	if (fp) {
		fputs("12345\n", fp);
		fclose(fp);
	}
	pp.pid = getpid();
	/* No checkpoint streams, as the monitor starts a picoprocess: left at
	 * 0, PAUSE took stdin for one under way and sent signal 33 (glibc's
	 * SIGSETXID) to this process. */
	pp.snap_out = pp.snap_in = pp.snap_busy = pp.snap_running = pp.snap_later = -1;
	snprintf(pp.name, sizeof(pp.name), "fuzz");
	snprintf(pp.cg_mem, sizeof(pp.cg_mem), "%s", cgdir);
	atexit(bye);
	return 0;
}

static void serve(void)
{
	struct pollfd pfd[1 + MOAT_CTL_CLIENTS];
	int n = moat_control_pollfds(ctl, pfd);
	if (poll(pfd, (nfds_t)n, 0) > 0)
		moat_control_serve(ctl, pfd, n, &pp, 0);
}

static int well_formed(const uint8_t *p, size_t len, struct moat_ctl_req *req)
{
	if (len != sizeof(*req))
		return 0;
	memcpy(req, p, sizeof(*req));
	return req->magic == MOAT_CTL_MAGIC && req->version == MOAT_CTL_VERSION &&
	       req->len <= MOAT_CTL_PAYLOAD;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = -1;
	size_t off = 0;
	for (int k = 0; k < 8 && off <= size; k++) {
		const uint8_t *p = data + off;
		const uint8_t *sep = memmem(p, size - off, "\n--\n", 4);
		size_t len = sep ? (size_t)(sep - p) : size - off;
		off += len + 4;
		if (len == 0)
			continue; /* a zero-length packet reads as the end */
		if (fd < 0 || (p[0] & 1)) {
			if (fd >= 0)
				close(fd);
			fd = moat_ctl_connect(dir, name);
			if (fd < 0)
				__builtin_trap();
			serve(); /* accept it */
		}
		last_signal = 0;
		if (send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			close(fd);
			fd = -1;
			continue;
		}
		serve();
		struct moat_ctl_reply rep;
		ssize_t r = recv(fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_TRUNC);
		if (r <= 0) { /* closed (evicted) */
			close(fd);
			fd = -1;
			continue;
		}
		if (r != (ssize_t)sizeof(rep) || rep.magic != MOAT_CTL_MAGIC ||
		    rep.version != MOAT_CTL_VERSION || rep.len > MOAT_CTL_PAYLOAD)
			__builtin_trap();
		struct moat_ctl_req req;
		if (!well_formed(p, len, &req)) {
			if (rep.status != -EPROTO || rep.cmd != 0 || last_signal)
				__builtin_trap();
			close(fd);
			fd = -1;
			continue;
		}
		if (rep.cmd != req.cmd)
			__builtin_trap();
		int kill_ok = req.cmd == MOAT_CTL_KILL && req.arg >= 1 && req.arg < NSIG;
		if (last_signal != (kill_ok ? (int)req.arg : 0))
			__builtin_trap();
		if (req.cmd == MOAT_CTL_STATUS) {
			struct moat_ctl_status st;
			memcpy(&st, rep.payload, sizeof(st));
			if (rep.status || rep.len != sizeof(st) || st.memory != 12345 ||
			    st.mem_source != MOAT_CTL_MEM_CGROUP || st.app[sizeof(st.app) - 1])
				__builtin_trap();
		}
	}
	if (fd >= 0)
		close(fd);
	serve(); /* let the monitor see the close */
	return 0;
}
