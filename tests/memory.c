/* memory.c -- what programs expect of mmap: MADV_DONTNEED zeroes private
 * anonymous memory, MAP_SHARED|MAP_ANONYMOUS is shared with a forked
 * child, mprotect shows in /proc/self/maps. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	size_t len = 3 * 4096;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0xff, len);
	int r = madvise(p + 4096, 4096, MADV_DONTNEED);
	printf("dontneed: %d, page0 %02x page1 %02x page2 %02x\n", r, p[0], p[4096], p[8192]);

	int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*shared = 1;
	pid_t pid = fork();
	if (pid == 0) {
		*shared = 42;
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("shared after child wrote: %d\n", *shared);

	mprotect(p, 4096, PROT_READ);
	char line[512], want[64];
	snprintf(want, sizeof(want), "%lx-%lx r--p", (unsigned long)p, (unsigned long)p + 4096);
	FILE *maps = fopen("/proc/self/maps", "r");
	int found = 0;
	while (maps && fgets(line, sizeof(line), maps))
		found |= strncmp(line, want, strlen(want)) == 0;
	printf("maps shows the read-only page: %s\n", found ? "yes" : "no");
	return 0;
}
