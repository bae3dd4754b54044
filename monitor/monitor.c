/*
 * monitor.c -- the monitor's event loop over its picoprocesses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control_int.h"
#include "monitor_int.h"
#include "moat/snapshot.h"

struct moat_monitor {
	struct pico *picos;
	int n;
	int stop_sig;       /* SIGTERM or SIGINT moat was told, or 0 */
	struct timespec stop_by; /* when the grace period for it ends */
	int stop_done;      /* and then everything left was killed */
	struct moat_control *ctl; /* control socket (--name), or NULL */
};

/* Signals moat itself received, to pass on (see moat_monitor_signal),
 * and a pipe that wakes the event loop for them: a flag alone is missed
 * when the signal lands between two polls. */
static volatile sig_atomic_t pending_signal[NSIG];
static int wake_pipe[2] = { -1, -1 };

void moat_monitor_signal(int sig)
{
	int saved = errno;
	if (sig > 0 && sig < NSIG)
		pending_signal[sig] = 1;
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0) {
		/* full: a wake-up is pending anyway */
	}
	errno = saved;
}

/* SIGHUP is passed on only: servers reload on it (nginx, sshd), and a
 * program that ignores it keeps running, as natively under nohup. */
static int is_stop_signal(int sig)
{
	return sig == SIGTERM || sig == SIGINT;
}

static long ms_until(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

/* The terminal's signals (SIGINT, SIGQUIT) go to the picoprocess's
 * first process group, as the terminal would send them to a foreground
 * job; the others, like kill(1) of a process, to its first process. */
static void forward_one(struct moat_monitor *mon, int sig)
{
	for (int i = 0; i < mon->n; i++) {
		if (mon->picos[i].done)
			continue;
		pid_t pid = mon->picos[i].pid;
		if ((sig != SIGINT && sig != SIGQUIT) || kill(-pid, sig) < 0)
			kill(pid, sig);
	}
}

/* SIGTERM and SIGINT mean "end": the picoprocess gets the signal
 * and MOAT_STOP_GRACE_MS to end; a second one of them, or the end of the
 * grace period, kills it (see stop_overdue). */
static void forward_signals(struct moat_monitor *mon)
{
	char drain[64];
	while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
		;
	for (int sig = 1; sig < NSIG; sig++) {
		if (!pending_signal[sig])
			continue;
		pending_signal[sig] = 0;
		forward_one(mon, sig);
		if (!is_stop_signal(sig))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &mon->stop_by); /* a second one: now */
		if (!mon->stop_sig) {
			mon->stop_sig = sig;
			mon->stop_by.tv_sec += MOAT_STOP_GRACE_MS / 1000;
			mon->stop_by.tv_nsec += (MOAT_STOP_GRACE_MS % 1000) * 1000000L;
			if (mon->stop_by.tv_nsec >= 1000000000L) {
				mon->stop_by.tv_sec++;
				mon->stop_by.tv_nsec -= 1000000000L;
			}
		}
	}
}

/* The grace period is over: kill what is left (its channels then close
 * and the loop reaps it as usual). */
static void stop_overdue(struct moat_monitor *mon)
{
	if (!mon->stop_sig || mon->stop_done || ms_until(&mon->stop_by) > 0)
		return;
	mon->stop_done = 1;
	for (int i = 0; i < mon->n; i++) {
		struct pico *pp = &mon->picos[i];
		siginfo_t si = { 0 };
		if (pp->done || pp->stopped_by)
			continue;
		/* it ended in time, only not reaped yet: not killed by us */
		if (waitid(P_PID, (id_t)pp->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pp->pid)
			continue;
		pp->stopped_by = mon->stop_sig;
		kill(pp->pid, SIGKILL);
	}
}

struct moat_monitor *moat_monitor_new(void)
{
	if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return NULL;
	/* The monitor keeps a descriptor per channel, relay and listing of
	 * its picoprocesses (see listings_max): take what the host allows.
	 * Each picoprocess gets its own RLIMIT_NOFILE (sandbox.c). */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return calloc(1, sizeof(struct moat_monitor));
}

/* Listings a picoprocess may hold at once (each is a descriptor of the
 * monitor's): MOAT_LISTINGS_MAX, or a quarter of the monitor's
 * descriptors where it has fewer than four times that. */
static int listings_max(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur / 4 >= MOAT_LISTINGS_MAX)
		return MOAT_LISTINGS_MAX;
	return rl.rlim_cur / 4 < 16 ? 16 : (int)(rl.rlim_cur / 4);
}

/* Register under NAME with a control socket (control.c). */
int moat_monitor_name(struct moat_monitor *mon, const char *name, char *err, size_t errlen)
{
	mon->ctl = moat_control_open(name, err, errlen);
	return mon->ctl ? 0 : -1;
}

void moat_monitor_free(struct moat_monitor *mon)
{
	moat_control_close(mon->ctl);
	for (int i = 0; i < mon->n; i++) {
		for (int c = 0; c < mon->picos[i].nchans; c++)
			if (mon->picos[i].chans[c] >= 0)
				close(mon->picos[i].chans[c]);
		free(mon->picos[i].chans);
		if (mon->picos[i].snap_out >= 0)
			close(mon->picos[i].snap_out);
		for (int k = 0; k < mon->picos[i].nsnap_kids; k++)
			close(mon->picos[i].snap_kids[k]);
		if (mon->picos[i].snap_in >= 0)
			close(mon->picos[i].snap_in);
		if (mon->picos[i].snap_base >= 0)
			close(mon->picos[i].snap_base);
		if (mon->picos[i].snap_later >= 0)
			close(mon->picos[i].snap_later);
		if (mon->picos[i].snap_busy >= 0)
			close(mon->picos[i].snap_busy);
		free(mon->picos[i].snap_manifest);
		moat_sockets_close(&mon->picos[i]);
		moat_policy_free(mon->picos[i].policy);
	}
	free(mon->picos);
	free(mon);
}

/* What the monitor may hold for one picoprocess at once, of each kind: a
 * quarter of its memory limit, 1 to 64 MiB.  That memory is the
 * monitor's, outside the picoprocess's cgroup. */
static uint64_t held_budget(const struct pico *pp)
{
	uint64_t b = (pp->memory_max ? pp->memory_max : moat_default_memory()) / 4;
	return b < (1u << 20) ? 1u << 20 : b > MOAT_LISTING_BYTES_MAX ? MOAT_LISTING_BYTES_MAX : b;
}

static const char *default_pico_path(char *buf, size_t len);

const char *moat_pico_default(char *buf, size_t len)
{
	if (getenv("MOAT_PICO")) {
		snprintf(buf, len, "%s", getenv("MOAT_PICO"));
		return buf;
	}
	return default_pico_path(buf, len);
}

static const char *default_pico_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return "moat-pico";
	self[n] = 0;
	char *slash = strrchr(self, '/');
	*slash = 0;
	snprintf(buf, len, "%s/moat-pico", self);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, len, "%s/../lib/moat/moat-pico", self);
	return buf;
}

/* Once per monitor: the limits the manifest set that only a cgroup (or
 * the scratch tmpfs) enforces, where the host gave us none.  Defaults that
 * cannot be enforced are only mentioned with --debug. */
static void warn_unenforced(struct pico *pp, const struct moat_limits *l)
{
	static int warned;
	char what[160] = "";
	size_t n = 0;
	if (l->memory && !(pp->cg_enforced & MOAT_CG_MEMORY))
		n += (size_t)snprintf(what + n, sizeof(what) - n, "%smemory (RLIMIT_AS instead)",
				      n ? ", " : "");
	if (l->processes && !(pp->cg_enforced & MOAT_CG_PIDS))
		n += (size_t)snprintf(what + n, sizeof(what) - n, "%sprocesses (RLIMIT_NPROC instead)",
				      n ? ", " : "");
	if ((l->cpus || l->cpu_share) && !(pp->cg_enforced & MOAT_CG_CPU))
		n += (size_t)snprintf(what + n, sizeof(what) - n, "%scpus and cpu_share", n ? ", " : "");
	if (l->disk && pp->scratch[0] && !pp->scratch_quota)
		n += (size_t)snprintf(what + n, sizeof(what) - n, "%sdisk", n ? ", " : "");
	if (n && !warned) {
		warned = 1;
		fprintf(stderr, "moat: warning: no writable cgroup or mount for [Limits] %s; "
			"running without (see docs/manifest.md)\n", what);
	}
	if (pp->debug && !(pp->cg_enforced & MOAT_CG_MEMORY))
		fprintf(stderr, "moat[%s]: no memory cap (no writable memory cgroup)\n", pp->name);
	if (pp->debug && pp->scratch[0])
		fprintf(stderr, "moat[%s]: scratch %s: %s\n", pp->name, pp->scratch,
			pp->scratch_quota ? "a tmpfs of its own" : "a plain directory, no quota");
}

/* With the checkpointer in its stack, the run's snapshot manifest is
 * written now, from the manifest it was launched with (moat checkpoint
 * later adds the time); a resumed run's image waits for "snapshot:in". */
/* A resumed snapshot's /tmp, /dev/shm and copy-up layer, into the new
 * scratch before anything runs; the files belong to the picoprocess's
 * host identity, as the ones it made did. */
static int fill_scratch(struct pico *pp, int fd, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size < 0) {
		snprintf(err, errlen, "the saved /tmp: %s", strerror(errno));
		return -1;
	}
	if (st.st_size == 0)
		return 0;
	void *a = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (a == MAP_FAILED) {
		snprintf(err, errlen, "the saved /tmp: %s", strerror(errno));
		return -1;
	}
	uid_t uid = getuid() == 0 ? 65534 : getuid(); /* as sandbox.c runs it */
	gid_t gid = getuid() == 0 ? 65534 : getgid();
	int r = moat_scratch_load(pp, a, (size_t)st.st_size, uid, gid, err, errlen);
	munmap(a, (size_t)st.st_size);
	return r;
}

static void snapshot_setup(struct pico *pp, const struct moat_manifest *m,
			   const struct moat_launch_options *opt)
{
	if (opt->has_resume && !opt->has_later)
		pp->snap_in = fcntl(opt->resume_fd, F_DUPFD_CLOEXEC, 3);
	if (opt->has_resume && opt->has_base)
		pp->snap_base = fcntl(opt->base_fd, F_DUPFD_CLOEXEC, 3);
	if (opt->has_resume && opt->has_running)
		pp->snap_running = fcntl(opt->running_fd, F_DUPFD_CLOEXEC, 3);
	if (opt->has_resume && opt->has_later)
		pp->snap_later = fcntl(opt->later_fd, F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < m->nexts; i++)
		pp->ckpt |= !strcmp(m->exts[i].name, "ckpt");
	if (!pp->ckpt)
		return;
	pp->snap_manifest = moat_snap_manifest(m, opt->pico_path, pp->snap_why,
					       sizeof(pp->snap_why));
	if (!pp->snap_manifest && pp->debug)
		fprintf(stderr, "moat[%s]: no checkpoints: %s\n", pp->name, pp->snap_why);
}

static void snapshot_drop(struct pico *pp)
{
	if (pp->snap_in >= 0)
		close(pp->snap_in);
	if (pp->snap_running >= 0)
		close(pp->snap_running);
	if (pp->snap_base >= 0)
		close(pp->snap_base);
	if (pp->snap_later >= 0)
		close(pp->snap_later);
	free(pp->snap_manifest);
	pp->snap_in = pp->snap_running = pp->snap_base = pp->snap_later = -1;
	pp->snap_manifest = NULL;
}

static void reap(struct pico *pp);

/* The image, its base and saved /tmp that "snapshot:in" waited for
 * (has_later): one message, as moat/monitor.h says, from the process
 * that launched this one; checked there.  The saved /tmp goes into the
 * scratch now, before the request is answered: the app runs only after
 * its restore.  Its end, or a malformed message, fails the request. */
static int take_later(struct pico *pp)
{
	int32_t flags = 0;
	int fds[3] = { -1, -1, -1 }, nfds = 0, ok = 0;
	char err[512];
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { &flags, sizeof(flags) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	ssize_t n = recvmsg(pp->snap_later, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
	}
	int want = 1 + !!(flags & MOAT_LATER_BASE) + !!(flags & MOAT_LATER_SCRATCH);
	close(pp->snap_later);
	pp->snap_later = -1;
	if (n == (ssize_t)sizeof(flags) && !(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) &&
	    nfds == want) {
		int k = 0;
		pp->snap_in = fds[k++];
		if (flags & MOAT_LATER_BASE)
			pp->snap_base = fds[k++];
		ok = 1;
		if (flags & MOAT_LATER_SCRATCH) {
			ok = fill_scratch(pp, fds[k], err, sizeof(err)) == 0;
			close(fds[k]);
			if (!ok)
				fprintf(stderr, "moat: %s\n", err);
		}
	} else {
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
	}
	if (moat_channel_answer_in(pp, ok) == 0)
		return 0;
	reap(pp);
	return -1;
}

int moat_monitor_launch(struct moat_monitor *mon, const struct moat_manifest *m,
			const struct moat_launch_options *opt_in, char *err,
			size_t errlen)
{
	struct moat_launch_options opt = *opt_in;
	char pico_path[PATH_MAX + 32];
	if (!opt.pico_path)
		opt.pico_path = getenv("MOAT_PICO") ? getenv("MOAT_PICO")
			: default_pico_path(pico_path, sizeof(pico_path));
	struct pico *picos = realloc(mon->picos, (size_t)(mon->n + 1) * sizeof(*picos));
	if (!picos) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mon->picos = picos;
	struct pico *pp = &picos[mon->n];
	memset(pp, 0, sizeof(*pp));
	pp->snap_out = pp->snap_in = pp->snap_busy = pp->snap_running = pp->snap_base = -1;
	pp->snap_later = -1;
	pp->id = mon->n;
	pp->debug = opt.debug || opt.trace;
	const char *base = strrchr(m->entry, '/');
	snprintf(pp->name, sizeof(pp->name), "%s", base ? base + 1 : m->entry);
	pp->policy = moat_policy_new(m, err, errlen);
	if (!pp->policy)
		return -1;
	if (opt.learn && moat_policy_learn(pp->policy, err, errlen) < 0) {
		moat_policy_free(pp->policy);
		return -1;
	}
	err[0] = 0;
	pp->limits = m->limits;
	moat_cgroup_create(pp, &m->limits);
	pp->held_budget = held_budget(pp);
	if (moat_policy_listing_budget(pp->policy, pp->held_budget, listings_max()) < 0) {
		snprintf(err, errlen, "out of memory");
		moat_cgroup_remove(pp);
		moat_policy_free(pp->policy);
		return -1;
	}
	if (moat_scratch_create(pp, &m->limits, err, errlen) < 0 ||
	    (moat_policy_has_layers(pp->policy) &&
	     moat_scratch_upper(pp, m->overlay, err, errlen) < 0)) {
		moat_cgroup_remove(pp);
		moat_scratch_remove(pp);
		moat_policy_free(pp->policy);
		return -1;
	}
	if (opt.has_scratch && fill_scratch(pp, opt.scratch_fd, err, errlen) < 0) {
		moat_cgroup_remove(pp);
		moat_scratch_remove(pp);
		moat_policy_free(pp->policy);
		return -1;
	}
	warn_unenforced(pp, &m->limits);
	snapshot_setup(pp, m, &opt);
	int chan;
	if (moat_sandbox_spawn(pp, m, &opt, &chan, err, errlen) < 0) {
		snapshot_drop(pp);
		moat_cgroup_remove(pp);
		moat_scratch_remove(pp);
		moat_policy_free(pp->policy);
		return -1;
	}
	pp->chans = malloc(sizeof(int));
	if (!pp->chans) {
		kill(pp->pid, SIGKILL);
		waitpid(pp->pid, NULL, 0);
		close(chan);
		snapshot_drop(pp);
		moat_cgroup_remove(pp);
		moat_scratch_remove(pp);
		moat_policy_free(pp->policy);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	moat_channel_setup(chan);
	pp->chans[0] = chan;
	pp->nchans = 1;
	return mon->n++;
}

static void describe_end(struct pico *pp, int status)
{
	struct moat_exit *e = &pp->exit;
	if (pp->stopped_by) {
		e->signal = pp->stopped_by; /* moat ends as told: 128 + that signal */
		snprintf(e->reason, sizeof(e->reason),
			 "%s did not end within %d s of SIG%s: killed", pp->name,
			 MOAT_STOP_GRACE_MS / 1000, sigabbrev_np(pp->stopped_by));
		return;
	}
	if (e->by_monitor) {
		e->signal = SIGKILL;
		return;
	}
	if (pp->reported_exit) {
		if (e->signal)
			snprintf(e->reason, sizeof(e->reason), "%s killed by signal %d (%s)",
				 pp->name, e->signal, strsignal(e->signal));
		return;
	}
	if (WIFEXITED(status)) {
		e->code = WEXITSTATUS(status);
		if (!pp->hello)
			snprintf(e->reason, sizeof(e->reason),
				 "picoprocess failed to start (status %d)", e->code);
		return;
	}
	e->signal = WTERMSIG(status);
	if (e->signal == SIGKILL && moat_cgroup_oom_kills(pp)) {
		snprintf(e->reason, sizeof(e->reason),
			 "picoprocess killed: out of memory (its limit is %llu MiB%s)",
			 (unsigned long long)(pp->memory_max >> 20),
			 pp->limits.memory ? ", [Limits] memory" : ", half the host's RAM by default");
	} else if (e->signal == SIGXCPU) {
		snprintf(e->reason, sizeof(e->reason),
			 "picoprocess killed: CPU time limit exceeded ([Limits] cpu_seconds = %llu)",
			 (unsigned long long)pp->limits.cpu_seconds);
	} else if (e->signal == SIGXFSZ) {
		snprintf(e->reason, sizeof(e->reason),
			 "picoprocess killed: file size limit exceeded ([Limits] file_size = %llu bytes)",
			 (unsigned long long)pp->limits.file_size);
	} else if (e->signal == SIGSYS) {
		e->by_filter = 1;
		snprintf(e->reason, sizeof(e->reason),
			 "picoprocess killed by the seccomp filter: it attempted a host system call outside the allowlist");
	} else {
		snprintf(e->reason, sizeof(e->reason),
			 "picoprocess crashed: signal %d (%s)", e->signal,
			 strsignal(e->signal));
	}
}

/* Limits the picoprocess ran into on the way, added to its end's reason:
 * tasks it could not start, processes the OOM killer ended. */
static void note_limits(struct pico *pp)
{
	struct moat_exit *e = &pp->exit;
	unsigned long refused = moat_cgroup_task_refusals(pp);
	unsigned long oom = moat_cgroup_oom_kills(pp);
	size_t n = strlen(e->reason);
	int oom_said = strstr(e->reason, "out of memory") != NULL;
	if (refused)
		n += (size_t)snprintf(e->reason + n, sizeof(e->reason) - n,
				      "%s hit its task limit (%llu%s): %lu task%s refused",
				      n ? "; it" : "the picoprocess",
				      (unsigned long long)pp->tasks_max,
				      pp->limits.processes ? ", [Limits] processes" : "", refused,
				      refused == 1 ? "" : "s");
	if (oom && !oom_said && n < sizeof(e->reason))
		snprintf(e->reason + n, sizeof(e->reason) - n,
			 "%s%lu of its processes killed: out of memory (limit %llu MiB)",
			 n ? "; " : "", oom, (unsigned long long)(pp->memory_max >> 20));
}

static void reap(struct pico *pp)
{
	int status = 0;
	for (int c = 0; c < pp->nchans; c++) {
		if (pp->chans[c] >= 0)
			close(pp->chans[c]);
		pp->chans[c] = -1;
	}
	/* pid 1's channel closes when it dies, and with it the namespace and
	 * every process in it; a live pid 1 that closed its channel cannot be
	 * served any more, so it ends too. */
	if (waitpid(pp->pid, &status, WNOHANG) == 0) {
		kill(pp->pid, SIGKILL);
		while (waitpid(pp->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	describe_end(pp, status);
	note_limits(pp);
	moat_sockets_close(pp);
	moat_scratch_remove(pp);
	moat_cgroup_remove(pp);
	pp->done = 1;
}

static int count_open(const struct moat_monitor *mon)
{
	int n = 0;
	for (int i = 0; i < mon->n; i++)
		for (int c = 0; !mon->picos[i].done && c < mon->picos[i].nchans; c++)
			n += mon->picos[i].chans[c] >= 0;
	return n;
}

static int count_relay_fds(const struct moat_monitor *mon)
{
	int n = 0;
	for (int i = 0; i < mon->n; i++)
		n += mon->picos[i].done ? 0 : 2 * mon->picos[i].nrelays;
	return n;
}

/* What pfd[k] is: channel ci of picoprocess pi, or (ci < 0) the first of
 * its relays' descriptors. */
struct polled {
	int pi, ci;
};

/* One poll over the wake-up pipe and every open channel and relay; serve
 * what is ready.  A channel is served only if its slot still holds the
 * descriptor that was polled (slots are reused). */
static int serve_once(struct moat_monitor *mon, struct pollfd *pfd, struct polled *who,
		      int *nrelayfds)
{
	int k = 0;
	pfd[k] = (struct pollfd){ wake_pipe[0], POLLIN, 0 };
	who[k++] = (struct polled){ -1, -1 };
	for (int i = 0; i < mon->n; i++) {
		struct pico *pp = &mon->picos[i];
		for (int c = 0; !pp->done && c < pp->nchans; c++)
			if (pp->chans[c] >= 0) {
				/* waiting for its image, it asks nothing: only its end */
				short ev = c == 0 && pp->snap_waiting ? 0 : POLLIN;
				pfd[k] = (struct pollfd){ pp->chans[c], ev, 0 };
				who[k++] = (struct polled){ i, c };
			}
		if (!pp->done && pp->snap_waiting && pp->snap_later >= 0) {
			pfd[k] = (struct pollfd){ pp->snap_later, POLLIN, 0 };
			who[k++] = (struct polled){ i, -2 };
		}
		nrelayfds[i] = pp->done ? 0 : moat_relay_pollfds(pp, pfd + k);
		for (int j = 0; j < nrelayfds[i]; j++)
			who[k++] = (struct polled){ i, -1 };
	}
	int kc = k; /* then the control socket's */
	k += moat_control_pollfds(mon->ctl, pfd + k);
	int timeout = mon->stop_sig && !mon->stop_done ? (int)ms_until(&mon->stop_by) : -1;
	int ready = poll(pfd, (nfds_t)k, timeout);
	if (ready < 0 && errno != EINTR)
		return -1;
	if (ready < 0 || pfd[0].revents)
		forward_signals(mon);
	stop_overdue(mon);
	if (ready <= 0)
		return 0;
	moat_control_serve(mon->ctl, pfd + kc, k - kc, mon->n ? &mon->picos[0] : NULL,
			   mon->stop_sig != 0);
	for (int j = 1; j < kc; j++) {
		struct pico *pp = &mon->picos[who[j].pi];
		int c = who[j].ci;
		if (pp->done)
			continue;
		if (c == -2) {
			if (pfd[j].revents)
				take_later(pp);
			continue;
		}
		if (c < 0) { /* relays made while serving were not polled: only the first ones */
			moat_relay_serve(pp, pfd + j, nrelayfds[who[j].pi]);
			j += nrelayfds[who[j].pi] - 1;
			continue;
		}
		if (!pfd[j].revents || pp->chans[c] != pfd[j].fd)
			continue;
		if (moat_channel_serve(pp, c) == 0)
			continue;
		if (c == 0 || pp->exit.by_monitor) {
			reap(pp);
		} else { /* that process ended: its slot is free again */
			close(pp->chans[c]);
			pp->chans[c] = -1;
		}
	}
	return 0;
}

int moat_monitor_run(struct moat_monitor *mon)
{
	/* Setting up (the manifest, libseccomp's compiler) left freed heap
	 * behind: give its pages back before idling, as every sandbox has
	 * its own monitor. */
	malloc_trim(0);
	for (int open; (open = count_open(mon)) > 0;) {
		size_t n = (size_t)(1 + open + count_relay_fds(mon) + mon->n +
				    moat_control_npollfds(mon->ctl));
		struct pollfd *pfd = calloc(n, sizeof(*pfd));
		struct polled *who = calloc(n, sizeof(*who));
		int *nrelayfds = calloc((size_t)mon->n, sizeof(int));
		int r = pfd && who && nrelayfds ? serve_once(mon, pfd, who, nrelayfds) : -1;
		free(pfd);
		free(who);
		free(nrelayfds);
		if (r < 0)
			break;
	}
	return 0;
}

int moat_monitor_learned(struct moat_monitor *mon, int id, FILE *out)
{
	if (id < 0 || id >= mon->n)
		return -1;
	return moat_policy_learned(mon->picos[id].policy, out);
}

const struct moat_exit *moat_monitor_exit(struct moat_monitor *mon, int id)
{
	if (id < 0 || id >= mon->n || !mon->picos[id].done)
		return NULL;
	return &mon->picos[id].exit;
}

int moat_exit_status(const struct moat_exit *e)
{
	return e->signal ? 128 + e->signal : e->code;
}
