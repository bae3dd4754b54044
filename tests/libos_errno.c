/*
 * libos_errno.c -- error codes and results Linux gives for bad arguments
 * and corner cases that programs (and LTP) look at, printed so that a
 * native run and a moat run compare line by line
 * (tests/test_libos_errno.sh).  argv[1] is a writable directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

static void show(const char *what, long r)
{
	if (r < 0)
		printf("%-44s -1 %s\n", what, strerrorname_np(errno));
	else
		printf("%-44s %ld\n", what, r);
	fflush(stdout);
}

#define TRY(what, expr) do { errno = 0; show(what, (long)(expr)); } while (0)

static void descriptors(void)
{
	int p[2];
	TRY("dup3 same fd, not open", dup3(40, 40, 0));
	TRY("dup3 same fd, open", dup3(1, 1, 0));
	TRY("dup3 bad flags", dup3(1, 41, 1));
	TRY("dup3 bad old fd", dup3(40, 41, 0));
	TRY("dup2 same fd, open", dup2(1, 1));
	pipe2(p, O_NONBLOCK);
	TRY("pipe2 O_NONBLOCK read end F_GETFL", fcntl(p[0], F_GETFL) & O_NONBLOCK);
	TRY("pipe2 O_NONBLOCK write end F_GETFL", fcntl(p[1], F_GETFL) & O_NONBLOCK);
	char c;
	TRY("pipe2 O_NONBLOCK read of empty pipe", read(p[0], &c, 1));
	TRY("fsync of a pipe", fsync(p[1]));
	TRY("fdatasync of a pipe", fdatasync(p[1]));
	TRY("ftruncate of a pipe", ftruncate(p[1], 0));
	TRY("ftruncate negative, bad fd", ftruncate(-1, -1));
	TRY("ftruncate bad fd", ftruncate(-1, 0));
	int s = socket(AF_INET, SOCK_STREAM, 0);
	TRY("ftruncate of a socket", ftruncate(s, 0));
	TRY("fsync of a socket", fsync(s));
	int n = open("/dev/null", O_RDONLY);
	TRY("fsync of /dev/null", fsync(n));
	close(n);
	close(s);
	close(p[0]);
	close(p[1]);
}

static void files(const char *dir)
{
	char a[512], b[512], lng[400];
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	close(open(a, O_CREAT | O_WRONLY | O_TRUNC, 0600));
	close(open(b, O_CREAT | O_WRONLY | O_TRUNC, 0600));
	int ro = open(a, O_RDONLY);
	TRY("ftruncate of a read-only descriptor", ftruncate(ro, 0));
	TRY("fsync of a file", fsync(ro));
	TRY("mmap of a closed fd", (long)mmap(NULL, 4096, PROT_READ, MAP_SHARED, 99, 0));
	TRY("mmap with no MAP_SHARED/PRIVATE", (long)mmap(NULL, 4096, PROT_READ, 0, ro, 0));
	TRY("mmap length 0", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE, ro, 0));
	int wr = open(b, O_WRONLY);
	off_t off = -1;
	TRY("sendfile to a read-only descriptor", sendfile(ro, ro, NULL, 1));
	TRY("sendfile from a write-only descriptor", sendfile(wr, wr, NULL, 1));
	TRY("sendfile offset -1", sendfile(wr, ro, &off, 1));
	int ap = open(b, O_WRONLY | O_APPEND);
	TRY("sendfile to an O_APPEND file", sendfile(ap, ro, NULL, 1));
	close(ap);
	close(wr);
	TRY("renameat2 NOREPLACE onto a file", syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 1));
	TRY("renameat2 unknown flag", syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 8));
	TRY("renameat2 EXCHANGE|NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 3));
	unlink(b);
	TRY("renameat2 NOREPLACE to a new name", syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 1));
	TRY("... and the old name is gone", access(a, F_OK));
	TRY("mknod S_IFMT", mknod(a, S_IFMT | 0600, 0));
	TRY("mknod S_IFDIR", mknod(a, S_IFDIR | 0600, 0));
	TRY("unlinkat unknown flag", unlinkat(AT_FDCWD, b, 0x8000));
	memset(lng, 'x', 300);
	lng[300] = 0;
	TRY("open a 300-byte name", open(lng, O_RDONLY));
	TRY("chdir to a 300-byte name", chdir(lng));
	TRY("epoll_ctl on a regular file", ({
		int ep = epoll_create1(0);
		struct epoll_event ev = { .events = EPOLLIN };
		long r = epoll_ctl(ep, EPOLL_CTL_ADD, ro, &ev);
		int e = errno;
		close(ep);
		errno = e;
		r;
	}));
	close(ro);
}

/* Linux drops a process's record locks on a file when any descriptor of
 * it is closed, a dup included; a child sees whether the lock is held. */
static void locks(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/lock", dir);
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	TRY("F_SETLK write lock", fcntl(fd, F_SETLK, &fl));
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			int d = dup(fd);
			TRY("close a dup of the locked file", close(d));
		}
		pid_t pid = fork();
		if (pid == 0) {
			int cfd = open(path, O_RDWR);
			struct flock t = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
			fcntl(cfd, F_GETLK, &t);
			_exit(t.l_type == F_UNLCK ? 0 : 1);
		}
		int st;
		waitpid(pid, &st, 0);
		printf("%-44s %s\n", round ? "after the dup's close, child sees" : "child sees",
		       WEXITSTATUS(st) ? "locked" : "unlocked");
	}
	fl.l_whence = 7;
	TRY("F_SETLK bad whence", fcntl(fd, F_SETLK, &fl));
	fl.l_whence = SEEK_SET;
	fl.l_type = 9;
	TRY("F_SETLK bad type", fcntl(fd, F_SETLK, &fl));
	close(fd);
}

static void processes(void)
{
	TRY("waitpid bad options", waitpid(-1, NULL, 0xffffffff));
	TRY("waitpid WUNTRACED, no child", waitpid(-1, NULL, WUNTRACED | WNOHANG));
	TRY("tgkill tid -1", syscall(SYS_tgkill, getpid(), -1, 0));
	TRY("tgkill tgid 0", syscall(SYS_tgkill, 0, getpid(), 0));
	TRY("tgkill bad signal", syscall(SYS_tgkill, getpid(), getpid(), 99));
	TRY("tkill tid -1", syscall(SYS_tkill, -1, SIGUSR1));
	char buf[16];
	TRY("getrandom unknown flag", syscall(SYS_getrandom, buf, sizeof(buf), 8));
	TRY("getrandom RANDOM|INSECURE", syscall(SYS_getrandom, buf, sizeof(buf), 6));
	TRY("getrandom NONBLOCK", syscall(SYS_getrandom, buf, sizeof(buf), 1));
	struct itimerval v = { .it_value = { 30, 0 } }, o;
	TRY("setitimer 30 s", setitimer(ITIMER_REAL, &v, NULL));
	TRY("setitimer NULL disarms", syscall(SYS_setitimer, ITIMER_REAL, NULL, NULL));
	TRY("getitimer after", getitimer(ITIMER_REAL, &o));
	printf("%-44s %ld\n", "... time left", (long)o.it_value.tv_sec);
	TRY("getitimer bad which", getitimer(-1, &o));
	TRY("setitimer bad usec", ({
		struct itimerval b = { .it_value = { 1, 1000000 } };
		setitimer(ITIMER_REAL, &b, NULL);
	}));
}

static void sockets(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), v = 1;
	socklen_t len = sizeof(v);
	TRY("setsockopt level 500", setsockopt(s, 500, 1, &v, sizeof(v)));
	TRY("setsockopt IPPROTO_UDP on TCP", setsockopt(s, IPPROTO_UDP, 1, &v, sizeof(v)));
	TRY("setsockopt IP option -1", setsockopt(s, IPPROTO_IP, -1, &v, sizeof(v)));
	TRY("setsockopt TCP option -1", setsockopt(s, IPPROTO_TCP, -1, &v, sizeof(v)));
	TRY("setsockopt length 0", setsockopt(s, SOL_SOCKET, SO_OOBINLINE, &v, 0));
	TRY("setsockopt SO_OOBINLINE", setsockopt(s, SOL_SOCKET, SO_OOBINLINE, &v, sizeof(v)));
	TRY("getsockopt level 500", getsockopt(s, 500, 1, &v, &len));
	TRY("getsockopt IPPROTO_UDP on TCP", getsockopt(s, IPPROTO_UDP, 1, &v, &len));
	TRY("getsockopt TCP option -1", getsockopt(s, IPPROTO_TCP, -1, &v, &len));
	len = (socklen_t)-1;
	TRY("getsockopt length -1", getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &v, &len));
	len = sizeof(v);
	TRY("getsockopt SO_OOBINLINE", getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &v, &len));
	printf("%-44s %d %u\n", "... value and length", v, len);
	TRY("getsockopt TCP_NODELAY", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len));
	close(s);
}

static void epolls(void)
{
	int a = epoll_create1(0), b = epoll_create1(0), c = epoll_create1(0), p[2];
	struct epoll_event ev = { .events = EPOLLIN };
	pipe(p);
	TRY("epoll_ctl add b to a", epoll_ctl(a, EPOLL_CTL_ADD, b, &ev));
	TRY("epoll_ctl add a to b (a loop)", epoll_ctl(b, EPOLL_CTL_ADD, a, &ev));
	TRY("epoll_ctl add c to b", epoll_ctl(b, EPOLL_CTL_ADD, c, &ev));
	TRY("epoll_ctl add a to c (a longer loop)", epoll_ctl(c, EPOLL_CTL_ADD, a, &ev));
	TRY("epoll_ctl add to itself", epoll_ctl(a, EPOLL_CTL_ADD, a, &ev));
	TRY("epoll_ctl epfd not an epoll", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
	TRY("epoll_ctl bad op", epoll_ctl(a, 9, p[0], &ev));
	TRY("epoll_wait epfd not an epoll", epoll_wait(p[0], &ev, 1, 0));
	TRY("epoll_wait maxevents 0", epoll_wait(a, &ev, 0, 0));
	close(a), close(b), close(c), close(p[0]), close(p[1]);
}

static void polls(void)
{
	int p[2];
	pipe(p);
	fd_set r, x;
	FD_ZERO(&r);
	FD_ZERO(&x);
	FD_SET(p[0], &r);
	FD_SET(p[1], &x);
	struct timeval tv = { 0, -1 };
	TRY("select negative usec", select(p[1] + 1, &r, NULL, NULL, &tv));
	tv.tv_usec = 0;
	write(p[1], "x", 1);
	TRY("select readable pipe", select(p[1] + 1, &r, NULL, &x, &tv));
	printf("%-44s %d %d\n", "... read bit, except bit", FD_ISSET(p[0], &r), FD_ISSET(p[1], &x));
	FD_ZERO(&x);
	FD_SET(50, &x);
	TRY("select closed fd in exceptfds", select(51, NULL, NULL, &x, &tv));
	struct timespec ts = { 0, 1000000000 };
	struct pollfd pf = { p[0], POLLIN, 0 };
	TRY("ppoll nsec 1e9", ppoll(&pf, 1, &ts, NULL));
	close(p[0]), close(p[1]);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	descriptors();
	files(argv[1]);
	locks(argv[1]);
	processes();
	sockets();
	epolls();
	polls();
	printf("done\n");
	return 0;
}
