/*
 * trace_summary.c -- `moat trace summary FILE`: the table that
 * `--ext trace:summary` prints at each process's exit (like strace -c:
 * share of time, seconds, nanoseconds per call, calls and errors per
 * downcall, then the system calls the LibOS answered ENOSYS to), made
 * afterwards from a JSON Lines trace (`--ext trace:format=json,file=F`).
 *
 * The trace's lines are of two kinds (docs/extensions.md):
 *   {"pid":1,"tid":1,"call":"stream_open","args":[...],"result":4,"errno":null,"ns":22000}
 *   {"pid":1,"tid":1,"enosys":321,"name":"bpf"}
 * Only the top-level keys pid, call, result, ns, enosys and name are
 * read; "args" is skipped whatever it holds.  Lines that do not start
 * with '{' are skipped (with trace:summary,file=F the tables go to F
 * too).  The file is untrusted text: a JSON line that is not a trace
 * line is counted, said on stderr (exit status 1), and never read past
 * its end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../extensions/ext.h"
#include "tools.h"

struct stat_row { uint64_t calls, errors, ns; };
struct enosys_row { long nr; uint64_t count; char name[32]; };

struct proc {
	long pid;
	struct stat_row stats[MOAT_ABI_NCALLS];
	struct enosys_row *enosys;
	size_t nenosys;
};

static struct proc *procs;
static size_t nprocs;

/* This pid's counters, made on its first line (in order of appearance). */
static struct proc *proc_of(long pid)
{
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	struct proc *p = realloc(procs, (nprocs + 1) * sizeof(*p));
	if (!p) {
		fprintf(stderr, "moat trace summary: out of memory\n");
		exit(1);
	}
	procs = p;
	p = &procs[nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

/* ---------------------------------------------------------------- */
/* The few JSON values a trace line holds.                           */

struct fields {
	long pid, result, ns, enosys;
	int has_pid, has_result, has_ns, has_enosys;
	char call[64], name[32];
};

/* Past the string that starts at s (at its quote); NULL if unterminated.
 * Its text, unescaped where simple, goes to out (if any). */
static const char *skip_string(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	for (s++; *s && *s != '"'; s++) {
		char c = *s;
		if (c == '\\' && s[1])
			c = *++s;
		if (out && n + 1 < outlen)
			out[n++] = c;
	}
	if (out && outlen)
		out[n] = 0;
	return *s == '"' ? s + 1 : NULL;
}

/* Past one value (number, string, null, array or object): at the ','
 * or '}' after it; NULL if the line ends inside it. */
static const char *skip_value(const char *s)
{
	int depth = 0;
	for (;;) {
		if (*s == '"') {
			s = skip_string(s, NULL, 0);
			if (!s)
				return NULL;
			continue;
		}
		if (!*s)
			return NULL;
		if (*s == '[' || *s == '{') {
			depth++;
		} else if (*s == ']' || *s == '}') {
			if (!depth)
				return s;
			depth--;
		} else if (*s == ',' && !depth) {
			return s;
		}
		s++;
	}
}

static void take(struct fields *f, const char *key, const char *v)
{
	char *end;
	long n = strtol(v, &end, 10);
	int num = end != v;
	if (!strcmp(key, "pid") && num)
		f->pid = n, f->has_pid = 1;
	else if (!strcmp(key, "result") && num)
		f->result = n, f->has_result = 1;
	else if (!strcmp(key, "ns") && num)
		f->ns = n, f->has_ns = 1;
	else if (!strcmp(key, "enosys") && num)
		f->enosys = n, f->has_enosys = 1;
	else if (!strcmp(key, "call") && *v == '"')
		skip_string(v, f->call, sizeof(f->call));
	else if (!strcmp(key, "name") && *v == '"')
		skip_string(v, f->name, sizeof(f->name));
}

/* The top-level keys of one line: 0, or -1 if it is not a JSON object. */
static int parse_line(const char *s, struct fields *f)
{
	char key[16];
	memset(f, 0, sizeof(*f));
	if (*s++ != '{')
		return -1;
	while (*s == '"') {
		s = skip_string(s, key, sizeof(key));
		if (!s || *s++ != ':')
			return -1;
		take(f, key, s);
		s = skip_value(s);
		if (!s)
			return -1;
		if (*s == ',')
			s++;
	}
	return *s == '}' ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Counting and printing, as extensions/trace prints them.           */

/* An ENOSYS line: counted under its number, in order of appearance. */
static int count_enosys(struct proc *p, const struct fields *f)
{
	for (size_t i = 0; i < p->nenosys; i++) {
		if (p->enosys[i].nr == f->enosys) {
			p->enosys[i].count++;
			return 0;
		}
	}
	struct enosys_row *e = realloc(p->enosys, (p->nenosys + 1) * sizeof(*e));
	if (!e)
		return -1;
	p->enosys = e;
	e = &e[p->nenosys++];
	*e = (struct enosys_row){ .nr = f->enosys, .count = 1 };
	snprintf(e->name, sizeof(e->name), "%s", f->name);
	return 0;
}

static int count_line(const struct fields *f)
{
	if (!f->has_pid)
		return -1;
	struct proc *p = proc_of(f->pid);
	if (f->has_enosys)
		return count_enosys(p, f);
	int i = ext_call_index(f->call);
	if (i < 0 || !f->has_result || !f->has_ns)
		return -1;
	p->stats[i].calls++;
	p->stats[i].errors += f->result < 0;
	p->stats[i].ns += (uint64_t)(f->ns > 0 ? f->ns : 0);
	return 0;
}

static void print_row(const char *name, uint64_t calls, uint64_t errors, uint64_t ns,
		      uint64_t total)
{
	uint64_t pct = total ? ns * 10000 / total : 0;
	printf("%3lu.%02lu %4lu.%06lu %11lu %9lu %9lu %s\n", (unsigned long)(pct / 100),
	       (unsigned long)(pct % 100), (unsigned long)(ns / 1000000000),
	       (unsigned long)(ns % 1000000000 / 1000), (unsigned long)(calls ? ns / calls : 0),
	       (unsigned long)calls, (unsigned long)errors, name);
}

static void print_proc(const struct proc *p)
{
	static const char rule[] = "------ ----------- ----------- --------- --------- ----------------\n";
	uint64_t total = 0, calls = 0, errors = 0;
	for (int i = 0; i < MOAT_ABI_NCALLS; i++)
		total += p->stats[i].ns, calls += p->stats[i].calls, errors += p->stats[i].errors;
	printf("downcalls of pid %ld:\n%% time     seconds   nsecs/call     calls    errors downcall\n%s",
	       p->pid, rule);
	for (int i = 0; i < MOAT_ABI_NCALLS; i++)
		if (p->stats[i].calls)
			print_row(ext_call_names[i], p->stats[i].calls, p->stats[i].errors,
				  p->stats[i].ns, total);
	fputs(rule, stdout);
	print_row("total", calls, errors, total, total);
	printf("system calls answered ENOSYS (pid %ld):\n     calls syscall\n", p->pid);
	for (size_t k = 0; k < p->nenosys; k++)
		printf("%10lu %s (%ld)\n", (unsigned long)p->enosys[k].count, p->enosys[k].name,
		       p->enosys[k].nr);
}

static int summarise(const char *path)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		fprintf(stderr, "moat trace summary: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char *line = NULL;
	size_t cap = 0, bad = 0, lines = 0;
	ssize_t n;
	struct fields f;
	while ((n = getline(&line, &cap, in)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		if (line[0] != '{')
			continue; /* not a JSON line: a summary table written to the same file */
		lines++;
		if (parse_line(line, &f) < 0 || count_line(&f) < 0)
			bad++;
	}
	free(line);
	fclose(in);
	for (size_t i = 0; i < nprocs; i++)
		print_proc(&procs[i]);
	if (!lines)
		fprintf(stderr, "moat trace summary: %s: no JSON trace lines (write it with "
			"--ext trace:format=json,file=%s)\n", path, path);
	else if (bad)
		fprintf(stderr, "moat trace summary: %s: %zu of %zu JSON lines are not trace lines\n",
			path, bad, lines);
	if (bad || !lines)
		return 1;
	return 0;
}

/* moat trace summary FILE */
int moat_cmd_trace(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "summary")) {
		fprintf(stderr, "usage: moat trace summary FILE   (FILE from --ext "
			"trace:format=json,file=FILE)\n");
		return 2;
	}
	return summarise(argv[2]);
}
