/*
 * guard.c -- mappings nested in a writable mapping's host tree.
 *
 * With --rw /srv:/w and --ro /srv/b/c:/ro (or --ro /srv/b/c:/w/b/c), the
 * host directory /srv/b/c is reached two ways: read-only as a mapping,
 * and through the writable /w as /w/b/c.  The rule: a host object under
 * a read-only mapping is read-only whichever virtual path reaches it.
 * So a write resolved through a writable mapping is refused (EROFS) when
 * the written name, or any directory between it and the writable
 * mapping's root, is a read-only mapping's host object.  And a name
 * whose host tree holds another mapping's host object (read-only or
 * writable) can be neither moved nor removed: EBUSY, as Linux says for
 * a mount point; otherwise renaming /w/b to /w/b2 would carry the
 * read-only tree out from under its mapping, to be written as /w/b2/c.
 *
 * A writable mapping nested in a read-only one (--ro / --rw /tmp/x) is
 * the ordinary, more specific grant: only objects strictly beneath a
 * writable mapping's root count.  Identity is st_dev/st_ino, found by
 * walking ".." upward; this costs host calls only for writes through a
 * writable mapping that has another mapping's host object beneath it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_int.h"

static int same(const struct stat *st, dev_t dev, ino_t ino)
{
	return st->st_dev == dev && st->st_ino == ino;
}

typedef int (*hit_fn)(const struct stat *st, const void *arg);

/* Walk from directory 'fd' up through "..", up to but not including the
 * directory (stop_dev, stop_ino), or to "/".  1 if hit() is true for a
 * directory on the way; 1 too if the walk fails (refuse, do not guess). */
static int up_walk(int fd, dev_t stop_dev, ino_t stop_ino, hit_fn hit, const void *arg)
{
	int cur = openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC), r = 0;
	for (int depth = 0;; depth++) {
		struct stat st, up;
		if (cur < 0 || depth > MOAT_PATH_MAX / 2 || fstat(cur, &st) < 0) {
			r = 1;
			break;
		}
		if (same(&st, stop_dev, stop_ino))
			break;
		if (hit(&st, arg)) {
			r = 1;
			break;
		}
		int next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(cur);
		cur = next;
		if (next >= 0 && fstat(next, &up) == 0 && same(&up, st.st_dev, st.st_ino))
			break; /* "/": its ".." is itself */
	}
	if (cur >= 0)
		close(cur);
	return r;
}

static int is_dir_mapping(const struct mapping *m)
{
	return m->name[0] == '.' && !m->name[1];
}

static int hit_root(const struct stat *st, const void *arg)
{
	const struct mapping *w = arg;
	return same(st, w->dev, w->ino);
}

/* Is mapping n's host object strictly beneath writable mapping w's root? */
static int nested_in(const struct mapping *n, const struct mapping *w)
{
	if (n == w || (n->dev == w->dev && n->ino == w->ino))
		return 0;
	/* from n's directory (or a file's parent) up to "/": w's root? */
	return up_walk(n->dirfd, 0, 0, hit_root, w);
}

/* Note, for each writable mapping, the other mappings nested in it.
 * Done once, after the last mapping is added. */
static void guards_prepare(struct moat_policy *p)
{
	if (p->guards_ready)
		return;
	p->guards_ready = 1;
	for (int i = 0; i < p->n; i++) {
		struct mapping *w = &p->maps[i];
		free(w->inner);
		w->inner = NULL;
		w->ninner = 0;
		if (!w->writable || !is_dir_mapping(w))
			continue;
		for (int j = 0; j < p->n; j++) {
			if (!nested_in(&p->maps[j], w))
				continue;
			int *in = realloc(w->inner, (size_t)(w->ninner + 1) * sizeof(int));
			if (!in)
				continue;
			w->inner = in;
			w->inner[w->ninner++] = j;
		}
	}
}

struct ro_set {
	const struct moat_policy *p;
	const struct mapping *w;
};

static int hit_read_only(const struct stat *st, const void *arg)
{
	const struct ro_set *s = arg;
	for (int k = 0; k < s->w->ninner; k++) {
		const struct mapping *n = &s->p->maps[s->w->inner[k]];
		if (!n->writable && same(st, n->dev, n->ino))
			return 1;
	}
	return 0;
}

/* A write to t through a writable mapping: -EROFS if it lands on or in
 * a read-only mapping's host object. */
int guard_write(struct moat_policy *p, const struct target *t)
{
	if (!t->m || !t->m->writable || t->m == &p->upper || !p->n ||
	    t->m < p->maps || t->m >= p->maps + p->n)
		return 0;
	guards_prepare(p);
	struct ro_set s = { p, t->m };
	int any = 0;
	for (int k = 0; k < t->m->ninner; k++)
		any |= !p->maps[t->m->inner[k]].writable;
	if (!any)
		return 0; /* only writable mappings nested: nothing read-only here */
	struct stat st;
	if (fstatat(t->dirfd, t->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !same(&st, t->m->dev, t->m->ino) && hit_read_only(&st, &s))
		return -EROFS;
	return up_walk(t->dirfd, t->m->dev, t->m->ino, hit_read_only, &s) ? -EROFS : 0;
}

static int hit_object(const struct stat *st, const void *arg)
{
	const struct stat *x = arg;
	return same(st, x->st_dev, x->st_ino);
}

/* t is about to be moved or removed: -EBUSY if it is, or holds, another
 * mapping's host object. */
int guard_move(struct moat_policy *p, const struct target *t)
{
	if (!t->m || !t->m->writable || t->m == &p->upper || !p->n ||
	    t->m < p->maps || t->m >= p->maps + p->n)
		return 0;
	guards_prepare(p);
	struct stat x;
	if (!t->m->ninner || fstatat(t->dirfd, t->name, &x, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* nothing there: nothing to carry away */
	for (int k = 0; k < t->m->ninner; k++) {
		const struct mapping *n = &p->maps[t->m->inner[k]];
		if (same(&x, n->dev, n->ino))
			return -EBUSY;
		if (S_ISDIR(x.st_mode) &&
		    up_walk(n->dirfd, t->m->dev, t->m->ino, hit_object, &x))
			return -EBUSY;
	}
	return 0;
}

void guard_forget(struct moat_policy *p)
{
	p->guards_ready = 0;
}
