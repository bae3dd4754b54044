/*
 * policy_int.h -- what policy.c (mappings) and union.c (package layers)
 * share.  Not a public contract: include/moat/policy.h is.
 */
#ifndef MOAT_POLICY_INT_H
#define MOAT_POLICY_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "moat/channel.h"
#include "moat/policy.h"

struct mapping {
	char *vpath;
	size_t vlen;
	int dirfd;       /* O_PATH: the directory, or a file's parent */
	char *name;      /* "." for a directory, the basename for a file */
	int writable;
	dev_t dev;       /* the host object's identity (guard.c) */
	ino_t ino;
	int *inner;      /* writable: other mappings nested in its host tree */
	int ninner;
};

struct union_view;   /* union.c */

struct moat_policy {
	struct mapping *maps;
	int n;
	struct moat_net_mapping *nets;
	int nnets;
	struct union_view *u;  /* package layers, NULL without packages */
	struct mapping upper;  /* where writes to package paths go */
	struct moat_learn *learn;
	int guards_ready;      /* guard.c: each mapping's inner list is made */
	struct listing_ledger *listings; /* listing.c; made at the first listing */
	uid_t host_uid;        /* owner.c: the monitor's own ids, shown as */
	gid_t host_gid;
	uint32_t app_uid, app_gid; /* the manifest's user in writable mappings */
};

/* owner.c: the owner recorded for a file in a writable mapping. */
struct owner_rec {
	uint32_t uid, gid, sbits;
};
int owner_read_at(int dirfd, const char *name, mode_t mode, struct owner_rec *o);
int owner_read_fd(int fd, mode_t mode, struct owner_rec *o);
void owner_present(const struct moat_policy *p, int have, const struct owner_rec *o,
		   const struct stat *st, uint32_t *uid, uint32_t *gid, uint32_t *sbits);
void owner_stat_at(const struct moat_policy *p, int dirfd, const char *name,
		   const struct stat *st, struct moat_attr *a);
int owner_setattr(const struct moat_policy *p, int dirfd, const char *name,
		  unsigned mask, unsigned mode, uint32_t uid, uint32_t gid,
		  struct moat_owner_reply *out);

struct lower_node;   /* one visible path of the merged package layers */

/* Where a walk ended: a name in a host directory, a directory that
 * exists only because mappings sit beneath it, or a path of the union of
 * package layers (m == &p->upper). */
struct target {
	struct mapping *m; /* NULL for a synthetic directory */
	int dirfd;         /* owned by the walk; close with target_done;
			      -1 for a union path whose upper parent is absent */
	char name[NAME_MAX + 1];
	char vpath[MOAT_PATH_MAX];
	int in_upper;      /* union: the name exists in the upper directory */
	const struct lower_node *lower; /* union: visible in the packages */
};

/* Directory listings: linux_dirent64 records, sealed into a memfd. */
struct listing {
	char *buf;
	size_t len, cap;
	size_t max;  /* refuse to grow past this (ENOMEM); 0: no limit */
};
int listing_add(struct listing *l, uint64_t ino, uint8_t type, const char *name);
int listing_has(const struct listing *l, const char *name, size_t n);
int listing_open(struct moat_policy *p, struct target *t, int hostdir, int from_union);

/* listing.c: the listings a picoprocess holds, within a budget of bytes
 * and a count (see there).  make_room frees room for a listing of BYTES
 * (-ENOMEM if it exceeds the whole budget); add then enters the
 * monitor's writable descriptor of it, which the ledger owns. */
struct listing_ledger;
struct listing_ledger *ledger_new(size_t max_bytes, int max_count);
void ledger_free(struct listing_ledger *lg);
int ledger_make_room(struct listing_ledger *lg, size_t bytes);
int ledger_add(struct listing_ledger *lg, int fd, size_t bytes);
size_t ledger_max_bytes(const struct listing_ledger *lg);
size_t ledger_bytes(const struct listing_ledger *lg);

/* Rewrite 'path' as symlink 'target' met at virtual directory 'vdir',
 * followed by 'tail' ('..' handled lexically). */
int rewrite_link(const char *target, const char *vdir, const char *tail,
		 char *path);

/* learn.c */
struct moat_learn;
void learn_free(struct moat_learn *l);
struct mapping *learn_mapping(struct moat_policy *p);
void learn_note(struct moat_policy *p, const char *asked, const struct target *t);
void learn_listing(struct moat_policy *p, int on);

/* guard.c: mappings nested in a writable mapping's host tree.  0, or
 * -EROFS for a write on or in a read-only mapping's host object, -EBUSY
 * for moving or removing a name that is or holds a mapping's object. */
int guard_write(struct moat_policy *p, const struct target *t);
int guard_move(struct moat_policy *p, const struct target *t);
void guard_forget(struct moat_policy *p);

#define UNION_RESTART 1

int union_open(struct moat_policy *p, char *const *layers, int n, char *err,
	       size_t errlen);
void union_free(struct union_view *u);
int union_walk(struct moat_policy *p, struct target *t, int follow_last);
int union_stat(struct moat_policy *p, const struct target *t, struct moat_attr *a);
int union_readlink(struct moat_policy *p, const struct target *t, char *buf,
		   size_t len);
int union_open_lower(struct moat_policy *p, const struct target *t,
		     struct moat_open_reply *reply, int *fd);
int union_list(struct moat_policy *p, const struct target *t, struct listing *l);
int union_copy_up(struct moat_policy *p, struct target *t);
int union_prepare_create(struct moat_policy *p, struct target *t, int *was_whiteout);
int union_delete(struct moat_policy *p, struct target *t, int dir);
int union_whiteout(struct moat_policy *p, struct target *t);
int union_is_dir(const struct target *t);

#endif /* MOAT_POLICY_INT_H */
