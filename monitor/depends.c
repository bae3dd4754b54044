/*
 * depends.c -- versions, version ranges, and resolving a package's
 * dependencies into the stack of layers a picoprocess sees.
 *
 * Resolution is greedy: each name gets the highest version on the search
 * path that satisfies the first range asking for it; a later range that
 * the chosen version does not satisfy is a conflict, reported with both
 * askers, rather than a search for another combination.  Only the app's
 * own manifest grants anything: a dependency contributes files, never
 * policy.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moat/manifest.h"
#include "moat/package.h"

#define MAX_PARTS 8

static int parse_version(const char *v, unsigned long parts[MAX_PARTS])
{
	int n = 0;
	memset(parts, 0, MAX_PARTS * sizeof(parts[0]));
	for (;;) {
		if (*v < '0' || *v > '9' || n == MAX_PARTS)
			return -1;
		char *end;
		parts[n++] = strtoul(v, &end, 10);
		if (end - v > 9)
			return -1;
		v = end;
		if (!*v)
			return n;
		if (*v++ != '.')
			return -1;
	}
}

int moat_version_check(const char *version)
{
	unsigned long p[MAX_PARTS];
	return parse_version(version, p) < 0 ? -1 : 0;
}

static int version_cmp(const unsigned long *a, const unsigned long *b)
{
	for (int i = 0; i < MAX_PARTS; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* One constraint "OP VERSION": 1, 0, or -1 if malformed. */
static int constraint_match(const char *c, const unsigned long *have)
{
	while (*c == ' ')
		c++;
	static const char *const ops[] = { ">=", "<=", "!=", ">", "<", "=" };
	const char *op = "=";
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(c, ops[i], strlen(ops[i]))) {
			op = ops[i];
			c += strlen(op);
			break;
		}
	while (*c == ' ')
		c++;
	char v[64];
	size_t n = strcspn(c, " ");
	if (n >= sizeof(v) || c[n + strspn(c + n, " ")])
		return -1;
	memcpy(v, c, n);
	v[n] = 0;
	unsigned long want[MAX_PARTS];
	if (parse_version(v, want) < 0)
		return -1;
	int cmp = version_cmp(have, want);
	if (!strcmp(op, ">=")) return cmp >= 0;
	if (!strcmp(op, "<=")) return cmp <= 0;
	if (!strcmp(op, "!=")) return cmp != 0;
	if (!strcmp(op, ">")) return cmp > 0;
	if (!strcmp(op, "<")) return cmp < 0;
	return cmp == 0;
}

int moat_version_match(const char *range, const char *version)
{
	unsigned long have[MAX_PARTS];
	if (parse_version(version, have) < 0)
		return -1;
	if (!range)
		return 1;
	char buf[256];
	if (snprintf(buf, sizeof(buf), "%s", range) >= (int)sizeof(buf) || !buf[0])
		return -1;
	int all = 1;
	for (char *save, *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		int r = constraint_match(c, have);
		if (r < 0)
			return -1;
		all &= r;
	}
	return all;
}

/* A package found on the search path, with its manifest. */
struct candidate {
	char *path;
	struct moat_manifest m;
	int state; /* 0 unvisited, 1 on the stack, 2 done */
};

struct resolver {
	struct candidate *c;
	int n;
	struct candidate **chosen; /* by order of choice */
	int nchosen;
	char **stack;
	int depth;
	const char *search;
	char *err;
	size_t errlen;
};

static int load_candidate(struct resolver *r, const char *path, struct candidate *c)
{
	char err[512];
	struct moat_package *p = moat_package_open(path, 0, r->err, r->errlen);
	if (!p)
		return -1;
	size_t len;
	const char *text = moat_package_manifest(p, &len);
	int rc = moat_manifest_parse_package(text, len, path, &c->m, err, sizeof(err));
	moat_package_close(p);
	if (rc < 0) {
		snprintf(r->err, r->errlen, "%s", err);
		moat_manifest_free(&c->m);
		return -1;
	}
	if (!c->m.name || !c->m.version) {
		snprintf(r->err, r->errlen, "%s: [Identity] name and version: missing; every package needs both",
			 path);
		moat_manifest_free(&c->m);
		return -1;
	}
	c->path = strdup(path);
	return 0;
}

/* Every readable *.mpk in the search directories; unreadable ones are
 * skipped here and reported only if nothing else satisfies a need. */
static void scan(struct resolver *r, const char *dirs)
{
	char *copy = strdup(dirs);
	for (char *save, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		DIR *dir = opendir(d);
		if (!dir)
			continue;
		for (struct dirent *e; (e = readdir(dir));) {
			size_t l = strlen(e->d_name);
			if (l < 5 || strcmp(e->d_name + l - 4, ".mpk"))
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
			struct candidate c = { 0 };
			char *saved = r->err;
			char scratch[512];
			r->err = scratch; /* a broken bystander is not an error yet */
			int ok = load_candidate(r, path, &c) == 0;
			r->err = saved;
			if (!ok)
				continue;
			r->c = realloc(r->c, (size_t)(r->n + 1) * sizeof(*r->c));
			r->c[r->n++] = c;
		}
		closedir(dir);
	}
	free(copy);
}

static struct candidate *chosen_named(struct resolver *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if ((r->c[i].state == 1 || r->c[i].state == 2) && !strcmp(r->c[i].m.name, name))
			return &r->c[i];
	return NULL;
}

static struct candidate *best(struct resolver *r, const struct moat_dependency *d)
{
	struct candidate *b = NULL;
	for (int i = 0; i < r->n; i++) {
		struct candidate *c = &r->c[i];
		if (c->state == 3 || strcmp(c->m.name, d->name) ||
		    moat_version_match(d->range, c->m.version) != 1)
			continue;
		unsigned long vc[MAX_PARTS], vb[MAX_PARTS];
		parse_version(c->m.version, vc);
		if (!b || (parse_version(b->m.version, vb), version_cmp(vc, vb) > 0))
			b = c;
	}
	return b;
}

static int visit(struct resolver *r, struct candidate *c);

static int need(struct resolver *r, struct candidate *who, const struct moat_dependency *d)
{
	struct candidate *have = chosen_named(r, d->name);
	if (have && have->state == 1) {
		int len = snprintf(r->err, r->errlen, "dependency cycle: ");
		for (int i = 0; i < r->depth && len < (int)r->errlen; i++)
			len += snprintf(r->err + len, r->errlen - (size_t)len, "%s -> ", r->stack[i]);
		if (len < (int)r->errlen)
			snprintf(r->err + len, r->errlen - (size_t)len, "%s", d->name);
		return -1;
	}
	if (have) {
		if (moat_version_match(d->range, have->m.version) == 1)
			return 0;
		snprintf(r->err, r->errlen,
			 "version conflict: %s %s needs %s %s, but %s %s was chosen (%s)",
			 who->m.name, who->m.version, d->name, d->range, d->name,
			 have->m.version, have->path);
		return -1;
	}
	struct candidate *c = best(r, d);
	const char *seen = NULL;
	for (int i = 0; !c && i < r->n; i++)
		if (r->c[i].state != 3 && !strcmp(r->c[i].m.name, d->name))
			seen = r->c[i].m.version;
	if (!c && seen) {
		snprintf(r->err, r->errlen,
			 "version conflict: %s %s needs %s %s, and the search path (%s) has only %s %s",
			 who->m.name, who->m.version, d->name, d->range, r->search, d->name, seen);
		return -1;
	}
	if (!c) {
		snprintf(r->err, r->errlen,
			 "missing dependency: %s %s needs package '%s'%s%s, and none on the search path (%s) has it",
			 who->m.name, who->m.version, d->name, d->range ? " version " : "",
			 d->range ? d->range : "", r->search);
		return -1;
	}
	return visit(r, c);
}

static int visit(struct resolver *r, struct candidate *c)
{
	c->state = 1;
	r->stack = realloc(r->stack, (size_t)(r->depth + 1) * sizeof(*r->stack));
	r->stack[r->depth++] = c->m.name;
	for (int i = 0; i < c->m.ndeps; i++)
		if (need(r, c, &c->m.deps[i]) < 0)
			return -1;
	r->depth--;
	c->state = 2;
	r->chosen = realloc(r->chosen, (size_t)(r->nchosen + 1) * sizeof(*r->chosen));
	r->chosen[r->nchosen++] = c;
	return 0;
}

int moat_packages_resolve(const char *app, const char *search,
			  struct moat_manifest *m, char *err, size_t errlen)
{
	struct resolver r = { .err = err, .errlen = errlen };
	char dirs[8192];
	const char *slash = strrchr(app, '/');
	snprintf(dirs, sizeof(dirs), "%s%s%.*s", search ? search : "", search ? ":" : "",
		 slash ? (int)(slash - app) : 1, slash ? (slash == app ? "/" : app) : ".");
	r.search = dirs;
	struct candidate top = { 0 };
	if (load_candidate(&r, app, &top) < 0)
		return -1;
	scan(&r, dirs);
	/* The app itself takes its name's place on the search path. */
	for (int i = 0; i < r.n; i++)
		if (!strcmp(r.c[i].m.name, top.m.name))
			r.c[i].state = 3; /* never chosen */
	r.c = realloc(r.c, (size_t)(r.n + 1) * sizeof(*r.c));
	r.c[r.n] = top;
	struct candidate *app_c = &r.c[r.n++];
	int rc = visit(&r, app_c);
	if (rc == 0) {
		*m = app_c->m;
		app_c->m = (struct moat_manifest){ 0 };
		for (int i = 0; i < r.nchosen; i++)
			moat_manifest_add_layer(m, r.chosen[i]->path);
	}
	for (int i = 0; i < r.n; i++) {
		moat_manifest_free(&r.c[i].m);
		free(r.c[i].path);
	}
	free(r.c);
	free(r.chosen);
	free(r.stack);
	return rc;
}
