/*
 * sem.c -- System V semaphores: semget, semop, semtimedop, semctl.
 *
 * A set is a slot of the registry (ipc.h) with its values.  semop applies
 * all its operations or none, under the registry's lock; a caller that
 * must wait counts itself in semncnt or semzcnt and sleeps on the set's
 * wake word, which every change bumps.  SEM_UNDO adjustments are kept in
 * the registry by pid, so SETVAL can clear them for every process, and
 * the process's own are applied when it exits.
 */
#include "ipc.h"
#include "linux_abi.h"
#include "uaccess.h"

#define SEM_UNDO 0x1000
#define GETPID  11
#define GETVAL  12
#define GETALL  13
#define GETNCNT 14
#define GETZCNT 15
#define SETVAL  16
#define SETALL  17
#define SEM_STAT 18
#define SEM_INFO 19
#define SEM_STAT_ANY 20

static struct ipc_sem *sem_of(struct ipc_registry *r, int id)
{
	struct ipc_sem *s = (struct ipc_sem *)ipc_find(&r->sem[0].o, sizeof(r->sem[0]),
						       IPC_SEM_SLOTS, id);
	return s && s->nsems <= IPC_SEMMSL ? s : NULL; /* the app can write the file */
}

/* Forget the undo adjustments of a set (semnum -1: all of it). */
static void undo_clear(struct ipc_registry *r, unsigned slot, int semnum)
{
	for (int i = 0; i < IPC_UNDO_SLOTS; i++) {
		struct ipc_undo *u = &r->undo[i];
		if (u->pid && u->slot == slot && (semnum < 0 || u->semnum == semnum))
			u->pid = 0;
	}
}

static void sem_remove(struct ipc_registry *r, struct ipc_sem *s, unsigned slot)
{
	undo_clear(r, slot, -1);
	uint32_t wake = s->wake;
	memset(s, 0, sizeof(*s));
	s->wake = wake;
	ipc_wake(&s->wake); /* waiters find the set gone: EIDRM */
}

long sys_semget(int32_t key, int nsems, int flags)
{
	if (nsems < 0 || nsems > IPC_SEMMSL)
		return -EINVAL;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	long slot = ipc_get(&r->sem[0].o, sizeof(r->sem[0]), IPC_SEM_SLOTS, key, flags, r);
	if (slot >= 0) {
		struct ipc_sem *s = &r->sem[slot];
		if ((uint32_t)nsems > s->nsems)
			err = -EINVAL;
		else if (!ipc_allowed(&s->o, flags))
			err = -EACCES;
		else
			err = ipc_id(&s->o, (unsigned)slot);
	} else if (slot <= -1000) {
		struct ipc_sem *s = &r->sem[-slot - 1000];
		if (nsems == 0) {
			err = -EINVAL;
		} else {
			uint32_t wake = s->wake;
			memset(s, 0, sizeof(*s));
			s->wake = wake;
			ipc_obj_init(&s->o, key, flags, r);
			s->nsems = (uint32_t)nsems;
			err = ipc_id(&s->o, (unsigned)(-slot - 1000));
		}
	} else {
		err = slot;
	}
	ipc_unlock(r);
	return err;
}

/* Record -op for SEM_UNDO: 0, or -ENOSPC when the table is full. */
static long undo_add(struct ipc_registry *r, unsigned slot, const struct ipc_sem *s,
		     unsigned semnum, int adj)
{
	struct ipc_undo *free_u = NULL;
	for (int i = 0; i < IPC_UNDO_SLOTS; i++) {
		struct ipc_undo *u = &r->undo[i];
		if (u->pid == proc.pid && u->slot == slot && u->seq == s->o.seq &&
		    u->semnum == semnum) {
			u->adj += adj;
			return 0;
		}
		if (!u->pid && !free_u)
			free_u = u;
	}
	if (!free_u)
		return -ENOSPC;
	*free_u = (struct ipc_undo){ proc.pid, (uint16_t)slot, (uint16_t)semnum,
				     s->o.seq, adj };
	return 0;
}

/* Try the operations: 0 (done), 1 (must wait; *blocker is the one),
 * -EAGAIN (must wait, but IPC_NOWAIT), -ERANGE. */
static long sem_try(struct ipc_sem *s, const struct l_sembuf *ops, unsigned n,
		    unsigned *blocker)
{
	int32_t val[IPC_SEMMSL];
	for (unsigned i = 0; i < s->nsems; i++)
		val[i] = s->sems[i].val;
	for (unsigned i = 0; i < n; i++) {
		int32_t v = val[ops[i].sem_num] + ops[i].sem_op;
		if ((ops[i].sem_op == 0 && val[ops[i].sem_num] != 0) || v < 0) {
			*blocker = i;
			return ops[i].sem_flg & L_IPC_NOWAIT ? -EAGAIN : 1;
		}
		if (v > IPC_SEMVMX)
			return -ERANGE;
		val[ops[i].sem_num] = v;
	}
	for (unsigned i = 0; i < s->nsems; i++)
		s->sems[i].val = val[i];
	return 0;
}

static long sem_commit(struct ipc_registry *r, struct ipc_sem *s, unsigned slot,
		       const struct l_sembuf *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		s->sems[ops[i].sem_num].pid = proc.pid;
		if ((ops[i].sem_flg & SEM_UNDO) && ops[i].sem_op &&
		    undo_add(r, slot, s, ops[i].sem_num, -ops[i].sem_op) < 0)
			klog("semop: the SEM_UNDO table is full; an adjustment is lost");
	}
	s->otime = ipc_now();
	ipc_wake(&s->wake);
	return 0;
}

/* Check the operations against the set: -EFBIG, -EACCES or 0. */
static long sem_check(const struct ipc_sem *s, const struct l_sembuf *ops, unsigned n)
{
	int alter = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ops[i].sem_num >= s->nsems)
			return -EFBIG;
		alter |= ops[i].sem_op != 0;
	}
	return ipc_allowed(&s->o, alter ? 2 : 4) ? 0 : -EACCES;
}

static long sem_wait_ops(int id, const struct l_sembuf *ops, unsigned n, int64_t deadline)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	unsigned slot = (unsigned)id % IPC_SEQ_MULT;
	struct ipc_sem *s = sem_of(r, id);
	err = s ? sem_check(s, ops, n) : -EINVAL;
	while (err == 0) {
		unsigned b = 0;
		err = sem_try(s, ops, n, &b);
		if (err == 0) {
			err = sem_commit(r, s, slot, ops, n);
			break;
		}
		if (err < 0)
			break;
		/* Wait for a change, counted as a waiter of the blocking one. */
		struct ipc_sem_one *one = &s->sems[ops[b].sem_num];
		uint32_t *count = ops[b].sem_op ? &one->ncnt : &one->zcnt;
		uint32_t seen = s->wake, seq = s->o.seq;
		(*count)++;
		ipc_unlock(r);
		long w = ipc_sleep(&s->wake, seen, deadline);
		r = ipc_lock(&err); /* mapped already: cannot fail */
		if (!s->o.used || s->o.seq != seq) {
			err = -EIDRM;
			break;
		}
		if (*count)
			(*count)--;
		err = w == -EINTR ? -ERESTARTNOHAND : w == -ETIMEDOUT ? -EAGAIN : 0;
	}
	ipc_unlock(r);
	return err;
}

long sys_semtimedop(int id, const struct l_sembuf *uops, unsigned nsops,
		    const struct l_timespec *timeout)
{
	if (nsops < 1 || id < 0)
		return -EINVAL;
	if (nsops > IPC_SEMOPM)
		return -E2BIG;
	struct l_sembuf *ops = kmalloc(nsops * sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	long err = copy_from_user(ops, uops, nsops * sizeof(*ops)) < 0 ? -EFAULT : 0;
	int64_t deadline = -1;
	struct l_timespec ts;
	if (!err && timeout) {
		if (copy_from_user(&ts, timeout, sizeof(ts)) < 0)
			err = -EFAULT;
		else if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
			err = -EINVAL;
		else
			deadline = abi->system_time(MOAT_CLOCK_MONOTONIC) +
				   ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	if (!err)
		err = sem_wait_ops(id, ops, nsops, deadline);
	kfree(ops);
	return err;
}

long sys_semop(int id, const struct l_sembuf *uops, unsigned nsops)
{
	return sys_semtimedop(id, uops, nsops, NULL);
}

static void sem_fill(struct l_semid64_ds *d, const struct ipc_sem *s)
{
	memset(d, 0, sizeof(*d));
	ipc_fill_perm(&d->sem_perm, &s->o);
	d->sem_otime = s->otime;
	d->sem_ctime = s->o.ctime;
	d->sem_nsems = s->nsems;
}

static long sem_info(struct ipc_registry *r, int cmd, void *buf)
{
	/* semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz,
	 * semvmx, semaem */
	int32_t in[10] = { IPC_SEM_SLOTS * IPC_SEMMSL, IPC_SEM_SLOTS,
			   IPC_SEM_SLOTS * IPC_SEMMSL, IPC_UNDO_SLOTS, IPC_SEMMSL,
			   IPC_SEMOPM, IPC_SEMOPM, 16, IPC_SEMVMX, IPC_SEMVMX };
	int hi = -1, sets = 0, sems = 0;
	for (int i = 0; i < IPC_SEM_SLOTS; i++) {
		if (r->sem[i].o.used) {
			hi = i;
			sets++;
			sems += (int)r->sem[i].nsems;
		}
	}
	if (cmd == SEM_INFO) {
		in[7] = sets;
		in[9] = sems;
	}
	if (copy_to_user(buf, in, sizeof(in)) < 0)
		return -EFAULT;
	return hi < 0 ? 0 : hi;
}

static long sem_getall(const struct ipc_sem *s, void *buf)
{
	uint16_t v[IPC_SEMMSL];
	for (unsigned i = 0; i < s->nsems; i++)
		v[i] = (uint16_t)s->sems[i].val;
	return copy_to_user(buf, v, s->nsems * sizeof(v[0])) < 0 ? -EFAULT : 0;
}

static long sem_setall(struct ipc_registry *r, struct ipc_sem *s, unsigned slot,
		       const void *buf)
{
	uint16_t v[IPC_SEMMSL];
	if (copy_from_user(v, buf, s->nsems * sizeof(v[0])) < 0)
		return -EFAULT;
	for (unsigned i = 0; i < s->nsems; i++)
		if (v[i] > IPC_SEMVMX)
			return -ERANGE;
	for (unsigned i = 0; i < s->nsems; i++) {
		s->sems[i].val = v[i];
		s->sems[i].pid = proc.pid;
	}
	undo_clear(r, slot, -1);
	s->o.ctime = ipc_now();
	ipc_wake(&s->wake);
	return 0;
}

/* The calls on one semaphore of the set. */
static long sem_one_ctl(struct ipc_registry *r, struct ipc_sem *s, unsigned slot,
			int semnum, int cmd, unsigned long arg)
{
	if (cmd == SETVAL && ((int)arg < 0 || (int)arg > IPC_SEMVMX))
		return -ERANGE;
	if (!ipc_allowed(&s->o, cmd == SETVAL ? 2 : 4))
		return -EACCES;
	if (semnum < 0 || (unsigned)semnum >= s->nsems)
		return -EINVAL;
	struct ipc_sem_one *one = &s->sems[semnum];
	switch (cmd) {
	case GETVAL: return one->val;
	case GETPID: return one->pid;
	case GETNCNT: return one->ncnt;
	case GETZCNT: return one->zcnt;
	default: /* SETVAL */
		one->val = (int)arg;
		one->pid = proc.pid;
		undo_clear(r, slot, semnum);
		s->o.ctime = ipc_now();
		ipc_wake(&s->wake);
		return 0;
	}
}

static long sem_ctl(struct ipc_registry *r, int id, int semnum, int cmd, unsigned long arg)
{
	struct l_semid64_ds d;
	struct ipc_sem *s;
	void *buf = (void *)arg;
	if (cmd == L_IPC_INFO || cmd == SEM_INFO)
		return sem_info(r, cmd, buf);
	if (cmd == SEM_STAT || cmd == SEM_STAT_ANY) {
		if (id < 0 || id >= IPC_SEM_SLOTS || !r->sem[id].o.used)
			return -EINVAL;
		s = &r->sem[id];
		if (cmd == SEM_STAT && !ipc_allowed(&s->o, 4))
			return -EACCES;
		sem_fill(&d, s);
		return copy_to_user(buf, &d, sizeof(d)) < 0 ? -EFAULT : ipc_id(&s->o, (unsigned)id);
	}
	s = sem_of(r, id);
	if (!s)
		return -EINVAL;
	unsigned slot = (unsigned)id % IPC_SEQ_MULT;
	switch (cmd) {
	case L_IPC_STAT:
		if (!ipc_allowed(&s->o, 4))
			return -EACCES;
		sem_fill(&d, s);
		return copy_to_user(buf, &d, sizeof(d)) < 0 ? -EFAULT : 0;
	case L_IPC_SET:
		if (copy_from_user(&d, buf, sizeof(d)) < 0)
			return -EFAULT;
		return ipc_set_perm(&s->o, &d.sem_perm);
	case L_IPC_RMID:
		if (!ipc_owner(&s->o))
			return -EPERM;
		sem_remove(r, s, slot);
		return 0;
	case GETALL:
		return ipc_allowed(&s->o, 4) ? sem_getall(s, buf) : -EACCES;
	case SETALL:
		return ipc_allowed(&s->o, 2) ? sem_setall(r, s, slot, buf) : -EACCES;
	case GETVAL: case GETPID: case GETNCNT: case GETZCNT: case SETVAL:
		return sem_one_ctl(r, s, slot, semnum, cmd, arg);
	default:
		return -EINVAL;
	}
}

long sys_semctl(int id, int semnum, int cmd, unsigned long arg)
{
	cmd &= ~L_IPC_64;
	if (id < 0 && cmd != L_IPC_INFO && cmd != SEM_INFO)
		return -EINVAL;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	err = sem_ctl(r, id, semnum, cmd, arg);
	ipc_unlock(r);
	return err;
}

/* At exit: apply this process's SEM_UNDO adjustments, clamped to the
 * semaphore's range as Linux does. */
void sem_undo_all(void)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return;
	for (int i = 0; i < IPC_UNDO_SLOTS; i++) {
		struct ipc_undo *u = &r->undo[i];
		if (u->pid != proc.pid)
			continue;
		u->pid = 0;
		if (u->slot >= IPC_SEM_SLOTS)
			continue;
		struct ipc_sem *s = &r->sem[u->slot];
		if (!s->o.used || s->o.seq != u->seq || u->semnum >= s->nsems)
			continue;
		int32_t v = s->sems[u->semnum].val + u->adj;
		s->sems[u->semnum].val = v < 0 ? 0 : v > IPC_SEMVMX ? IPC_SEMVMX : v;
		s->sems[u->semnum].pid = proc.pid;
		ipc_wake(&s->wake);
	}
	ipc_unlock(r);
}
