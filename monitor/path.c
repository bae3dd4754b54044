/*
 * path.c -- the monitor's lexical path helpers, in one place: the
 * well-formed virtual path of a request, a manifest's normalised path,
 * and '..' resolved as a symlink's target is read.  None touches the
 * file system.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "moat/channel.h"
#include "moat/path.h"

int moat_path_check(const char *path)
{
	size_t len = strnlen(path, MOAT_PATH_MAX);
	if (len == 0 || len >= MOAT_PATH_MAX || path[0] != '/')
		return -EINVAL;
	if (len == 1)
		return 0;
	for (const char *c = path + 1;;) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		if (n == 0 || n > NAME_MAX || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (!*end)
			return 0;
		c = end + 1;
	}
}

int moat_path_normalise(const char *in, char *out, size_t size)
{
	size_t len = 0;
	if (in[0] != '/' || size < 2)
		return -1;
	out[0] = '/', out[1] = 0;
	while (*in) {
		while (*in == '/')
			in++;
		const char *end = in;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - in);
		if (n == 2 && in[0] == '.' && in[1] == '.')
			return -1;
		if (n && !(n == 1 && in[0] == '.')) {
			if (len + n + 2 > size)
				return -1;
			out[len++] = '/';
			memcpy(out + len, in, n);
			len += n;
			out[len] = 0;
		}
		in = end;
	}
	if (len == 0)
		len = 1;
	out[len] = 0;
	return 0;
}

int moat_path_resolve_dots(const char *in, char *out, size_t size)
{
	size_t len = 0;
	for (const char *c = in; *c;) {
		while (*c == '/')
			c++;
		const char *end = strchrnul(c, '/');
		size_t l = (size_t)(end - c);
		if (l == 2 && c[0] == '.' && c[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
		} else if (l && !(l == 1 && c[0] == '.')) {
			if (len + l + 2 >= size)
				return -1;
			out[len++] = '/';
			memcpy(out + len, c, l);
			len += l;
		}
		c = end;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = 0;
	return 0;
}
