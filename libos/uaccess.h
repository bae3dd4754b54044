/*
 * uaccess.h -- copies between the LibOS and the app's memory that fail
 * with -EFAULT, as Linux's do, instead of ending the picoprocess.
 *
 * A pointer the app passes in a system call is checked twice: at once,
 * that the range lies below the user address limit and outside the
 * picoprocess image (moat-pico's code and state, where Linux would have
 * its kernel); then by the copy itself, whose one faulting instruction
 * is listed in an exception table (uaccess.c): a host fault there moves
 * the thread to a fixup that returns -EFAULT.  Ranges the host kernel
 * fills or reads on the app's behalf (read, write and friends) get the
 * first check only; the host returns EFAULT itself for unmapped memory.
 *
 * This is compatibility, not protection: the LibOS is in the app's trust
 * domain, and the app can store into the image directly.
 */
#ifndef MOAT_LIBOS_UACCESS_H
#define MOAT_LIBOS_UACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "moat/abi.h"

#define USER_ADDR_LIMIT 0x800000000000ULL /* x86-64's lower half */

/* Is [p, p + n) app address space: no wrap-around, below the limit, not
 * in the image?  (n == 0 is always fine, as on Linux.) */
int user_range_ok(const void *p, size_t n);

/* 0, or -EFAULT when the range is not app memory or the copy faulted
 * (then part of it may have been copied). */
long copy_from_user(void *dst, const void *usrc, size_t n);
long copy_to_user(void *udst, const void *src, size_t n);
long clear_user(void *udst, size_t n);

/* A NUL-terminated string of at most max bytes with its NUL: its length,
 * -EFAULT, or -ENAMETOOLONG when no NUL comes within max. */
long strncpy_from_user(char *dst, const char *usrc, size_t max);
/* Its length without the NUL: max if no NUL comes within max, or -EFAULT. */
long strnlen_user(const char *usrc, size_t max);

/* One value: put_user(uptr, value), get_user(&var, uptr). */
#define put_user(uptr, value)                                   \
	({ __typeof__(*(uptr)) put_user_v_ = (value);           \
	   copy_to_user((uptr), &put_user_v_, sizeof(put_user_v_)); })
#define get_user(var_ptr, uptr) \
	copy_from_user((var_ptr), (uptr), sizeof(*(uptr)))

/* Before a system call's handler: the buffers of the calls whose
 * transfer the host kernel does (read, write, their vector and socket
 * forms, getdents64) are app memory?  0, or the error to return. */
long uaccess_syscall_check(const struct moat_context *c);

/* The exception upcall's first look at a fault: 1 if it was a copy's,
 * and the context now returns -EFAULT from it. */
int uaccess_fixup(struct moat_exception *e);

#endif /* MOAT_LIBOS_UACCESS_H */
