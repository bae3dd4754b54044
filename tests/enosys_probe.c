/* enosys_probe.c -- calls two system calls the LibOS does not implement
 * (bpf twice, io_uring_setup once), for tests/test_extensions.sh: the
 * trace extension's summary must list them with these counts. */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	long a = syscall(SYS_bpf, 0, 0, 0);
	int ea = errno;
	long b = syscall(SYS_bpf, 0, 0, 0);
	long c = syscall(SYS_io_uring_setup, 0, 0);
	int ec = errno;
	printf("bpf %ld %s, bpf %ld, io_uring_setup %ld %s\n", a, ea == ENOSYS ? "ENOSYS" : "other",
	       b, c, ec == ENOSYS ? "ENOSYS" : "other");
	return 0;
}
