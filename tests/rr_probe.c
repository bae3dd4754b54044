/* rr_probe.c -- prints what differs from run to run (the time, random
 * bytes) and a file's contents, for tests/test_extensions.sh: a replay
 * must print exactly what the recorded run printed. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec rt, mono;
	unsigned char rnd[8];
	char buf[256];
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return 1;
	printf("realtime %ld.%09ld monotonic %ld.%09ld random ", (long)rt.tv_sec, rt.tv_nsec,
	       (long)mono.tv_sec, mono.tv_nsec);
	for (size_t i = 0; i < sizeof(rnd); i++)
		printf("%02x", rnd[i]);
	printf("\n");
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		printf("%s: %s", argv[i], n < 0 ? "cannot read\n" : (buf[n] = 0, buf));
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
