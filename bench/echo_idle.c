/*
 * echo_idle.c -- the idle program of the density benchmark (bench/density.py).
 * Built by bench/run.sh with `gcc -static -O2`; not a test.
 *
 * Writes "ready\n" on stdout, then answers every line it reads on stdin
 * with "pong LINE\n", and exits 0 at end of input.  In between it blocks
 * in read(2): an idle program that still proves, when asked, that it is
 * alive and that its sandbox still passes its I/O.
 */
#include <string.h>
#include <unistd.h>

static int put(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(1, s, n);
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(void)
{
	char in[512], line[520];
	size_t have = 0;
	if (put("ready\n", 6) < 0)
		return 1;
	for (;;) {
		ssize_t r = read(0, in + have, sizeof(in) - have);
		if (r < 0)
			return 1;
		if (r == 0)
			return have ? 1 : 0;
		have += (size_t)r;
		char *nl;
		while ((nl = memchr(in, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - in) + 1;
			memcpy(line, "pong ", 5);
			memcpy(line + 5, in, len);
			if (put(line, len + 5) < 0)
				return 1;
			memmove(in, in + len, have - len);
			have -= len;
		}
		if (have == sizeof(in))
			return 1; /* a line longer than the buffer: not ours */
	}
}
