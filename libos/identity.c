/*
 * identity.c -- who the app is inside the picoprocess: user and group
 * ids and capabilities, all virtual.
 *
 * One uid and one gid stand for real, effective and saved ids.  The
 * virtual root may become anyone; anyone else may only stay who they
 * are.  Nothing here changes what the host lets the picoprocess do.
 */
#include "libos.h"
#include "linux_abi.h"
#include "uaccess.h"

long sys_getuid(void) { return proc.uid; }

long sys_getgid(void) { return proc.gid; }

static long put_three(uint32_t *r, uint32_t *e, uint32_t *s, uint32_t id)
{
	if (put_user(r, id) < 0 || put_user(e, id) < 0 || put_user(s, id) < 0)
		return -EFAULT;
	return 0;
}

long sys_getresuid(uint32_t *r, uint32_t *e, uint32_t *s)
{
	return put_three(r, e, s, proc.uid);
}

long sys_getresgid(uint32_t *r, uint32_t *e, uint32_t *s)
{
	return put_three(r, e, s, proc.gid);
}

/* No supplementary groups: nothing is copied, so no list can fault. */
long sys_getgroups(int n, uint32_t *list)
{
	(void)list;
	return n < 0 ? -EINVAL : 0;
}

static long set_id(uint32_t *cur, long want)
{
	if (want == -1 || (uint32_t)want == *cur)
		return 0;
	if (want < 0)
		return -EINVAL;
	if (proc.uid != 0)
		return -EPERM;
	*cur = (uint32_t)want;
	return 0;
}

long sys_setresuid(long r, long e, long s)
{
	long rc = set_id(&proc.uid, e != -1 ? e : r != -1 ? r : s);
	return rc;
}

long sys_setresgid(long r, long e, long s)
{
	return set_id(&proc.gid, e != -1 ? e : r != -1 ? r : s);
}

long sys_setuid(long uid) { return sys_setresuid(uid, uid, uid); }
long sys_setgid(long gid) { return sys_setresgid(gid, gid, gid); }
long sys_setreuid(long r, long e) { return sys_setresuid(r, e, -1); }
long sys_setregid(long r, long e) { return sys_setresgid(r, e, -1); }

long sys_setfsuid(long uid) { (void)uid; return proc.uid; }
long sys_setfsgid(long gid) { (void)gid; return proc.gid; }

long sys_setgroups(long n, const uint32_t *list)
{
	if (n < 0 || n > 65536)
		return -EINVAL;
	if (proc.uid != 0)
		return -EPERM;
	/* The list is read (as Linux does) though no group is kept. */
	for (long i = 0; i < n; i++) {
		uint32_t g;
		if (get_user(&g, list + i) < 0)
			return -EFAULT;
	}
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
		uint32_t all = proc.uid == 0 ? ~0u : 0;
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
