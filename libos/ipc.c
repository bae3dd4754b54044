/*
 * ipc.c -- the registry of System V IPC objects and POSIX message queues
 * (ipc.h): mapping it, its lock, ids, permissions, and the process hooks
 * (fork, exec, exit) that keep attach counts, undo lists and open counts.
 */
#include "ipc.h"

#define PAGE 4096UL
#define REG_URI "file:/dev/shm/.moat-sysv"
#define REG_MAGIC 0x3176737461f0f0ULL

static struct ipc_registry *reg; /* mapped on first use; inherited by fork */

static uint64_t reg_head(void)
{
	return RT_ALIGN_UP(sizeof(struct ipc_registry), PAGE);
}

static uint64_t reg_size(void)
{
	return reg_head() + (uint64_t)IPC_MSG_SLOTS * IPC_MSG_AREA;
}

uint8_t *ipc_msg_area(struct ipc_registry *r, unsigned slot)
{
	return (uint8_t *)r + reg_head() + (uint64_t)slot * IPC_MSG_AREA;
}

/* Map the registry file, made sparse at its full size; a zeroed registry
 * is an empty one, so two processes creating it at once agree. */
static long reg_map(void)
{
	long h = abi->stream_open(REG_URI, MOAT_ACCESS_RDWR, MOAT_OPEN_CREATE, 0600);
	if (h < 0) {
		klog("ipc: cannot open %s: %ld", REG_URI, h);
		return h == -ENOENT || h == -EROFS || h == -EACCES ? -ENOSPC : h;
	}
	struct moat_attr a;
	long r = abi->stream_attr_query_by_handle((moat_handle)h, &a);
	if (r == 0 && a.size < reg_size())
		r = abi->stream_set_length((moat_handle)h, reg_size());
	if (r == 0)
		r = abi->stream_map((moat_handle)h, NULL, 0, reg_size(),
				    MOAT_PROT_READ | MOAT_PROT_WRITE, MOAT_MAP_SHARED);
	abi->object_close((moat_handle)h);
	if (r < 0)
		return r == -ENOENT ? -ENOSPC : r;
	struct ipc_registry *m = (struct ipc_registry *)r;
	uint64_t zero = 0;
	__atomic_compare_exchange_n(&m->magic, &zero, REG_MAGIC, 0, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	if (m->magic != REG_MAGIC) {
		abi->stream_unmap(m, reg_size());
		return -ENOSPC;
	}
	struct ipc_registry *none = NULL;
	if (!__atomic_compare_exchange_n(&reg, &none, m, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		abi->stream_unmap(m, reg_size()); /* another thread won */
	return 0;
}

/* A holder that died (killed while in here) would hold the lock for
 * ever: after a while, a waiter checks the holder's pid and takes over. */
static void reg_lock(struct ipc_registry *r)
{
	unsigned spins = 0;
	while (__atomic_exchange_n(&r->lock, 1, __ATOMIC_ACQUIRE)) {
		if (++spins % 2048 == 0) {
			int32_t owner = __atomic_load_n(&r->lock_pid, __ATOMIC_SEQ_CST);
			if (owner > 0 && owner != proc.pid &&
			    abi->process_control(MOAT_PROC_SIGNAL, owner, 0) == -ESRCH &&
			    __atomic_compare_exchange_n(&r->lock_pid, &owner, proc.pid, 0,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				klog("ipc: took the lock of dead process %d", owner);
				return;
			}
		}
		abi->thread_yield();
	}
	__atomic_store_n(&r->lock_pid, proc.pid, __ATOMIC_SEQ_CST);
}

struct ipc_registry *ipc_lock(long *err)
{
	if (!reg) {
		long r = reg_map();
		if (r < 0) {
			*err = r;
			return NULL;
		}
	}
	reg_lock(reg);
	return reg;
}

void ipc_unlock(struct ipc_registry *r)
{
	__atomic_store_n(&r->lock_pid, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->lock, 0, __ATOMIC_RELEASE);
}

void ipc_wake(uint32_t *word)
{
	__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
	abi->address_wait(word, MOAT_ADDR_WAKE, 0x7fffffff, 0);
}

long ipc_sleep(uint32_t *word, uint32_t seen, int64_t deadline)
{
	int64_t left = MOAT_WAIT_FOREVER;
	if (deadline >= 0) {
		left = deadline - abi->system_time(MOAT_CLOCK_MONOTONIC);
		if (left <= 0)
			return -ETIMEDOUT;
	}
	long r = abi->address_wait(word, MOAT_ADDR_WAIT, seen, left);
	return r == -EAGAIN ? 0 : r;
}

int64_t ipc_now(void)
{
	return abi->system_time(MOAT_CLOCK_REALTIME) / 1000000000;
}

struct ipc_obj *ipc_find(struct ipc_obj *first, size_t stride, unsigned n, int id)
{
	if (id < 0)
		return NULL;
	unsigned slot = (unsigned)id % IPC_SEQ_MULT;
	if (slot >= n)
		return NULL;
	struct ipc_obj *o = (struct ipc_obj *)((char *)first + slot * stride);
	return o->used && o->seq == (unsigned)id / IPC_SEQ_MULT ? o : NULL;
}

int ipc_id(const struct ipc_obj *o, unsigned slot)
{
	return (int)(o->seq * IPC_SEQ_MULT + slot);
}

/* As Linux's ipcperms: the owner's, group's or others' bits. */
int ipc_allowed(const struct ipc_obj *o, int want)
{
	int req = (want >> 6 | want >> 3 | want) & 7;
	uint32_t granted = o->mode;
	if (proc.uid == 0)
		return 1; /* CAP_IPC_OWNER */
	if (proc.uid == o->uid || proc.uid == o->cuid)
		granted >>= 6;
	else if (proc.gid == o->gid || proc.gid == o->cgid)
		granted >>= 3;
	return !(req & ~granted & 7);
}

int ipc_owner(const struct ipc_obj *o)
{
	return proc.uid == 0 || proc.uid == o->uid || proc.uid == o->cuid;
}

void ipc_obj_init(struct ipc_obj *o, int32_t key, int flags, struct ipc_registry *r)
{
	o->used = 1;
	o->key = key;
	o->uid = o->cuid = proc.uid;
	o->gid = o->cgid = proc.gid;
	o->mode = (uint32_t)flags & 0777;
	o->seq = r->seq++ % 65535;
	o->ctime = ipc_now();
}

/* The slot of key (-ENOENT), or with key IPC_PRIVATE or none found and
 * IPC_CREAT, a free slot as -(slot + 1000) for the caller to fill
 * (-ENOSPC if none). */
long ipc_get(struct ipc_obj *first, size_t stride, unsigned n, int32_t key,
	     int flags, struct ipc_registry *r)
{
	(void)r;
	long free_slot = -1;
	for (unsigned i = 0; i < n; i++) {
		struct ipc_obj *o = (struct ipc_obj *)((char *)first + i * stride);
		if (!o->used) {
			if (free_slot < 0)
				free_slot = i;
		} else if (key != L_IPC_PRIVATE && o->key == key) {
			if ((flags & L_IPC_CREAT) && (flags & L_IPC_EXCL))
				return -EEXIST;
			return i;
		}
	}
	if (key != L_IPC_PRIVATE && !(flags & L_IPC_CREAT))
		return -ENOENT;
	return free_slot < 0 ? -ENOSPC : -(free_slot + 1000);
}

void ipc_fill_perm(struct l_ipc64_perm *p, const struct ipc_obj *o)
{
	memset(p, 0, sizeof(*p));
	p->key = o->key;
	p->uid = o->uid;
	p->gid = o->gid;
	p->cuid = o->cuid;
	p->cgid = o->cgid;
	p->mode = o->mode;
	p->seq = (uint16_t)o->seq;
}

long ipc_set_perm(struct ipc_obj *o, const struct l_ipc64_perm *p)
{
	if (!ipc_owner(o))
		return -EPERM;
	o->uid = p->uid;
	o->gid = p->gid;
	o->mode = (o->mode & ~0777u) | (p->mode & 0777);
	o->ctime = ipc_now();
	return 0;
}

/* --- the process hooks (libos.h) --- */

void ipc_after_fork(void)
{
	if (!reg)
		return;
	shm_after_fork();
	mq_after_fork();
}

void ipc_exec(void)
{
	if (reg)
		shm_detach_all();
}

void ipc_exit(void)
{
	if (!reg)
		return;
	shm_detach_all();
	sem_undo_all();
	mq_close_all();
}

/* --- /proc/sysvipc (procfs.c) --- */

static void print_shm(struct ipc_registry *r, void (*put)(void *, const char *), void *ctx)
{
	char line[256];
	put(ctx, "       key      shmid perms                  size  cpid  lpid nattch   uid   gid"
		 "  cuid  cgid      atime      dtime      ctime                   rss                  swap\n");
	for (unsigned i = 0; r && i < IPC_SHM_SLOTS; i++) {
		const struct ipc_shm *s = &r->shm[i];
		if (!s->o.used)
			continue;
		rt_snprintf(line, sizeof(line),
			    "%10d %10d  %4o %21lu %5d %5d  %5u %5u %5u %5u %5u %10ld %10ld %10ld %21lu %21lu\n",
			    s->o.key, ipc_id(&s->o, i), s->o.mode, (unsigned long)s->size, s->cpid,
			    s->lpid, s->nattch, s->o.uid, s->o.gid, s->o.cuid, s->o.cgid,
			    (long)s->atime, (long)s->dtime, (long)s->o.ctime,
			    (unsigned long)RT_ALIGN_UP(s->size, PAGE), 0UL);
		put(ctx, line);
	}
}

static void print_sem(struct ipc_registry *r, void (*put)(void *, const char *), void *ctx)
{
	char line[256];
	put(ctx, "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n");
	for (unsigned i = 0; r && i < IPC_SEM_SLOTS; i++) {
		const struct ipc_sem *s = &r->sem[i];
		if (!s->o.used)
			continue;
		rt_snprintf(line, sizeof(line), "%10d %10d  %4o %10u %5u %5u %5u %5u %10ld %10ld\n",
			    s->o.key, ipc_id(&s->o, i), s->o.mode, s->nsems, s->o.uid, s->o.gid,
			    s->o.cuid, s->o.cgid, (long)s->otime, (long)s->o.ctime);
		put(ctx, line);
	}
}

static void print_msg(struct ipc_registry *r, void (*put)(void *, const char *), void *ctx)
{
	char line[256];
	put(ctx, "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid"
		 "      stime      rtime      ctime\n");
	for (unsigned i = 0; r && i < IPC_MSG_SLOTS; i++) {
		const struct ipc_msg *q = &r->msg[i];
		if (!q->o.used)
			continue;
		rt_snprintf(line, sizeof(line),
			    "%10d %10d  %4o  %10lu %10lu %5d %5d %5u %5u %5u %5u %10ld %10ld %10ld\n",
			    q->o.key, ipc_id(&q->o, i), q->o.mode, (unsigned long)q->cbytes,
			    (unsigned long)q->qnum, q->lspid, q->lrpid, q->o.uid, q->o.gid, q->o.cuid,
			    q->o.cgid, (long)q->stime, (long)q->rtime, (long)q->o.ctime);
		put(ctx, line);
	}
}

/* which: 's' shm, 'e' sem, 'm' msg; the headers alone if the registry
 * cannot be had. */
void ipc_print(int which, void (*put)(void *ctx, const char *line), void *ctx)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (which == 's')
		print_shm(r, put, ctx);
	else if (which == 'e')
		print_sem(r, put, ctx);
	else
		print_msg(r, put, ctx);
	if (r)
		ipc_unlock(r);
}
