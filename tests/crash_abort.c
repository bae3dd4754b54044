/* crash_abort.c -- calls abort(); moat must report the SIGABRT as exit
 * status 134 with a one-line reason (tests/test_crash.sh). */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	fputs("before abort\n", stdout);
	fflush(stdout);
	abort();
}
