/*
 * ipc.h -- System V IPC and POSIX message queues, shared between the
 * processes of one picoprocess (ipc.c, shm.c, sem.c, msg.c, mqueue.c).
 *
 * Every object lives in one registry file of the picoprocess's private
 * scratch, /dev/shm/.moat-sysv, that each process maps shared on its
 * first IPC call (a forked child inherits the map).  Shared memory
 * segments are files beside it.  Waiters sleep on a word of the object
 * with address_wait, and whoever changes the object bumps the word and
 * wakes them.  So the objects need no host call of their own, are never
 * in the host's IPC namespace, and are carried by a checkpoint as the
 * scratch's files are.
 *
 * The registry is the app's own memory in effect (it can open the file):
 * every index read from it is checked before use, so a corrupt registry
 * only misleads the app that corrupted it.
 */
#ifndef MOAT_LIBOS_IPC_H
#define MOAT_LIBOS_IPC_H

#include "libos.h"

/* Linux's layouts (x86-64, IPC_64). */
struct l_ipc64_perm {
	int32_t key;
	uint32_t uid, gid, cuid, cgid;
	uint32_t mode;
	uint16_t seq, pad2;
	uint64_t unused1, unused2;
};
struct l_shmid64_ds {
	struct l_ipc64_perm shm_perm;
	uint64_t shm_segsz;
	int64_t shm_atime, shm_dtime, shm_ctime;
	int32_t shm_cpid, shm_lpid;
	uint64_t shm_nattch, unused4, unused5;
};
struct l_semid64_ds {
	struct l_ipc64_perm sem_perm;
	int64_t sem_otime, unused1, sem_ctime, unused2;
	uint64_t sem_nsems, unused3, unused4;
};
struct l_msqid64_ds {
	struct l_ipc64_perm msg_perm;
	int64_t msg_stime, msg_rtime, msg_ctime;
	uint64_t msg_cbytes, msg_qnum, msg_qbytes;
	int32_t msg_lspid, msg_lrpid;
	uint64_t unused4, unused5;
};
struct l_sembuf { uint16_t sem_num; int16_t sem_op; int16_t sem_flg; };
struct l_mq_attr { int64_t mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs, pad[4]; };

#define L_IPC_PRIVATE 0
#define L_IPC_CREAT   01000
#define L_IPC_EXCL    02000
#define L_IPC_NOWAIT  04000
#define L_IPC_RMID 0
#define L_IPC_SET  1
#define L_IPC_STAT 2
#define L_IPC_INFO 3
#define L_IPC_64   0x100

/* Sizes of the tables; the limits IPC_INFO reports. */
#define IPC_SHM_SLOTS 128
#define IPC_SEM_SLOTS 128
#define IPC_SEMMSL    250    /* semaphores in a set */
#define IPC_SEMOPM    500    /* operations in one semop */
#define IPC_SEMVMX    32767
#define IPC_MSG_SLOTS 64
#define IPC_MSG_AREA  65536  /* bytes of records per queue */
#define IPC_MSGMAX    8192
#define IPC_MSGMNB    16384
#define IPC_MQ_SLOTS  64
#define IPC_SHMMAX    (1ULL << 40)
#define IPC_SEQ_MULT  32768  /* id = seq * IPC_SEQ_MULT + slot, as Linux */

/* Owner, mode and the key of a System V object. */
struct ipc_obj {
	uint32_t used;
	int32_t key;
	uint32_t uid, gid, cuid, cgid, mode;
	uint32_t seq;
	int64_t ctime;
};

struct ipc_shm {
	struct ipc_obj o;
	uint64_t size;
	int64_t atime, dtime;
	int32_t cpid, lpid;
	uint32_t nattch, removed;
};

struct ipc_sem_one { int32_t val, pid; uint32_t ncnt, zcnt; };
struct ipc_sem {
	struct ipc_obj o;
	uint32_t nsems;
	uint32_t wake;   /* bumped on every change: waiters sleep on it */
	int64_t otime;
	struct ipc_sem_one sems[IPC_SEMMSL];
};

struct ipc_msg {
	struct ipc_obj o;
	uint64_t qbytes, cbytes, qnum;
	int64_t stime, rtime;
	int32_t lspid, lrpid;
	uint32_t wake;
	uint32_t head, tail; /* records in data[head, tail) of its area */
};

/* A POSIX message queue; its messages are in a file of its own
 * (mqueue.c), maxmsg records of a header and msgsize bytes. */
struct ipc_mq {
	uint32_t used, unlinked;
	uint32_t uid, gid, mode;
	uint32_t opens;      /* open descriptions in all processes */
	uint32_t seq;
	uint32_t wake;
	uint32_t receivers;  /* waiting in mq_receive */
	int64_t maxmsg, msgsize, curmsgs;
	uint64_t order;      /* of the last message sent */
	int32_t notify_pid, notify_sig, notify_none;
	uint64_t notify_value;
	char name[256];
};

/* A SEM_UNDO adjustment of process pid, applied when it exits. */
struct ipc_undo {
	int32_t pid;
	uint16_t slot, semnum;
	uint32_t seq;
	int32_t adj;
};
#define IPC_UNDO_SLOTS 1024

struct ipc_registry {
	uint64_t magic;
	volatile int lock;
	int32_t lock_pid;        /* the holder's pid, to recover from its death */
	uint32_t seq;            /* next slot sequence */
	struct ipc_shm shm[IPC_SHM_SLOTS];
	struct ipc_sem sem[IPC_SEM_SLOTS];
	struct ipc_msg msg[IPC_MSG_SLOTS];
	struct ipc_mq mq[IPC_MQ_SLOTS];
	struct ipc_undo undo[IPC_UNDO_SLOTS];
	/* page-aligned areas follow: IPC_MSG_SLOTS of IPC_MSG_AREA */
};

/* ipc.c */
/* The registry, mapped and locked: NULL (and *err) if it cannot be. */
struct ipc_registry *ipc_lock(long *err);
void ipc_unlock(struct ipc_registry *r);
uint8_t *ipc_msg_area(struct ipc_registry *r, unsigned slot);
/* A bumped wake word's waiters are woken. */
void ipc_wake(uint32_t *word);
/* Sleep (unlocked) while *word == seen, until deadline (monotonic ns, -1
 * none): 0, -ETIMEDOUT or -EINTR. */
long ipc_sleep(uint32_t *word, uint32_t seen, int64_t deadline);
int64_t ipc_now(void); /* seconds since the epoch */
/* The get calls' common part: the slot of 'key' in a table of n objects
 * each 'stride' bytes apart, created by 'make' if asked (it fills the
 * object's own fields).  Result: the slot, or -errno. */
long ipc_get(struct ipc_obj *first, size_t stride, unsigned n, int32_t key,
	     int flags, struct ipc_registry *r);
void ipc_obj_init(struct ipc_obj *o, int32_t key, int flags, struct ipc_registry *r);
/* The object of 'id' (NULL if none). */
struct ipc_obj *ipc_find(struct ipc_obj *first, size_t stride, unsigned n, int id);
int ipc_id(const struct ipc_obj *o, unsigned slot);
/* May the caller use o as 'want' (4 read, 2 write, or flag bits)? */
int ipc_allowed(const struct ipc_obj *o, int want);
/* May the caller change or remove o (IPC_SET, IPC_RMID)? */
int ipc_owner(const struct ipc_obj *o);
void ipc_fill_perm(struct l_ipc64_perm *p, const struct ipc_obj *o);
long ipc_set_perm(struct ipc_obj *o, const struct l_ipc64_perm *p);

/* The per-family halves of the process hooks. */
void shm_after_fork(void);
void shm_detach_all(void);
void sem_undo_all(void);
void mq_after_fork(void);
void mq_close_all(void);

#endif /* MOAT_LIBOS_IPC_H */
