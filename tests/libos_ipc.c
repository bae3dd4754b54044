/*
 * libos_ipc.c -- System V shared memory, semaphores and message queues,
 * and POSIX message queues, between a parent and its forked children
 * (tests/test_libos_ipc.sh compares the output with a native run).
 *
 * Only the parent prints, after the child it waits for has ended, so the
 * output is the same on every run; ids and keys are never printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun { int val; struct semid_ds *buf; unsigned short *array; };

static const char *err(long r)
{
	if (r >= 0)
		return "ok";
	return strerrorname_np(errno);
}

static int child_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void on_alarm(int sig) { (void)sig; }

static void test_shm(key_t key)
{
	int id = shmget(IPC_PRIVATE, 8192, 0600);
	char *p = shmat(id, NULL, 0);
	printf("shm: get %s, attach %s\n", err(id), p == (void *)-1 ? err(-1) : "ok");
	strcpy(p, "parent was here");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* The attachment came with fork; write back through it. */
		char seen[32];
		snprintf(seen, sizeof(seen), "%s", p);
		snprintf(p + 4096, 64, "child read '%s'", seen);
		_exit(shmdt(p) == 0 ? 0 : 1);
	}
	printf("shm: child exit %d, %s\n", child_status(pid), p + 4096);
	struct shmid_ds ds;
	shmctl(id, IPC_STAT, &ds);
	printf("shm: size %zu nattch %lu mode %o\n", (size_t)ds.shm_segsz,
	       (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777);

	/* A second attach sees the same bytes. */
	char *p2 = shmat(id, NULL, SHM_RDONLY);
	printf("shm: second attach reads '%s'\n", p2);
	shmctl(id, IPC_STAT, &ds);
	printf("shm: nattch %lu\n", (unsigned long)ds.shm_nattch);

	/* Removed while attached: it stays until the last detach. */
	printf("shm: rmid %s\n", err(shmctl(id, IPC_RMID, NULL)));
	printf("shm: still readable '%s'\n", p);
	shmctl(id, IPC_STAT, &ds);
	printf("shm: dest flag %d\n", !!(ds.shm_perm.mode & SHM_DEST));
	shmdt(p2);
	printf("shm: detach %s\n", err(shmdt(p)));
	printf("shm: detach again %s\n", err(shmdt(p)));
	printf("shm: stat after the last detach %s\n", err(shmctl(id, IPC_STAT, &ds)));

	/* Keys. */
	int k = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	printf("shm: key create %s\n", err(k));
	printf("shm: create again %s\n", err(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600)));
	printf("shm: same key is the same id %d\n", shmget(key, 0, 0) == k);
	printf("shm: larger size %s\n", err(shmget(key, 8192, 0)));
	printf("shm: size 0 new %s\n", err(shmget(IPC_PRIVATE, 0, 0600)));
	printf("shm: misaligned attach %s\n", err((long)shmat(k, (void *)4097, 0)));
	shmctl(k, IPC_RMID, NULL);
	printf("shm: key after rmid %s\n", err(shmget(key, 0, 0)));
	printf("shm: id after rmid %s\n", err(shmctl(k, IPC_STAT, &ds)));
}

static void test_sem(void)
{
	int id = semget(IPC_PRIVATE, 2, 0600);
	printf("sem: get %s\n", err(id));
	printf("sem: setval %s\n", err(semctl(id, 0, SETVAL, (union semun){ .val = 0 })));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct sembuf down = { 0, -1, 0 };
		_exit(semop(id, &down, 1) == 0 ? 0 : 1);
	}
	msleep(200);
	printf("sem: ncnt while the child waits %d\n", semctl(id, 0, GETNCNT));
	struct sembuf up = { 0, 1, 0 };
	semop(id, &up, 1);
	printf("sem: child exit %d\n", child_status(pid));
	printf("sem: value %d\n", semctl(id, 0, GETVAL));

	struct sembuf try = { 0, -1, IPC_NOWAIT };
	printf("sem: nowait %s\n", err(semop(id, &try, 1)));
	struct timespec ts = { 0, 50000000 };
	try.sem_flg = 0;
	printf("sem: timed %s\n", err(semtimedop(id, &try, 1, &ts)));
	struct sembuf bad = { 5, 1, 0 };
	printf("sem: bad number %s\n", err(semop(id, &bad, 1)));

	/* Two at once, all or nothing. */
	struct sembuf two[2] = { { 1, 2, 0 }, { 0, -1, IPC_NOWAIT } };
	printf("sem: pair %s\n", err(semop(id, two, 2)));
	printf("sem: sem1 %d\n", semctl(id, 1, GETVAL));

	/* SEM_UNDO: the child's +3 goes when it exits. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct sembuf u = { 1, 3, SEM_UNDO };
		semop(id, &u, 1);
		_exit(semctl(id, 1, GETVAL) == 3 ? 0 : 1);
	}
	printf("sem: undo child exit %d\n", child_status(pid));
	printf("sem: value after %d\n", semctl(id, 1, GETVAL));

	/* A signal ends a wait with EINTR. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGALRM, on_alarm);
		alarm(1);
		struct sembuf down = { 0, -1, 0 };
		int r = semop(id, &down, 1);
		_exit(r < 0 && errno == EINTR ? 0 : 1);
	}
	printf("sem: interrupted child exit %d\n", child_status(pid));

	/* Removing the set wakes its waiters with EIDRM. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct sembuf down = { 0, -1, 0 };
		int r = semop(id, &down, 1);
		_exit(r < 0 && errno == EIDRM ? 0 : r < 0 ? errno : 100);
	}
	msleep(200);
	printf("sem: rmid %s\n", err(semctl(id, 0, IPC_RMID)));
	printf("sem: removed child exit %d\n", child_status(pid));
	printf("sem: getval after rmid %s\n", err(semctl(id, 0, GETVAL)));
}

struct text { long mtype; char mtext[64]; };

static void test_msg(void)
{
	int id = msgget(IPC_PRIVATE, 0600);
	printf("msg: get %s\n", err(id));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		for (long t = 1; t <= 3; t++) {
			struct text m = { t, "" };
			snprintf(m.mtext, sizeof(m.mtext), "message of type %ld", t);
			msgsnd(id, &m, strlen(m.mtext) + 1, 0);
		}
		_exit(0);
	}
	printf("msg: sender exit %d\n", child_status(pid));
	struct msqid_ds ds;
	msgctl(id, IPC_STAT, &ds);
	printf("msg: qnum %lu cbytes %lu\n", (unsigned long)ds.msg_qnum,
	       (unsigned long)ds.__msg_cbytes);
	struct text m;
	long n = msgrcv(id, &m, sizeof(m.mtext), 2, 0);
	printf("msg: type 2: %ld '%s' (%ld)\n", m.mtype, m.mtext, n);
	n = msgrcv(id, &m, 4, 0, IPC_NOWAIT);
	printf("msg: small buffer %s\n", err(n));
	n = msgrcv(id, &m, 4, 0, IPC_NOWAIT | MSG_NOERROR);
	printf("msg: truncated %ld type %ld\n", n, m.mtype);
	n = msgrcv(id, &m, sizeof(m.mtext), -5, 0);
	printf("msg: lowest: %ld '%s'\n", m.mtype, m.mtext);
	printf("msg: empty %s\n", err(msgrcv(id, &m, sizeof(m.mtext), 0, IPC_NOWAIT)));

	/* A receiver waiting in a child gets what the parent sends. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct text r;
		long k = msgrcv(id, &r, sizeof(r.mtext), 7, 0);
		_exit(k == 6 && r.mtype == 7 && !strcmp(r.mtext, "hello") ? 0 : 1);
	}
	msleep(100);
	struct text h = { 7, "hello" };
	msgsnd(id, &h, 6, 0);
	printf("msg: receiver exit %d\n", child_status(pid));
	struct text bad = { 0, "" };
	printf("msg: type 0 %s\n", err(msgsnd(id, &bad, 1, 0)));

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct text r;
		long k = msgrcv(id, &r, sizeof(r.mtext), 0, 0);
		_exit(k < 0 && errno == EIDRM ? 0 : 1);
	}
	msleep(200);
	printf("msg: rmid %s\n", err(msgctl(id, IPC_RMID, NULL)));
	printf("msg: removed child exit %d\n", child_status(pid));
}

static void test_mq(void)
{
	char name[64];
	snprintf(name, sizeof(name), "/moat-ipc-test-%d", getpid());
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
	printf("mq: open %s\n", err(q));
	printf("mq: open excl again %s\n", err(mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr)));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		mq_send(q, "low", 4, 1);
		mq_send(q, "high", 5, 5);
		mq_send(q, "low2", 5, 1);
		_exit(0);
	}
	printf("mq: sender exit %d\n", child_status(pid));
	struct mq_attr now;
	mq_getattr(q, &now);
	printf("mq: maxmsg %ld msgsize %ld curmsgs %ld\n", now.mq_maxmsg, now.mq_msgsize,
	       now.mq_curmsgs);
	char buf[64];
	unsigned prio;
	for (int i = 0; i < 3; i++) {
		long n = mq_receive(q, buf, sizeof(buf), &prio);
		printf("mq: got '%s' prio %u (%ld)\n", buf, prio, n);
	}
	printf("mq: small buffer %s\n", err(mq_receive(q, buf, 8, &prio)));
	printf("mq: too long %s\n", err(mq_send(q, buf, 65, 0)));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	printf("mq: timed %s\n", err(mq_timedreceive(q, buf, sizeof(buf), &prio, &ts)));
	struct mq_attr nb = { .mq_flags = O_NONBLOCK };
	mq_setattr(q, &nb, NULL);
	printf("mq: nonblocking %s\n", err(mq_receive(q, buf, sizeof(buf), &prio)));
	for (int i = 0; i < 4; i++)
		mq_send(q, "x", 2, 0);
	printf("mq: full %s\n", err(mq_send(q, "x", 2, 0)));

	/* A second descriptor in a child; the name goes, the queue stays
	 * while open. */
	printf("mq: unlink %s\n", err(mq_unlink(name)));
	printf("mq: open after unlink %s\n", err(mq_open(name, O_RDWR)));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char b[64];
		long n = mq_receive(q, b, sizeof(b), NULL);
		_exit(n == 2 ? 0 : 1);
	}
	printf("mq: child receive after unlink %d\n", child_status(pid));
	mq_getattr(q, &now);
	printf("mq: curmsgs %ld\n", now.mq_curmsgs);
	printf("mq: close %s\n", err(mq_close(q)));
	printf("mq: unlink again %s\n", err(mq_unlink(name)));
}

/* For the isolation checks: what this key names here (probe), or make
 * an object of each kind under it and leave them (leave). */
static int other_mode(const char *mode, key_t key)
{
	if (!strcmp(mode, "probe")) {
		printf("shm %s sem %s msg %s\n", err(shmget(key, 0, 0)), err(semget(key, 0, 0)),
		       err(msgget(key, 0)));
		return 0;
	}
	int s = shmget(key, 4096, IPC_CREAT | 0600);
	int m = semget(key, 1, IPC_CREAT | 0600);
	int q = msgget(key, IPC_CREAT | 0600);
	mqd_t d = mq_open("/moat-ipc-left", O_CREAT | O_RDWR, 0600, NULL);
	printf("left: shm %s sem %s msg %s mq %s\n", err(s), err(m), err(q), err(d));
	return 0;
}

/* For the checkpoint check: an object of each kind, used in turn for
 * ever, a counter in the segment written to 'path' as "line N". */
static int loop(const char *path)
{
	int sid = shmget(IPC_PRIVATE, 4096, 0600);
	volatile long *count = shmat(sid, NULL, 0);
	int sem = semget(IPC_PRIVATE, 1, 0600);
	int q = msgget(IPC_PRIVATE, 0600);
	struct mq_attr attr = { .mq_maxmsg = 2, .mq_msgsize = 8 };
	mqd_t mq = mq_open("/moat-ipc-loop", O_CREAT | O_RDWR, 0600, &attr);
	FILE *out = fopen(path, "a");
	if (count == (void *)-1 || sem < 0 || q < 0 || mq < 0 || !out)
		return 1;
	setvbuf(out, NULL, _IOLBF, 0);
	for (;;) {
		struct sembuf up = { 0, 1, 0 }, down = { 0, -1, 0 };
		struct text m = { 1, "abc" };
		char b[8];
		if (semop(sem, &up, 1) || semop(sem, &down, 1) || msgsnd(q, &m, 4, 0) ||
		    msgrcv(q, &m, 8, 0, 0) != 4 || mq_send(mq, "m", 2, 0) ||
		    mq_receive(mq, b, 8, NULL) != 2) {
			fprintf(out, "failed: %s\n", strerrorname_np(errno));
			return 1;
		}
		fprintf(out, "line %ld\n", (*count)++);
		msleep(1);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "loop"))
		return loop(argv[2]);
	if (argc == 3)
		return other_mode(argv[1], (key_t)strtoul(argv[2], NULL, 0));
	key_t key = 0x6d6f0000 + (getpid() & 0xffff);
	test_shm(key);
	test_sem();
	test_msg();
	test_mq();
	return 0;
}
