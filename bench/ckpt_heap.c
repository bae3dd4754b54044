/*
 * ckpt_heap.c -- the process bench/ckpt_criu.sh checkpoints: it mallocs
 * MIB mebibytes (default 10), writes every page (a non-zero pattern, so
 * no page can stay the shared zero page), prints "ready", then answers
 * each line on stdin with "pong N" (N read back from the heap) and exits
 * 0 at end of input.  Idle, it blocks in read(): the checkpoint is taken
 * there, and a resumed copy proves itself with its first "pong".
 *
 *   ckpt_heap [MIB]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
	char line[256];
	unsigned char *heap;
	size_t n, i;

	if (mib < 1 || mib > 65536) {
		fprintf(stderr, "ckpt_heap: MIB must be 1..65536, not %s\n", argv[1]);
		return 2;
	}
	n = (size_t)mib << 20;
	heap = malloc(n);
	if (!heap) {
		fprintf(stderr, "ckpt_heap: malloc(%zu) failed\n", n);
		return 1;
	}
	for (i = 0; i < n; i += 4096)
		memset(heap + i, (int)(1 + (i >> 12) % 251), 4096);
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin)) {
		printf("pong %u\n", heap[(size_t)(line[0] & 0x7f) << 12]);
		fflush(stdout);
	}
	return 0;
}
