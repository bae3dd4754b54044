/*
 * shm.c -- System V shared memory: shmget, shmat, shmdt, shmctl.
 *
 * A segment is a file of the private scratch, /dev/shm/.moat-sysv.shm.ID,
 * mapped shared wherever it is attached; its description is a slot of
 * the registry (ipc.h).  A process keeps its own list of attachments, so
 * that fork, exec and exit keep the segment's attach count, and a segment
 * removed with IPC_RMID goes when its last attachment does.
 */
#include "ipc.h"
#include "uaccess.h"

#define PAGE 4096UL
#define SHM_RDONLY 010000
#define SHM_RND    020000
#define SHM_REMAP  040000
#define SHM_EXEC   0100000
#define SHM_HUGETLB 04000
#define SHM_NORESERVE 010000
#define SHM_LOCK 11
#define SHM_UNLOCK 12
#define SHM_STAT 13
#define SHM_INFO 14
#define SHM_STAT_ANY 15
#define SHM_DEST   01000 /* in the mode: removed, waiting for its last detach */
#define SHM_LOCKED 02000

/* This process's attachments. */
struct attach {
	uint64_t addr, len;
	uint32_t slot, seq;
};
#define MAX_ATTACH 256
static struct attach attached[MAX_ATTACH];

static void seg_uri(char *uri, size_t len, unsigned slot, uint32_t seq)
{
	rt_snprintf(uri, len, "file:/dev/shm/.moat-sysv.shm.%u.%u", slot, seq);
}

static void seg_name(char *name, size_t len, const struct ipc_shm *s)
{
	rt_snprintf(name, len, "/SYSV%08x (deleted)", (unsigned)s->o.key);
}

/* The segment's file goes with its slot (registry locked). */
static void seg_destroy(struct ipc_shm *s, unsigned slot)
{
	char uri[80];
	seg_uri(uri, sizeof(uri), slot, s->o.seq);
	abi->stream_delete(uri, 0);
	memset(s, 0, sizeof(*s));
}

static struct ipc_shm *shm_of(struct ipc_registry *r, int id)
{
	return (struct ipc_shm *)ipc_find(&r->shm[0].o, sizeof(r->shm[0]),
					  IPC_SHM_SLOTS, id);
}

static long shm_create(struct ipc_registry *r, unsigned slot, int32_t key,
		       uint64_t size, int flags)
{
	if (size < 1 || size > IPC_SHMMAX)
		return -EINVAL;
	struct ipc_shm *s = &r->shm[slot];
	memset(s, 0, sizeof(*s));
	ipc_obj_init(&s->o, key, flags, r);
	char uri[80];
	seg_uri(uri, sizeof(uri), slot, s->o.seq);
	long h = abi->stream_open(uri, MOAT_ACCESS_RDWR,
				  MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE, 0600);
	if (h >= 0) {
		long e = abi->stream_set_length((moat_handle)h, RT_ALIGN_UP(size, PAGE));
		abi->object_close((moat_handle)h);
		h = e < 0 ? e : 0;
	}
	if (h < 0) {
		memset(s, 0, sizeof(*s));
		return h == -ENOSPC || h == -EFBIG ? -ENOMEM : -ENOSPC;
	}
	s->size = size;
	s->cpid = proc.pid;
	return ipc_id(&s->o, slot);
}

long sys_shmget(int32_t key, uint64_t size, int flags)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	long slot = ipc_get(&r->shm[0].o, sizeof(r->shm[0]), IPC_SHM_SLOTS, key, flags, r);
	if (slot >= 0) {
		struct ipc_shm *s = &r->shm[slot];
		if (s->size < size)
			err = -EINVAL;
		else if (!ipc_allowed(&s->o, flags))
			err = -EACCES;
		else
			err = ipc_id(&s->o, (unsigned)slot);
	} else if (slot <= -1000) {
		err = shm_create(r, (unsigned)(-slot - 1000), key, size, flags);
	} else {
		err = slot;
	}
	ipc_unlock(r);
	return err;
}

static struct attach *attach_free(void)
{
	for (int i = 0; i < MAX_ATTACH; i++)
		if (!attached[i].len)
			return &attached[i];
	return NULL;
}

/* Map segment s at addr (0: anywhere). */
static long shm_map(struct ipc_shm *s, unsigned slot, uint64_t addr, int flags)
{
	uint32_t prot = MOAT_PROT_READ | (flags & SHM_RDONLY ? 0 : MOAT_PROT_WRITE) |
			(flags & SHM_EXEC ? MOAT_PROT_EXEC : 0);
	char uri[80];
	seg_uri(uri, sizeof(uri), slot, s->o.seq);
	long h = abi->stream_open(uri, flags & SHM_RDONLY ? MOAT_ACCESS_READ : MOAT_ACCESS_RDWR,
				  0, 0);
	if (h < 0)
		return h == -EMFILE ? -ENOMEM : -EIDRM;
	uint64_t len = RT_ALIGN_UP(s->size, PAGE);
	uint32_t mflags = MOAT_MAP_SHARED |
			  (addr ? (flags & SHM_REMAP ? MOAT_MAP_FIXED : MOAT_MAP_NOREPLACE) : 0);
	long m = abi->stream_map((moat_handle)h, (void *)addr, 0, len, prot, mflags);
	abi->object_close((moat_handle)h);
	if (m < 0)
		return m == -EEXIST ? -EINVAL : -ENOMEM;
	char name[40];
	seg_name(name, sizeof(name), s);
	if (addr && (flags & SHM_REMAP))
		vma_remove((uint64_t)m, len);
	vma_add((uint64_t)m, len, prot, VMA_SHARED, 0, name);
	return m;
}

long sys_shmat(int id, uint64_t addr, int flags)
{
	if (addr & (PAGE - 1)) {
		if (!(flags & SHM_RND))
			return -EINVAL;
		addr &= ~(PAGE - 1);
	}
	if ((flags & SHM_REMAP) && !addr)
		return -EINVAL;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	struct ipc_shm *s = shm_of(r, id);
	struct attach *a = attach_free();
	int want = 4 | (flags & SHM_RDONLY ? 0 : 2) | (flags & SHM_EXEC ? 1 : 0);
	if (!s)
		err = -EINVAL;
	else if (!ipc_allowed(&s->o, want))
		err = -EACCES;
	else if (!a)
		err = -EMFILE;
	else
		err = shm_map(s, (unsigned)(id % IPC_SEQ_MULT), addr, flags);
	if (err >= 0) {
		*a = (struct attach){ (uint64_t)err, RT_ALIGN_UP(s->size, PAGE),
				      (uint32_t)(id % IPC_SEQ_MULT), s->o.seq };
		s->nattch++;
		s->atime = ipc_now();
		s->lpid = proc.pid;
	}
	ipc_unlock(r);
	return err;
}

/* One attachment ends (registry locked); unmap it if 'unmap'. */
static void detach(struct ipc_registry *r, struct attach *a, int unmap)
{
	if (unmap) {
		abi->stream_unmap((void *)a->addr, a->len);
		vma_remove(a->addr, a->len);
	}
	struct ipc_shm *s = a->slot < IPC_SHM_SLOTS ? &r->shm[a->slot] : NULL;
	if (s && s->o.used && s->o.seq == a->seq) {
		if (s->nattch)
			s->nattch--;
		s->dtime = ipc_now();
		s->lpid = proc.pid;
		if (s->removed && !s->nattch)
			seg_destroy(s, a->slot);
	}
	a->len = 0;
}

/* Is the attachment still mapped as the app left it (not unmapped or
 * replaced by a later mmap)? */
static int still_mapped(const struct attach *a)
{
	struct vma_info v;
	return vma_lookup(a->addr, &v) && v.start == a->addr && v.kind == VMA_SHARED &&
	       v.name && !strncmp(v.name, "/SYSV", 5);
}

long sys_shmdt(uint64_t addr)
{
	if (addr & (PAGE - 1))
		return -EINVAL;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	err = -EINVAL;
	for (int i = 0; i < MAX_ATTACH; i++) {
		struct attach *a = &attached[i];
		if (a->len && a->addr == addr) {
			/* munmap ended an attachment on Linux: here, now */
			err = still_mapped(a) ? 0 : -EINVAL;
			detach(r, a, err == 0);
			break;
		}
	}
	ipc_unlock(r);
	return err;
}

static void shm_fill(struct l_shmid64_ds *d, const struct ipc_shm *s)
{
	memset(d, 0, sizeof(*d));
	ipc_fill_perm(&d->shm_perm, &s->o);
	d->shm_segsz = s->size;
	d->shm_atime = s->atime;
	d->shm_dtime = s->dtime;
	d->shm_ctime = s->o.ctime;
	d->shm_cpid = s->cpid;
	d->shm_lpid = s->lpid;
	d->shm_nattch = s->nattch;
}

static int shm_highest(struct ipc_registry *r)
{
	int hi = -1;
	for (int i = 0; i < IPC_SHM_SLOTS; i++)
		if (r->shm[i].o.used)
			hi = i;
	return hi;
}

/* IPC_INFO and SHM_INFO: the limits, or what is in use. */
static long shm_info(struct ipc_registry *r, int cmd, void *buf)
{
	uint64_t out[9] = { 0 };
	if (cmd == L_IPC_INFO) {
		/* shmmax, shmmin, shmmni, shmseg, shmall */
		out[0] = IPC_SHMMAX;
		out[1] = 1;
		out[2] = IPC_SHM_SLOTS;
		out[3] = MAX_ATTACH;
		out[4] = IPC_SHMMAX / PAGE;
	} else {
		/* int used_ids; then shm_tot, shm_rss, shm_swp (pages), ... */
		uint32_t used = 0;
		for (int i = 0; i < IPC_SHM_SLOTS; i++) {
			if (r->shm[i].o.used) {
				used++;
				out[1] += RT_ALIGN_UP(r->shm[i].size, PAGE) / PAGE;
			}
		}
		out[2] = out[1];
		memcpy(&out[0], &used, sizeof(used));
	}
	if (copy_to_user(buf, out, cmd == L_IPC_INFO ? 9 * 8 : 6 * 8) < 0)
		return -EFAULT;
	int hi = shm_highest(r);
	return hi < 0 ? 0 : hi;
}

static long shm_rmid(struct ipc_shm *s, unsigned slot)
{
	if (!ipc_owner(&s->o))
		return -EPERM;
	s->removed = 1;
	s->o.mode |= SHM_DEST;
	s->o.key = L_IPC_PRIVATE;
	if (!s->nattch)
		seg_destroy(s, slot);
	return 0;
}

static long shm_ctl(struct ipc_registry *r, int id, int cmd, void *buf)
{
	struct l_shmid64_ds d;
	struct ipc_shm *s;
	if (cmd == L_IPC_INFO || cmd == SHM_INFO)
		return shm_info(r, cmd, buf);
	if (cmd == SHM_STAT || cmd == SHM_STAT_ANY) {
		if (id < 0 || id >= IPC_SHM_SLOTS || !r->shm[id].o.used)
			return -EINVAL;
		s = &r->shm[id];
		if (cmd == SHM_STAT && !ipc_allowed(&s->o, 4))
			return -EACCES;
		shm_fill(&d, s);
		return copy_to_user(buf, &d, sizeof(d)) < 0 ? -EFAULT : ipc_id(&s->o, (unsigned)id);
	}
	s = shm_of(r, id);
	if (!s)
		return -EINVAL;
	unsigned slot = (unsigned)id % IPC_SEQ_MULT;
	switch (cmd) {
	case L_IPC_STAT:
		if (!ipc_allowed(&s->o, 4))
			return -EACCES;
		shm_fill(&d, s);
		return copy_to_user(buf, &d, sizeof(d)) < 0 ? -EFAULT : 0;
	case L_IPC_SET:
		if (copy_from_user(&d, buf, sizeof(d)) < 0)
			return -EFAULT;
		return ipc_set_perm(&s->o, &d.shm_perm);
	case L_IPC_RMID:
		return shm_rmid(s, slot);
	case SHM_LOCK:
	case SHM_UNLOCK:
		if (!ipc_owner(&s->o))
			return -EPERM;
		s->o.mode = cmd == SHM_LOCK ? s->o.mode | SHM_LOCKED : s->o.mode & ~SHM_LOCKED;
		return 0;
	default:
		return -EINVAL;
	}
}

long sys_shmctl(int id, int cmd, void *buf)
{
	cmd &= ~L_IPC_64;
	if (cmd < 0 || (id < 0 && cmd != L_IPC_INFO && cmd != SHM_INFO))
		return -EINVAL;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	err = shm_ctl(r, id, cmd, buf);
	ipc_unlock(r);
	return err;
}

/* --- process hooks (ipc.c) --- */

/* A forked child holds its parent's attachments too. */
void shm_after_fork(void)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return;
	for (int i = 0; i < MAX_ATTACH; i++) {
		struct attach *a = &attached[i];
		struct ipc_shm *s = a->len && a->slot < IPC_SHM_SLOTS ? &r->shm[a->slot] : NULL;
		if (s && s->o.used && s->o.seq == a->seq)
			s->nattch++;
	}
	ipc_unlock(r);
}

/* exec and exit detach everything. */
void shm_detach_all(void)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return;
	for (int i = 0; i < MAX_ATTACH; i++)
		if (attached[i].len)
			detach(r, &attached[i], still_mapped(&attached[i]));
	ipc_unlock(r);
}
