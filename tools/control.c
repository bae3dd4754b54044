/*
 * control.c -- moat ps and moat kill: talk to named picoprocesses through
 * their control sockets (include/moat/control.h, docs/control.md).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "moat/control.h"
#include "tools.h"

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void human(char *out, size_t len, uint64_t b)
{
	if (b >= (1ull << 30))
		snprintf(out, len, "%.1fG", (double)b / (1ull << 30));
	else if (b >= (1ull << 20))
		snprintf(out, len, "%.1fM", (double)b / (1ull << 20));
	else
		snprintf(out, len, "%lluK", (unsigned long long)(b >> 10));
}

static void duration(char *out, size_t len, uint64_t ms)
{
	uint64_t s = ms / 1000;
	if (s >= 86400)
		snprintf(out, len, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
	else
		snprintf(out, len, "%02llu:%02llu:%02llu", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
}

/* The program name from a monitor: printable ASCII only. */
static void clean_app(char *app, size_t len)
{
	app[len - 1] = 0;
	for (char *p = app; *p; p++)
		if (*p <= ' ' || *p > '~')
			*p = '?';
	if (!app[0])
		snprintf(app, len, "-");
}

int moat_cmd_ps(int argc, char **argv)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], err[512];
	if (argc > 1) {
		int help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");
		fprintf(help ? stdout : stderr,
			"usage: moat ps\n"
			"List your named picoprocesses (moat run --name): name, pid of moat,\n"
			"program, state, uptime, memory and how it was measured.\n");
		return help ? 0 : 2;
	}
	if (moat_ctl_dir(dir, sizeof(dir), err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: %s\n", err);
		return 1;
	}
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "moat: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".sock"))
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
		if (moat_ctl_name_check(name, err, sizeof(err)) < 0)
			continue; /* not one of ours: leave it alone */
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				break;
			names = nn;
		}
		names[n++] = strdup(name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	int rss = 0;
	printf("%-20s %8s %-16s %-9s %10s %8s %s\n", "NAME", "PID", "APP", "STATE", "UPTIME",
	       "MEMORY", "MEASURED");
	for (size_t i = 0; i < n; i++) {
		struct moat_ctl_reply rep;
		struct moat_ctl_status st;
		char up[32], mem[32], app[sizeof(st.app) + 1];
		const char *state = NULL;
		int fd = moat_ctl_connect(dir, names[i]);
		if (fd < 0 && errno == ECONNREFUSED) {
			moat_ctl_reap(dir, names[i]);
			free(names[i]);
			continue;
		}
		if (fd < 0 && errno == ENOENT) {
			free(names[i]);
			continue;
		}
		memset(&st, 0, sizeof(st));
		if (fd < 0)
			state = errno == EPERM ? "foreign" : "unreachable";
		else if (moat_ctl_call(fd, MOAT_CTL_STATUS, 0, NULL, 0, &rep) < 0)
			state = errno == EAGAIN ? "no-answer" : "bad-reply";
		else if (rep.status || rep.len < sizeof(st))
			state = "bad-reply";
		else
			memcpy(&st, rep.payload, sizeof(st));
		if (fd >= 0)
			close(fd);
		if (state) {
			printf("%-20s %8s %-16s %-9s %10s %8s %s\n", names[i], "-", "-", state, "-",
			       "-", "-");
			free(names[i]);
			continue;
		}
		memcpy(app, st.app, sizeof(st.app));
		app[sizeof(st.app)] = 0;
		clean_app(app, sizeof(app));
		duration(up, sizeof(up), st.uptime_ms);
		if (st.mem_source == MOAT_CTL_MEM_NONE)
			snprintf(mem, sizeof(mem), "-");
		else
			human(mem, sizeof(mem), st.memory);
		rss |= st.mem_source == MOAT_CTL_MEM_RSS;
		printf("%-20s %8d %-16s %-9s %10s %8s %s\n", names[i], (int)st.monitor_pid, app,
		       st.state == MOAT_CTL_STOPPING ? "stopping" : "running", up, mem,
		       st.mem_source == MOAT_CTL_MEM_CGROUP ? "cgroup"
		       : st.mem_source == MOAT_CTL_MEM_RSS ? "rss" : "-");
		free(names[i]);
	}
	free(names);
	if (rss)
		printf("# rss: the sum of VmRSS of its processes (no memory cgroup); "
		       "pages they share are counted in each\n");
	return 0;
}

/* TERM, SIGTERM, term or 15; RTMIN+N too.  0 if none. */
static int parse_signal(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end != s && !*end)
		return v >= 1 && v < NSIG ? (int)v : 0;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev && !strcasecmp(s, abbrev))
			return sig;
	}
	if (!strncasecmp(s, "RTMIN+", 6)) {
		v = strtol(s + 6, &end, 10);
		if (end != s + 6 && !*end && v >= 0 && SIGRTMIN + v <= SIGRTMAX)
			return SIGRTMIN + (int)v;
	}
	return 0;
}

int moat_cmd_kill(int argc, char **argv)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], err[512];
	if (argc < 2 || argc > 3 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		int help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
		fprintf(help ? stdout : stderr,
			"usage: moat kill NAME [SIGNAL]\n"
			"Send SIGNAL (default TERM; a name like TERM, SIGTERM or term, or a\n"
			"number) to the picoprocess registered as NAME, as if to its moat.\n");
		return help ? 0 : 2;
	}
	const char *name = argv[1];
	if (moat_ctl_name_check(name, err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: kill: invalid name: %s\n", err);
		return 2;
	}
	int sig = argc == 3 ? parse_signal(argv[2]) : SIGTERM;
	if (!sig) {
		fprintf(stderr, "moat: kill: unknown signal (give a name like TERM or a number 1-%d)\n",
			NSIG - 1);
		return 2;
	}
	if (moat_ctl_dir(dir, sizeof(dir), err, sizeof(err)) < 0) {
		fprintf(stderr, "moat: %s\n", err);
		return 1;
	}
	moat_ctl_sweep(dir);
	int fd = moat_ctl_connect(dir, name);
	if (fd < 0 && errno == ECONNREFUSED)
		moat_ctl_reap(dir, name);
	if (fd < 0 && (errno == ECONNREFUSED || errno == ENOENT)) {
		fprintf(stderr, "moat: kill: no picoprocess named %s\n", name);
		return 1;
	}
	if (fd < 0) {
		fprintf(stderr, "moat: kill: %s: %s\n", name, strerror(errno));
		return 1;
	}
	struct moat_ctl_reply rep;
	int r = moat_ctl_call(fd, MOAT_CTL_KILL, (uint32_t)sig, NULL, 0, &rep);
	int e = errno;
	close(fd);
	if (r < 0) {
		fprintf(stderr, "moat: kill: %s: %s\n", name, strerror(e));
		return 1;
	}
	if (rep.status) {
		fprintf(stderr, "moat: kill: %s: %s\n", name, strerror(-rep.status));
		return 1;
	}
	return 0;
}
