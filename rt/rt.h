/*
 * rt.h -- the small freestanding runtime used inside the picoprocess.
 *
 * The PAL and the LibOS link no host libc: the app brings its own, and
 * two copies of libc state in one address space would fight over %fs,
 * errno and the heap.  These are the few helpers they need, with the
 * usual C semantics.
 */
#ifndef MOAT_RT_H
#define MOAT_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);

/* Copy at most size-1 bytes and NUL-terminate; returns strlen(src). */
size_t rt_strlcpy(char *dst, const char *src, size_t size);

/* snprintf subset: %s %c %d %i %u %x %o %p %%, with l, ll, z modifiers
 * and a width with optional 0 padding for the numbers. */
int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define RT_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define RT_ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define RT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* MOAT_RT_H */
