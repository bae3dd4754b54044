/*
 * msg.c -- System V message queues: msgget, msgsnd, msgrcv, msgctl.
 *
 * A queue is a slot of the registry (ipc.h) and an area of it holding its
 * messages as records, oldest first, in [head, tail).  A message taken
 * from the middle (msgrcv by type) closes its gap by moving the older
 * records up; the area is compacted when the tail reaches its end.
 * Senders and receivers that must wait sleep on the queue's wake word.
 */
#include "ipc.h"
#include "uaccess.h"

#define MSG_STAT 11
#define MSG_INFO 12
#define MSG_STAT_ANY 13
#define MSG_NOERROR 010000
#define MSG_EXCEPT  020000
#define MSG_COPY    040000

struct rec {
	int64_t mtype;
	uint32_t len, pad;
	/* len bytes of text, padded to 8 */
};

static uint32_t rec_size(uint64_t len)
{
	return (uint32_t)(sizeof(struct rec) + RT_ALIGN_UP(len, 8));
}

/* The queue of id, its records made sane (the app can write the file). */
static struct ipc_msg *msg_of(struct ipc_registry *r, int id)
{
	struct ipc_msg *q = (struct ipc_msg *)ipc_find(&r->msg[0].o, sizeof(r->msg[0]),
						       IPC_MSG_SLOTS, id);
	if (q && (q->head > q->tail || q->tail > IPC_MSG_AREA || (q->head & 7))) {
		q->head = q->tail = 0;
		q->qnum = q->cbytes = 0;
	}
	return q;
}

static void msg_clear(struct ipc_msg *q)
{
	uint32_t wake = q->wake;
	memset(q, 0, sizeof(*q));
	q->wake = wake;
}

long sys_msgget(int32_t key, int flags)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	long slot = ipc_get(&r->msg[0].o, sizeof(r->msg[0]), IPC_MSG_SLOTS, key, flags, r);
	if (slot >= 0) {
		struct ipc_msg *q = &r->msg[slot];
		err = ipc_allowed(&q->o, flags) ? ipc_id(&q->o, (unsigned)slot) : -EACCES;
	} else if (slot <= -1000) {
		struct ipc_msg *q = &r->msg[-slot - 1000];
		msg_clear(q);
		ipc_obj_init(&q->o, key, flags, r);
		q->qbytes = IPC_MSGMNB;
		err = ipc_id(&q->o, (unsigned)(-slot - 1000));
	} else {
		err = slot;
	}
	ipc_unlock(r);
	return err;
}

/* Append a message if it fits now: 1 if it does not. */
static int msg_put(struct ipc_registry *r, struct ipc_msg *q, unsigned slot,
		   int64_t mtype, const void *text, uint64_t len)
{
	uint8_t *area = ipc_msg_area(r, slot);
	uint32_t need = rec_size(len);
	if (len + q->cbytes > q->qbytes || 1 + q->qnum > q->qbytes ||
	    q->tail - q->head + need > IPC_MSG_AREA)
		return 1;
	if (q->tail + need > IPC_MSG_AREA) {
		memmove(area, area + q->head, q->tail - q->head);
		q->tail -= q->head;
		q->head = 0;
	}
	struct rec h = { mtype, (uint32_t)len, 0 };
	memcpy(area + q->tail, &h, sizeof(h));
	memcpy(area + q->tail + sizeof(h), text, len);
	q->tail += need;
	q->qnum++;
	q->cbytes += len;
	q->lspid = proc.pid;
	q->stime = ipc_now();
	ipc_wake(&q->wake);
	return 0;
}

static long msg_send(int id, int64_t mtype, const void *text, uint64_t len, int flags)
{
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	unsigned slot = (unsigned)id % IPC_SEQ_MULT;
	struct ipc_msg *q = msg_of(r, id);
	err = !q ? -EINVAL : ipc_allowed(&q->o, 2) ? 0 : -EACCES;
	while (err == 0 && msg_put(r, q, slot, mtype, text, len)) {
		if (flags & L_IPC_NOWAIT) {
			err = -EAGAIN;
			break;
		}
		uint32_t seen = q->wake, seq = q->o.seq;
		ipc_unlock(r);
		long w = ipc_sleep(&q->wake, seen, -1);
		r = ipc_lock(&err);
		if (!q->o.used || q->o.seq != seq)
			err = -EIDRM;
		else if (w == -EINTR)
			err = -ERESTARTNOHAND;
	}
	ipc_unlock(r);
	return err;
}

long sys_msgsnd(int id, const void *msgp, uint64_t len, int flags)
{
	int64_t mtype;
	if (len > IPC_MSGMAX || id < 0)
		return -EINVAL;
	if (copy_from_user(&mtype, msgp, sizeof(mtype)) < 0)
		return -EFAULT;
	if (mtype < 1)
		return -EINVAL;
	void *text = kmalloc(len ? len : 1);
	if (!text)
		return -ENOMEM;
	long err = copy_from_user(text, (const char *)msgp + 8, len) < 0 ? -EFAULT : 0;
	if (!err)
		err = msg_send(id, mtype, text, len, flags);
	kfree(text);
	return err;
}

/* The offset of the message msgrcv wants, or -1.  MSG_COPY: the n-th. */
static int64_t msg_pick(uint8_t *area, const struct ipc_msg *q, int64_t type, int flags)
{
	int64_t best = -1, best_type = 0, n = 0;
	for (uint32_t off = q->head; off + sizeof(struct rec) <= q->tail;) {
		struct rec h;
		memcpy(&h, area + off, sizeof(h));
		if (h.len > IPC_MSG_AREA || off + rec_size(h.len) > q->tail)
			break; /* corrupt: what follows cannot be found */
		if (flags & MSG_COPY) {
			if (n++ == type)
				return off;
		} else if (type == 0) {
			return off;
		} else if (type > 0) {
			if ((h.mtype == type) != !!(flags & MSG_EXCEPT))
				return off;
		} else if (h.mtype <= -type && (best < 0 || h.mtype < best_type)) {
			best = off;
			best_type = h.mtype;
		}
		off += rec_size(h.len);
	}
	return best;
}

/* Take the message at off out of the queue. */
static void msg_remove(struct ipc_registry *r, struct ipc_msg *q, unsigned slot,
		       uint32_t off, const struct rec *h)
{
	uint8_t *area = ipc_msg_area(r, slot);
	uint32_t size = rec_size(h->len);
	memmove(area + q->head + size, area + q->head, off - q->head);
	q->head += size;
	q->qnum--;
	q->cbytes -= h->len < q->cbytes ? h->len : q->cbytes;
	q->lrpid = proc.pid;
	q->rtime = ipc_now();
	if (q->head == q->tail)
		q->head = q->tail = 0;
	ipc_wake(&q->wake);
}

/* One look at the queue: the bytes copied out, 1 if nothing is there
 * (yet), or -errno. */
static long msg_take(struct ipc_registry *r, struct ipc_msg *q, unsigned slot,
		     void *msgp, uint64_t size, int64_t type, int flags)
{
	uint8_t *area = ipc_msg_area(r, slot);
	int64_t off = msg_pick(area, q, type, flags);
	if (off < 0)
		return 1;
	struct rec h;
	memcpy(&h, area + off, sizeof(h));
	if (h.len > size && !(flags & MSG_NOERROR))
		return -E2BIG;
	uint64_t n = h.len < size ? h.len : size;
	if (copy_to_user(msgp, &h.mtype, 8) < 0 ||
	    copy_to_user((char *)msgp + 8, area + off + sizeof(h), n) < 0)
		return -EFAULT;
	if (!(flags & MSG_COPY))
		msg_remove(r, q, slot, (uint32_t)off, &h);
	return (long)n;
}

long sys_msgrcv(int id, void *msgp, uint64_t size, int64_t type, int flags)
{
	if ((int64_t)size < 0 || id < 0)
		return -EINVAL;
	if ((flags & MSG_COPY) &&
	    ((flags & MSG_EXCEPT) || !(flags & L_IPC_NOWAIT) || type < 0))
		return -EINVAL;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	unsigned slot = (unsigned)id % IPC_SEQ_MULT;
	struct ipc_msg *q = msg_of(r, id);
	err = !q ? -EINVAL : ipc_allowed(&q->o, 4) ? 1 : -EACCES;
	while (err == 1 && (err = msg_take(r, q, slot, msgp, size, type, flags)) == 1) {
		if (flags & L_IPC_NOWAIT) {
			err = -ENOMSG;
			break;
		}
		uint32_t seen = q->wake, seq = q->o.seq;
		ipc_unlock(r);
		long w = ipc_sleep(&q->wake, seen, -1);
		r = ipc_lock(&err);
		err = 1;
		if (!q->o.used || q->o.seq != seq)
			err = -EIDRM;
		else if (w == -EINTR)
			err = -ERESTARTNOHAND;
	}
	ipc_unlock(r);
	return err;
}

static void msg_fill(struct l_msqid64_ds *d, const struct ipc_msg *q)
{
	memset(d, 0, sizeof(*d));
	ipc_fill_perm(&d->msg_perm, &q->o);
	d->msg_stime = q->stime;
	d->msg_rtime = q->rtime;
	d->msg_ctime = q->o.ctime;
	d->msg_cbytes = q->cbytes;
	d->msg_qnum = q->qnum;
	d->msg_qbytes = q->qbytes;
	d->msg_lspid = q->lspid;
	d->msg_lrpid = q->lrpid;
}

static long msg_info(struct ipc_registry *r, int cmd, void *buf)
{
	/* msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql, msgseg */
	int32_t in[8] = { IPC_MSG_SLOTS * IPC_MSG_AREA / 1024, IPC_MSG_SLOTS * IPC_MSGMNB,
			  IPC_MSGMAX, IPC_MSGMNB, IPC_MSG_SLOTS, 16,
			  IPC_MSG_SLOTS * IPC_MSGMNB, 0xffff };
	int hi = -1, queues = 0, msgs = 0, bytes = 0;
	for (int i = 0; i < IPC_MSG_SLOTS; i++) {
		if (r->msg[i].o.used) {
			hi = i;
			queues++;
			msgs += (int)r->msg[i].qnum;
			bytes += (int)r->msg[i].cbytes;
		}
	}
	if (cmd == MSG_INFO) {
		in[0] = queues;
		in[1] = msgs;
		in[6] = bytes;
	}
	if (copy_to_user(buf, in, sizeof(in)) < 0)
		return -EFAULT;
	return hi < 0 ? 0 : hi;
}

static long msg_set(struct ipc_msg *q, const void *buf)
{
	struct l_msqid64_ds d;
	if (copy_from_user(&d, buf, sizeof(d)) < 0)
		return -EFAULT;
	if (!ipc_owner(&q->o))
		return -EPERM;
	if (d.msg_qbytes > IPC_MSGMNB && proc.uid != 0)
		return -EPERM;
	long err = ipc_set_perm(&q->o, &d.msg_perm);
	if (err == 0) {
		q->qbytes = d.msg_qbytes;
		ipc_wake(&q->wake); /* a sender may fit now */
	}
	return err;
}

static long msg_ctl(struct ipc_registry *r, int id, int cmd, void *buf)
{
	struct l_msqid64_ds d;
	struct ipc_msg *q;
	if (cmd == L_IPC_INFO || cmd == MSG_INFO)
		return msg_info(r, cmd, buf);
	if (cmd == MSG_STAT || cmd == MSG_STAT_ANY) {
		if (id < 0 || id >= IPC_MSG_SLOTS || !r->msg[id].o.used)
			return -EINVAL;
		q = &r->msg[id];
		if (cmd == MSG_STAT && !ipc_allowed(&q->o, 4))
			return -EACCES;
		msg_fill(&d, q);
		return copy_to_user(buf, &d, sizeof(d)) < 0 ? -EFAULT : ipc_id(&q->o, (unsigned)id);
	}
	q = msg_of(r, id);
	if (!q)
		return -EINVAL;
	switch (cmd) {
	case L_IPC_STAT:
		if (!ipc_allowed(&q->o, 4))
			return -EACCES;
		msg_fill(&d, q);
		return copy_to_user(buf, &d, sizeof(d)) < 0 ? -EFAULT : 0;
	case L_IPC_SET:
		return msg_set(q, buf);
	case L_IPC_RMID:
		if (!ipc_owner(&q->o))
			return -EPERM;
		msg_clear(q);
		ipc_wake(&q->wake); /* waiters find it gone: EIDRM */
		return 0;
	default:
		return -EINVAL;
	}
}

long sys_msgctl(int id, int cmd, void *buf)
{
	cmd &= ~L_IPC_64;
	if (id < 0 && cmd != L_IPC_INFO && cmd != MSG_INFO)
		return -EINVAL;
	long err;
	struct ipc_registry *r = ipc_lock(&err);
	if (!r)
		return err;
	err = msg_ctl(r, id, cmd, buf);
	ipc_unlock(r);
	return err;
}
