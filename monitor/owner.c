/*
 * owner.c -- who owns a file as the picoprocess sees it.
 *
 * chown inside a picoprocess never changes a host file's owner.  The
 * owner the app gives, and the set-user-id and set-group-id bits (which
 * the monitor never sets on the host: it may be root), are recorded in
 * an extended attribute of the file: user.moat.owner on regular files
 * and directories, trusted.moat.owner on anything else (a symlink takes
 * no user.* attribute; only a root monitor can keep those).  Records
 * live only in writable mappings: the app sets one only where it may
 * write, and the monitor reads them only there, so a read-only mapping
 * shows each file's host owner.
 *
 * A record is hostile input (the app wrote it, or anyone who may write
 * the host file): it is parsed strictly and only changes what stat
 * reports.  The host's own owner and mode still decide every access the
 * monitor makes or allows.
 *
 * Without a record, a file in a writable mapping owned by the monitor's
 * host user (and group) shows as the manifest's user (and group): what
 * the app created is the app's, as in a user namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "policy_int.h"

#define OWNER_USER "user.moat.owner"
#define OWNER_TRUSTED "trusted.moat.owner"
#define OWNER_MAX 40 /* "4294967294:4294967294:6000" and room */

static const char *owner_attr(mode_t mode)
{
	return S_ISREG(mode) || S_ISDIR(mode) ? OWNER_USER : OWNER_TRUSTED;
}

/* One unsigned number in 'base' ending at 'end' (a ':' or the NUL). */
static int parse_num(const char **s, int base, char end, unsigned long max,
		     uint32_t *out)
{
	unsigned long v = 0;
	const char *p = *s;
	int n = 0;
	for (; *p >= '0' && *p <= (base == 8 ? '7' : '9'); p++, n++) {
		v = v * (unsigned long)base + (unsigned long)(*p - '0');
		if (v > max || n > 10)
			return -1;
	}
	if (n == 0 || *p != end)
		return -1;
	*out = (uint32_t)v;
	*s = p + 1;
	return 0;
}

/* "UID:GID:BITS", decimal ids (never (uid_t)-1) and octal set-id bits. */
static int owner_parse(const char *buf, ssize_t n, struct owner_rec *o)
{
	char s[OWNER_MAX];
	if (n <= 0 || n >= (ssize_t)sizeof(s))
		return -1;
	memcpy(s, buf, (size_t)n);
	s[n] = 0;
	const char *p = s;
	if (parse_num(&p, 10, ':', 0xfffffffeUL, &o->uid) < 0 ||
	    parse_num(&p, 10, ':', 0xfffffffeUL, &o->gid) < 0 ||
	    parse_num(&p, 8, 0, 06000, &o->sbits) < 0 || (o->sbits & ~06000u))
		return -1;
	return 0;
}

/* (dirfd, name) as one path, for the l*xattr calls: the directory is
 * pinned by its descriptor and the name is one component, never
 * followed. */
static int at_path(char *buf, size_t len, int dirfd, const char *name)
{
	int n = snprintf(buf, len, "/proc/self/fd/%d/%s", dirfd, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int owner_read_at(int dirfd, const char *name, mode_t mode, struct owner_rec *o)
{
	char path[64 + NAME_MAX], buf[OWNER_MAX];
	if (at_path(path, sizeof(path), dirfd, name) < 0)
		return -1;
	ssize_t n = lgetxattr(path, owner_attr(mode), buf, sizeof(buf));
	return owner_parse(buf, n, o);
}

int owner_read_fd(int fd, mode_t mode, struct owner_rec *o)
{
	char buf[OWNER_MAX];
	ssize_t n = fgetxattr(fd, owner_attr(mode), buf, sizeof(buf));
	return owner_parse(buf, n, o);
}

static int owner_write_at(int dirfd, const char *name, mode_t mode,
			  const struct owner_rec *o)
{
	char path[64 + NAME_MAX], buf[OWNER_MAX];
	int n = snprintf(buf, sizeof(buf), "%u:%u:%o", o->uid, o->gid, o->sbits);
	if (at_path(path, sizeof(path), dirfd, name) < 0)
		return -ENAMETOOLONG;
	return lsetxattr(path, owner_attr(mode), buf, (size_t)n, 0) < 0 ? -errno : 0;
}

/* The owner shown without a record. */
static void owner_default(const struct moat_policy *p, const struct stat *st,
			  struct owner_rec *o)
{
	o->uid = st->st_uid == p->host_uid ? p->app_uid : st->st_uid;
	o->gid = st->st_gid == p->host_gid ? p->app_gid : st->st_gid;
	o->sbits = 0;
}

void owner_present(const struct moat_policy *p, int have, const struct owner_rec *o,
		   const struct stat *st, uint32_t *uid, uint32_t *gid, uint32_t *sbits)
{
	struct owner_rec d;
	if (!have) {
		owner_default(p, st, &d);
		o = &d;
	}
	*uid = o->uid;
	*gid = o->gid;
	*sbits = o->sbits;
}

/* stat of (dirfd, name), whose host stat is in 'a' already. */
void owner_stat_at(const struct moat_policy *p, int dirfd, const char *name,
		   const struct stat *st, struct moat_attr *a)
{
	struct owner_rec o;
	uint32_t sbits;
	int have = owner_read_at(dirfd, name, st->st_mode, &o) == 0;
	owner_present(p, have, &o, st, &a->uid, &a->gid, &sbits);
	a->mode |= sbits;
}

/* Record the owner (OWNER) and the set-id bits of 'mode' (MODE) of the
 * object at (dirfd, name); nothing is written when nothing changes.  A record that cannot be written fails a
 * chown (-EPERM) and leaves a chmod without its set-id bits, as before. */
int owner_setattr(const struct moat_policy *p, int dirfd, const char *name,
		  unsigned mask, unsigned mode, uint32_t uid, uint32_t gid,
		  struct moat_owner_reply *out)
{
	struct stat st;
	struct owner_rec o, n;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	int have = owner_read_at(dirfd, name, st.st_mode, &o) == 0;
	if (!have)
		owner_default(p, &st, &o);
	if ((mask & MOAT_ATTR_OWNER) && (uid == (uint32_t)-1 || gid == (uint32_t)-1))
		return -EINVAL;
	n = o;
	if (mask & MOAT_ATTR_OWNER)
		n.uid = uid, n.gid = gid;
	if (mask & MOAT_ATTR_MODE)
		n.sbits = mode & 06000;
	if (!memcmp(&n, &o, sizeof(n)))
		return 0; /* nothing changes */
	int r = owner_write_at(dirfd, name, st.st_mode, &n);
	if (r < 0) /* no xattrs here, or a host file the monitor may not write */
		return mask & MOAT_ATTR_OWNER ? -EPERM : 0;
	*out = (struct moat_owner_reply){ .dev = st.st_dev, .ino = st.st_ino,
		.uid = n.uid, .gid = n.gid, .sbits = n.sbits, .valid = 1 };
	return 0;
}
