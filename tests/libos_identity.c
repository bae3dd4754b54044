/*
 * libos_identity.c -- the identity model and file ownership, printed so
 * that a run as root natively and one in moat (virtual root) can be
 * compared byte for byte (tests/test_identity.sh).
 *
 * libos_identity DIR: works in a new directory beneath DIR (writable).
 * libos_identity --ids: prints the ids (after an exec).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long rc)
{
	if (rc < 0)
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %ld\n", what, rc);
	fflush(stdout);
}

static void ids(const char *when)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	printf("%s: uid %u %u %u fsuid %d gid %u %u %u fsgid %d\n", when, r, e, s,
	       setfsuid(-1), gr, ge, gs, setfsgid(-1));
	fflush(stdout);
}

static void owner(const char *what, const char *path, int follow)
{
	struct stat st;
	int rc = follow ? stat(path, &st) : lstat(path, &st);
	if (rc < 0)
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %u:%u %04o\n", what, st.st_uid, st.st_gid, st.st_mode & 07777);
	fflush(stdout);
}

static void fd_owner(const char *what, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %u:%u %04o\n", what, st.st_uid, st.st_gid, st.st_mode & 07777);
	fflush(stdout);
}

/* A child's exit status as a line. */
static void child(const char *what, void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("%s: child status %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	fflush(stdout);
}

static void drop_all(void)
{
	show("setuid(65534) as root", setuid(65534));
	ids("after setuid");
	show("setuid(0) with no 0 held", setuid(0));
	show("setresuid(-1,0,-1) with no 0 held", setresuid(-1, 0, -1));
	show("setreuid(0,-1) with no 0 held", setreuid(0, -1));
	show("seteuid(65534) held", seteuid(65534));
	show("setgid(5) unprivileged", setgid(5));
	show("setgroups unprivileged", setgroups(0, NULL));
}

static void inherited(void)
{
	ids("child of a process with euid 65534");
}

static void uid_model(const char *self)
{
	ids("start");
	show("setresuid(-1,65534,-1)", setresuid(-1, 65534, -1));
	ids("euid nobody, saved root");
	child("fork keeps the ids", inherited);
	show("setresuid(-1,0,-1) regains root through the saved id", setresuid(-1, 0, -1));
	show("setreuid(-1,1000)", setreuid(-1, 1000));
	ids("after setreuid");
	show("setuid(0) regains root through the real id", setuid(0));
	ids("after setuid(0)");
	show("setresuid(0,0,0)", setresuid(0, 0, 0));
	show("setfsuid(1234) returns the old fsuid", setfsuid(1234));
	show("setfsuid(-1) returns the fsuid", setfsuid(-1));
	show("setfsuid(0)", setfsuid(0));
	show("setresgid(100,200,300)", setresgid(100, 200, 300));
	ids("after setresgid");
	show("setregid(-1,0)", setregid(-1, 0));
	show("setgid(0)", setgid(0));
	gid_t g[3] = { 7, 8, 9 }, back[8];
	show("setgroups(3)", setgroups(3, g));
	show("getgroups(1) too small", getgroups(1, back));
	int n = getgroups(8, back);
	printf("getgroups: %d: %u %u %u\n", n, back[0], back[1], back[2]);
	child("a process that dropped every id", drop_all);
	show("setgroups(0)", setgroups(0, NULL));
	show("getgroups(0) after clearing", getgroups(0, NULL));
	fflush(stdout);
	/* exec keeps the ids, the saved id becomes the effective one */
	pid_t pid = fork();
	if (pid == 0) {
		setresuid(0, 65534, 0);
		execl(self, self, "--ids", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
}

static void umask_model(void)
{
	struct stat st;
	show("umask(027) returns the old mask", umask(027));
	int fd = creat("u-file", 0777);
	close(fd);
	owner("creat 0777 under 027", "u-file", 1);
	show("mkdir", mkdir("u-dir", 0777));
	owner("mkdir 0777 under 027", "u-dir", 1);
	show("mkfifo", mkfifo("u-fifo", 0666));
	owner("mkfifo 0666 under 027", "u-fifo", 1);
	show("mknod regular", mknod("u-node", S_IFREG | 0666, 0));
	owner("mknod 0666 under 027", "u-node", 1);
	show("umask(0) returns the old mask", umask(0));
	fd = open("u-open", O_CREAT | O_WRONLY, 0777);
	close(fd);
	owner("open 0777 under 0", "u-open", 1);
	show("mkdir", mkdir("u-dir0", 0777));
	owner("mkdir 0777 under 0", "u-dir0", 1);
	umask(022);
	(void)st;
}

static void ownership(void)
{
	int fd = open("o-file", O_CREAT | O_RDWR, 0644);
	owner("new file as root", "o-file", 1);
	show("chown(1000,1000)", chown("o-file", 1000, 1000));
	owner("after chown", "o-file", 1);
	fd_owner("fstat of a descriptor opened before", fd);
	show("fchown(700,701)", fchown(fd, 700, 701));
	fd_owner("fstat after fchown", fd);
	show("chown(-1,-1)", chown("o-file", -1, -1));
	owner("after chown(-1,-1)", "o-file", 1);
	close(fd);

	/* set-id bits: recorded, cleared by chown as Linux does */
	show("chmod 06755", chmod("o-file", 06755));
	owner("after chmod 06755", "o-file", 1);
	show("chown(0,0) clears set-id bits", chown("o-file", 0, 0));
	owner("after chown", "o-file", 1);
	show("chmod 02700", chmod("o-file", 02700));
	show("chown(0,0) keeps setgid without group x", chown("o-file", 0, 0));
	owner("after chown", "o-file", 1);
	show("chmod 0644", chmod("o-file", 0644));

	/* a symlink's own owner */
	show("symlink", symlink("o-file", "o-link"));
	show("lchown(1000,1000)", lchown("o-link", 1000, 1000));
	owner("lstat of the link", "o-link", 0);
	owner("stat through the link", "o-link", 1);

	/* an unprivileged owner */
	show("chown(1000,1000)", chown("o-file", 1000, 1000));
	show("chmod 0640", chmod("o-file", 0640));
	show("seteuid(1000)", seteuid(1000));
	show("chown to someone else as owner", chown("o-file", 2000, -1));
	show("chgrp to a group not held", chown("o-file", -1, 5));
	show("chgrp to the file's group", chown("o-file", -1, 1000));
	show("chmod as owner", chmod("o-file", 0600));
	show("chmod of root's directory", chmod(".", 0777));
	show("seteuid(0)", seteuid(0));
	owner("after the owner's chmod", "o-file", 1);
}

static void access_model(void)
{
	int fd = open("a-file", O_CREAT | O_RDWR, 0644);
	close(fd);
	show("seteuid(65534)", seteuid(65534));
	fd = open("a-file", O_RDWR);
	show("open O_RDWR of root's 0644 file as nobody", fd);
	if (fd >= 0)
		close(fd);
	fd = open("a-file", O_RDONLY);
	show("open O_RDONLY as nobody", fd >= 0 ? 0 : -1);
	if (fd >= 0)
		close(fd);
	show("access W_OK (real uid root)", access("a-file", W_OK));
	show("faccessat W_OK AT_EACCESS", faccessat(AT_FDCWD, "a-file", W_OK, AT_EACCESS));
	show("faccessat R_OK AT_EACCESS", faccessat(AT_FDCWD, "a-file", R_OK, AT_EACCESS));
	show("setresuid(-1,0,-1)", setresuid(-1, 0, -1));
	fd = open("a-file", O_RDWR);
	show("open O_RDWR as root again", fd >= 0 ? 0 : -1);
	if (fd >= 0)
		close(fd);
	/* made by nobody: nobody's, and nobody may open it */
	show("chmod dir 0777", chmod(".", 0777));
	show("setegid(65534)", setegid(65534));
	show("seteuid(65534)", seteuid(65534));
	fd = open("a-made", O_CREAT | O_RDWR, 0600);
	show("create as nobody", fd >= 0 ? 0 : -1);
	if (fd >= 0)
		close(fd);
	fd = open("a-made", O_CREAT | O_RDWR, 0600);
	show("reopen as nobody", fd >= 0 ? 0 : -1);
	if (fd >= 0)
		close(fd);
	show("mkdir as nobody", mkdir("a-dir", 0755));
	show("seteuid(0)", seteuid(0));
	show("setegid(0)", setegid(0));
	owner("a file nobody made", "a-made", 1);
	owner("a directory nobody made", "a-dir", 1);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--ids")) {
		ids("after exec");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: libos_identity DIR\n");
		return 2;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/idXXXXXX", argv[1]);
	if (!mkdtemp(dir) || chdir(dir) < 0 || chmod(".", 0755) < 0) {
		perror(dir);
		return 1;
	}
	umask(022);
	uid_model(argv[0]);
	umask_model();
	ownership();
	access_model();
	return 0;
}
