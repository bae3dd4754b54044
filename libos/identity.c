/*
 * identity.c -- who the app is inside the picoprocess: user and group
 * ids, supplementary groups and capabilities, all virtual.
 *
 * The ids follow Linux: real, effective, saved and file-system ids,
 * changed by the set*id calls under the same rules (an unprivileged
 * process may only move between the ids it holds; the virtual root,
 * effective uid 0, may become anyone), so a process that dropped to
 * nobody with its saved id left at 0 can become root again, and one that
 * dropped all three cannot.  "Privileged" means effective uid 0 for the
 * set*id calls and fsuid 0 for file access, as Linux's capabilities
 * follow those ids.  Nothing here changes what the host lets the
 * picoprocess do: the monitor's grants still decide every access, and
 * the checks here can only refuse more.
 */
#include <linux/fcntl.h>

#include "libos.h"
#include "linux_abi.h"
#include "uaccess.h"

#define NGROUPS_MAX_L 65536

/* At start every id is the manifest's, with the primary group as the one
 * supplementary group (as a login gives). */
void identity_init(uint32_t uid, uint32_t gid)
{
	proc.uid = proc.euid = proc.suid = proc.fsuid = uid;
	proc.gid = proc.egid = proc.sgid = proc.fsgid = gid;
	proc.groups = kmalloc(sizeof(uint32_t));
	if (proc.groups) {
		proc.groups[0] = gid;
		proc.ngroups = 1;
	}
}

/* execve keeps the ids; the saved ids become the effective ones, as on
 * Linux.  (Set-user-id files run with the caller's ids: the bit is
 * recorded and shown, not acted on.) */
void identity_on_exec(void)
{
	proc.suid = proc.fsuid = proc.euid;
	proc.sgid = proc.fsgid = proc.egid;
}

long sys_getuid(void) { return proc.uid; }
long sys_getgid(void) { return proc.gid; }
long sys_geteuid(void) { return proc.euid; }
long sys_getegid(void) { return proc.egid; }

static long put_three(uint32_t *r, uint32_t *e, uint32_t *s,
		      uint32_t rv, uint32_t ev, uint32_t sv)
{
	if (put_user(r, rv) < 0 || put_user(e, ev) < 0 || put_user(s, sv) < 0)
		return -EFAULT;
	return 0;
}

long sys_getresuid(uint32_t *r, uint32_t *e, uint32_t *s)
{
	return put_three(r, e, s, proc.uid, proc.euid, proc.suid);
}

long sys_getresgid(uint32_t *r, uint32_t *e, uint32_t *s)
{
	return put_three(r, e, s, proc.gid, proc.egid, proc.sgid);
}

long sys_getgroups(int n, uint32_t *list)
{
	if (n < 0)
		return -EINVAL;
	if (n == 0)
		return proc.ngroups;
	if (n < proc.ngroups)
		return -EINVAL;
	for (int i = 0; i < proc.ngroups; i++)
		if (put_user(list + i, proc.groups[i]) < 0)
			return -EFAULT;
	return proc.ngroups;
}

/* One set of ids (user or group): real, effective, saved, fs. */
struct ids {
	uint32_t *r, *e, *s, *fs;
};

static struct ids uids(void) { return (struct ids){ &proc.uid, &proc.euid, &proc.suid, &proc.fsuid }; }
static struct ids gids(void) { return (struct ids){ &proc.gid, &proc.egid, &proc.sgid, &proc.fsgid }; }

static int privileged(void) { return proc.euid == 0; }

/* Ids are 32-bit (uid_t): the register's upper half means nothing, and
 * (uid_t)-1 is "leave alone" (or no id at all, for set[ug]id). */
static long norm(long v)
{
	uint32_t u = (uint32_t)v;
	return u == 0xffffffffu ? -1 : (long)u;
}

static int holds(struct ids x, long v)
{
	return v == -1 || (uint32_t)v == *x.r || (uint32_t)v == *x.e || (uint32_t)v == *x.s;
}

/* setres[ug]id: each id given must be one held, unless privileged. */
static long set_res(struct ids x, long r, long e, long s)
{
	r = norm(r), e = norm(e), s = norm(s);
	if (!privileged() && (!holds(x, r) || !holds(x, e) || !holds(x, s)))
		return -EPERM;
	if (r != -1)
		*x.r = (uint32_t)r;
	if (e != -1)
		*x.e = (uint32_t)e;
	if (s != -1)
		*x.s = (uint32_t)s;
	*x.fs = *x.e;
	return 0;
}

/* setre[ug]id: the real id may become the real or effective one, the
 * effective any held; the saved id follows the new effective one when
 * the real id is set or the effective one differs from the old real. */
static long set_re(struct ids x, long r, long e)
{
	r = norm(r), e = norm(e);
	uint32_t old_r = *x.r;
	if (!privileged()) {
		if (r != -1 && (uint32_t)r != *x.r && (uint32_t)r != *x.e)
			return -EPERM;
		if (!holds(x, e))
			return -EPERM;
	}
	if (r != -1)
		*x.r = (uint32_t)r;
	if (e != -1)
		*x.e = (uint32_t)e;
	if (r != -1 || (e != -1 && (uint32_t)e != old_r))
		*x.s = *x.e;
	*x.fs = *x.e;
	return 0;
}

/* set[ug]id: privileged, all four; otherwise the effective (and fs) id
 * may become the real or saved one. */
static long set_one(struct ids x, long v)
{
	v = norm(v);
	if (v == -1)
		return -EINVAL;
	if (privileged()) {
		*x.r = *x.e = *x.s = *x.fs = (uint32_t)v;
		return 0;
	}
	if ((uint32_t)v != *x.r && (uint32_t)v != *x.s)
		return -EPERM;
	*x.e = *x.fs = (uint32_t)v;
	return 0;
}

/* setfs[ug]id: always the old fs id; the new one only if held (or the
 * fs id itself), unless privileged. */
static long set_fs(struct ids x, long v)
{
	uint32_t old = *x.fs;
	v = norm(v);
	if (v == -1)
		return old;
	if (privileged() || holds(x, v) || (uint32_t)v == *x.fs)
		*x.fs = (uint32_t)v;
	return old;
}

long sys_setresuid(long r, long e, long s) { return set_res(uids(), r, e, s); }
long sys_setresgid(long r, long e, long s) { return set_res(gids(), r, e, s); }
long sys_setreuid(long r, long e) { return set_re(uids(), r, e); }
long sys_setregid(long r, long e) { return set_re(gids(), r, e); }
long sys_setuid(long uid) { return set_one(uids(), uid); }
long sys_setgid(long gid) { return set_one(gids(), gid); }
long sys_setfsuid(long uid) { return set_fs(uids(), uid); }
long sys_setfsgid(long gid) { return set_fs(gids(), gid); }

long sys_setgroups(long n, const uint32_t *list)
{
	if (n < 0 || n > NGROUPS_MAX_L)
		return -EINVAL;
	if (!privileged())
		return -EPERM;
	uint32_t *g = kmalloc(n ? (size_t)n * sizeof(uint32_t) : 1);
	if (!g)
		return -ENOMEM;
	for (long i = 0; i < n; i++) {
		if (get_user(&g[i], list + i) < 0) {
			kfree(g);
			return -EFAULT;
		}
	}
	kfree(proc.groups);
	proc.groups = g;
	proc.ngroups = (int)n;
	return 0;
}

/* Is the caller in group g (its fs group or a supplementary one)? */
int id_in_group(uint32_t g)
{
	if (g == proc.fsgid)
		return 1;
	for (int i = 0; i < proc.ngroups; i++)
		if (proc.groups[i] == g)
			return 1;
	return 0;
}

/* May ids (uid, gid, in their groups) have 'want' (4 read, 2 write,
 * 1 execute/search) on an object described by 'a'?  Root may read and
 * write anything and execute what anyone may. */
static long may(const struct moat_attr *a, int want, uint32_t uid, int in_group)
{
	uint32_t m = a->mode;
	if (uid == 0) {
		if ((want & 1) && a->kind != MOAT_KIND_DIR && !(m & 0111))
			return -EACCES;
		return 0;
	}
	uint32_t bits = uid == a->uid ? m >> 6 : in_group ? m >> 3 : m;
	return (uint32_t)want & ~bits & 7 ? -EACCES : 0;
}

long id_permission(const struct moat_attr *a, int want)
{
	return may(a, want, proc.fsuid, id_in_group(a->gid));
}

/* access(2) asks as the real ids (AT_EACCESS: the effective ones). */
long id_access(const struct moat_attr *a, int want, int eaccess)
{
	if (eaccess)
		return may(a, want, proc.euid, a->gid == proc.egid || id_in_group(a->gid));
	return may(a, want, proc.uid, a->gid == proc.gid || id_in_group(a->gid));
}

/* open(2) of an existing file or directory: what its flags ask for. */
long id_may_open(const struct moat_attr *a, int flags)
{
	if (a->kind != MOAT_KIND_FILE && a->kind != MOAT_KIND_DIR)
		return 0;
	if (proc.fsuid == 0)
		return 0; /* nothing to refuse that the host allows */
	int acc = flags & O_ACCMODE;
	int want = acc == O_RDONLY ? 4 : acc == O_WRONLY ? 2 : 6;
	if (flags & O_TRUNC)
		want |= 2;
	if (flags & O_PATH)
		return 0;
	return id_permission(a, want);
}

/* Files made now are owned by the fs ids; the monitor shows a new file
 * as the manifest's user unless told otherwise (docs/manifest.md). */
int id_needs_stamp(void)
{
	return proc.fsuid != boot->uid || proc.fsgid != boot->gid;
}

/* Linux's rules for chown(2) of an object owned by a->uid:a->gid: 0 or
 * -EPERM.  'uid'/'gid' -1 leave that id alone. */
long id_may_chown(const struct moat_attr *a, long uid, long gid)
{
	if (proc.fsuid == 0)
		return 0;
	if (uid != -1 && ((uint32_t)uid != a->uid || proc.fsuid != a->uid))
		return -EPERM;
	if (gid != -1 && (proc.fsuid != a->uid ||
			  ((uint32_t)gid != a->gid && !id_in_group((uint32_t)gid))))
		return -EPERM;
	return 0;
}

/* chmod(2): the owner or root; the set-group-id bit stays only for a
 * member of the file's group (or root). */
long id_chmod_mode(const struct moat_attr *a, uint32_t *mode)
{
	if (proc.fsuid == 0)
		return 0;
	if (proc.fsuid != a->uid)
		return -EPERM;
	if (a->kind != MOAT_KIND_DIR && !id_in_group(a->gid))
		*mode &= ~02000u;
	return 0;
}

/* The virtual root has every capability inside; others have none.  They
 * mean nothing to the host either way. */
long sys_capget(struct l_cap_header *uh, struct l_cap_data *d)
{
	struct l_cap_header h;
	if (copy_from_user(&h, uh, sizeof(h)) < 0)
		return -EFAULT;
	if (h.version != 0x20080522 && h.version != 0x20071026) {
		h.version = 0x20080522;
		if (copy_to_user(uh, &h, sizeof(h)) < 0)
			return -EFAULT;
		return d ? -EINVAL : 0;
	}
	if (h.pid != 0 && h.pid != proc.pid)
		return -ESRCH;
	if (d) {
		uint32_t all = proc.euid == 0 ? ~0u : 0;
		struct l_cap_data out[2] = {
			{ all, all, 0 }, { all & 0x1ff, all & 0x1ff, 0 },
		};
		return copy_to_user(d, out, sizeof(out));
	}
	return 0;
}

long sys_capset(struct l_cap_header *uh, const struct l_cap_data *d)
{
	struct l_cap_header h;
	struct l_cap_data in[2];
	if (copy_from_user(&h, uh, sizeof(h)) < 0 ||
	    copy_from_user(in, d, sizeof(in)) < 0)
		return -EFAULT;
	if (h.pid != 0 && h.pid != proc.pid)
		return -EPERM;
	return 0; /* dropping capabilities inside changes nothing outside */
}
