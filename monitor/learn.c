/*
 * learn.c -- learn mode: the picoprocess may read whatever it asks for on
 * the host (read-only, beneath its own mappings), and the monitor notes
 * each existing file it reached and each directory it listed.  The notes
 * become the [Namespace] of a manifest that grants exactly that.
 *
 * A path reached through symbolic links is noted twice, as the app named
 * it and as it resolved, both mapped to the resolved host object, so that
 * the learned manifest needs no link the app did not itself read.
 *
 * The names are the app's: any byte but '/' and NUL.  They are written as
 * percent-encoded file URIs (moat_manifest_put_map), so a name holding a
 * newline, "[Namespace.Writable]", ';' or " = " stays one name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_int.h"

struct learned {
	char *vpath, *hpath;
	int dir;
};

struct moat_learn {
	struct mapping map;      /* host "/" at "/", read-only, lowest */
	struct learned *items;
	int n, cap;
	int listing;             /* an open is under way: directories count */
};

int moat_policy_learn(struct moat_policy *p, char *err, size_t errlen)
{
	struct moat_learn *l = calloc(1, sizeof(*l));
	l->map = (struct mapping){ .vpath = "/", .vlen = 1, .name = "." };
	l->map.dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->map.dirfd < 0) {
		snprintf(err, errlen, "learn mode: cannot open /: %s", strerror(errno));
		free(l);
		return -1;
	}
	p->learn = l;
	return 0;
}

void learn_free(struct moat_learn *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->n; i++) {
		free(l->items[i].vpath);
		free(l->items[i].hpath);
	}
	free(l->items);
	close(l->map.dirfd);
	free(l);
}

struct mapping *learn_mapping(struct moat_policy *p)
{
	return p->learn ? &p->learn->map : NULL;
}

void learn_listing(struct moat_policy *p, int on)
{
	if (p->learn)
		p->learn->listing = on;
}

static void add(struct moat_learn *l, const char *vpath, const char *hpath, int dir)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].vpath, vpath))
			return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->items = realloc(l->items, (size_t)l->cap * sizeof(*l->items));
	}
	l->items[l->n++] = (struct learned){ strdup(vpath), strdup(hpath), dir };
}

/* The walk for 'asked' ended at t, inside the learning mapping. */
void learn_note(struct moat_policy *p, const char *asked, const struct target *t)
{
	struct stat st;
	if (!p->learn || t->m != &p->learn->map || !strcmp(t->vpath, "/") ||
	    fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISLNK(st.st_mode))
		return;
	int dir = S_ISDIR(st.st_mode);
	if (dir && !p->learn->listing)
		return; /* a directory only stat'ed is there anyway if anything beneath is */
	add(p->learn, t->vpath, t->vpath, dir);
	if (strcmp(asked, t->vpath))
		add(p->learn, asked, t->vpath, dir);
}

static int by_vpath(const void *a, const void *b)
{
	return strcmp(((const struct learned *)a)->vpath, ((const struct learned *)b)->vpath);
}

/* Is item i granted anyway, by a learned directory above it? */
static int covered(const struct moat_learn *l, int i)
{
	const struct learned *it = &l->items[i];
	for (int j = 0; j < l->n; j++) {
		const struct learned *d = &l->items[j];
		size_t vl = strlen(d->vpath), hl = strlen(d->hpath);
		if (j != i && d->dir && !strncmp(it->vpath, d->vpath, vl) && it->vpath[vl] == '/' &&
		    !strncmp(it->hpath, d->hpath, hl) && !strcmp(it->hpath + hl, it->vpath + vl))
			return 1;
	}
	return 0;
}

int moat_policy_learned(struct moat_policy *p, FILE *out)
{
	struct moat_learn *l = p->learn;
	if (!l)
		return -1;
	if (l->n)
		qsort(l->items, (size_t)l->n, sizeof(*l->items), by_vpath);
	for (int i = 0; i < l->n; i++)
		if (!covered(l, i))
			moat_manifest_put_map(out, l->items[i].vpath, l->items[i].hpath);
	return 0;
}
