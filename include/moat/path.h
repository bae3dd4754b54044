/*
 * moat/path.h -- lexical checks and normal forms of absolute paths, as
 * the monitor reads them in requests, manifests and symlink targets.
 * Purely textual: nothing here looks at the file system.
 */
#ifndef MOAT_PATH_H
#define MOAT_PATH_H

#include <stddef.h>

/* 0 if 'path' is a well-formed virtual path of a request: absolute,
 * shorter than MOAT_PATH_MAX, no empty, "." or ".." component, none
 * longer than NAME_MAX, no trailing '/' (except "/" itself); else
 * -EINVAL. */
int moat_path_check(const char *path);

/* Normalise an absolute path lexically into out (size >= strlen+2):
 * repeated '/' and "." components dropped.  Returns 0, or -1 if it is
 * not absolute, contains "..", or does not fit. */
int moat_path_normalise(const char *in, char *out, size_t size);

/* The same, but '..' removes the component before it (never above '/'),
 * as when a symlink's target is read as a path.  -1 if out is too small. */
int moat_path_resolve_dots(const char *in, char *out, size_t size);

#endif /* MOAT_PATH_H */
