/* crash_segv.c -- writes through a NULL pointer; moat must report the
 * SIGSEGV as exit status 139 with a one-line reason (tests/test_crash.sh). */
#include <stdio.h>

int main(void)
{
	volatile int *p = NULL;
	fputs("before segv\n", stdout);
	fflush(stdout);
	*p = 42;
	fputs("after segv\n", stdout);
	return 0;
}
