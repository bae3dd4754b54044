/*
 * device.c -- /dev/null, /dev/zero, /dev/urandom and /dev/random, made
 * by the LibOS itself (no host device is opened).
 */
#include "file.h"

enum { DEV_NULL = 3, DEV_ZERO = 5, DEV_RANDOM = 9 }; /* their Linux minors */

static int device_minor(const char *path)
{
	if (!strcmp(path, "/dev/null"))
		return DEV_NULL;
	if (!strcmp(path, "/dev/zero"))
		return DEV_ZERO;
	if (!strcmp(path, "/dev/urandom") || !strcmp(path, "/dev/random"))
		return DEV_RANDOM;
	return -1;
}

static void device_attr(int minor, struct moat_attr *a)
{
	*a = (struct moat_attr){ .kind = MOAT_KIND_CHARDEV, .mode = 0666,
				 .nlink = 1, .writable = 1, .blksize = 4096,
				 .rdev = (1 << 8) | (uint32_t)minor };
}

static long null_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)len, (void)at;
	return 0;
}

static long zero_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)f, (void)at;
	memset(buf, 0, len);
	return (long)len;
}

static long random_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)f, (void)at;
	return abi->random_bits(buf, len);
}

/* Every device swallows what is written. */
static long device_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)f, (void)buf, (void)at;
	return (long)len;
}

static long zero_map(struct file *f, moat_handle *h, int *writable, int *is_zero)
{
	(void)f, (void)h, (void)writable;
	*is_zero = 1;
	return 0;
}

static const struct file_ops null_ops = {
	.read = null_read, .write = device_write,
};
static const struct file_ops zero_ops = {
	.read = zero_read, .write = device_write, .map = zero_map,
};
static const struct file_ops random_ops = {
	.read = random_read, .write = device_write,
};

static long device_open_name(struct file *f, const char *path, int flags)
{
	(void)flags;
	int minor = device_minor(path);
	if (minor < 0)
		return 1;
	f->ops = minor == DEV_NULL ? &null_ops : minor == DEV_ZERO ? &zero_ops : &random_ops;
	device_attr(minor, &f->attr);
	return 0;
}

static long device_name_attr(const char *path, struct moat_attr *a)
{
	int minor = device_minor(path);
	if (minor < 0)
		return 1;
	device_attr(minor, a);
	return 0;
}

const struct file_kind device_kind = {
	.open_name = device_open_name,
	.name_attr = device_name_attr,
};
