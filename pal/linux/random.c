/*
 * random.c -- the ABI's random_bits, from the host's getrandom.
 */
#include "pal.h"

long pal_random_bits(void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		long r = host_getrandom((char *)buf + done, len - done, 0);
		if (r == -MOAT_EFAULT)
			return r; /* an unwritable buffer: getrandom(2) says EFAULT */
		if (r < 0 && r != -MOAT_EINTR)
			pal_fatal("getrandom failed");
		if (r > 0)
			done += (size_t)r;
	}
	return (long)len;
}
