/* hidden.h -- force-included into every picoprocess object: all symbols
 * are local to moat-pico, so references are RIP-relative and never go
 * through a GOT (the image sits above 4 GiB, where 32-bit absolute
 * relaxations cannot reach). */
#pragma GCC visibility push(hidden)
