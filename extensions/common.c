/*
 * common.c -- the registry of built-in extensions and the helpers their
 * option parsers share (ext.h): compiled into moat-pico and the monitor.
 */
#include "ext.h"

const struct moat_extension *const moat_extensions[] = {
	&moat_ext_trace, &moat_ext_faults, &moat_ext_passthrough,
	&moat_ext_record, &moat_ext_replay, &moat_ext_ckpt, NULL,
};

const char *const ext_call_names[MOAT_ABI_NCALLS] = {
	"thread_create", "thread_delay", "thread_yield", "thread_resume",
	"thread_exit", "semaphore_create", "semaphore_release", "event_create",
	"event_set", "event_clear", "objects_wait_any", "address_wait",
	"vm_alloc", "vm_free", "vm_protect", "stream_open", "stream_read",
	"stream_write", "stream_map", "stream_unmap", "stream_set_length",
	"stream_flush", "stream_delete", "stream_rename",
	"stream_wait_for_client", "stream_attr_query",
	"stream_attr_query_by_handle", "stream_pipe", "stream_shutdown",
	"stream_attr_set", "stream_symlink", "stream_link", "stream_lock",
	"stream_readlink", "process_create", "process_fork", "process_wait",
	"process_control", "process_exit", "system_time", "random_bits",
	"segment_base_set", "timer_set", "debug_log", "object_close",
};

int ext_call_index(const char *name)
{
	for (int i = 0; i < MOAT_ABI_NCALLS; i++)
		if (!strcmp(ext_call_names[i], name))
			return i;
	return -1;
}

static const char *const errno_names[] = {
	[1] = "EPERM",
	[2] = "ENOENT",
	[3] = "ESRCH",
	[4] = "EINTR",
	[5] = "EIO",
	[6] = "ENXIO",
	[7] = "E2BIG",
	[8] = "ENOEXEC",
	[9] = "EBADF",
	[10] = "ECHILD",
	[11] = "EAGAIN",
	[12] = "ENOMEM",
	[13] = "EACCES",
	[14] = "EFAULT",
	[15] = "ENOTBLK",
	[16] = "EBUSY",
	[17] = "EEXIST",
	[18] = "EXDEV",
	[19] = "ENODEV",
	[20] = "ENOTDIR",
	[21] = "EISDIR",
	[22] = "EINVAL",
	[23] = "ENFILE",
	[24] = "EMFILE",
	[25] = "ENOTTY",
	[26] = "ETXTBSY",
	[27] = "EFBIG",
	[28] = "ENOSPC",
	[29] = "ESPIPE",
	[30] = "EROFS",
	[31] = "EMLINK",
	[32] = "EPIPE",
	[33] = "EDOM",
	[34] = "ERANGE",
	[35] = "EDEADLK",
	[36] = "ENAMETOOLONG",
	[37] = "ENOLCK",
	[38] = "ENOSYS",
	[39] = "ENOTEMPTY",
	[40] = "ELOOP",
	[42] = "ENOMSG",
	[43] = "EIDRM",
	[44] = "ECHRNG",
	[45] = "EL2NSYNC",
	[46] = "EL3HLT",
	[47] = "EL3RST",
	[48] = "ELNRNG",
	[49] = "EUNATCH",
	[50] = "ENOCSI",
	[51] = "EL2HLT",
	[52] = "EBADE",
	[53] = "EBADR",
	[54] = "EXFULL",
	[55] = "ENOANO",
	[56] = "EBADRQC",
	[57] = "EBADSLT",
	[59] = "EBFONT",
	[60] = "ENOSTR",
	[61] = "ENODATA",
	[62] = "ETIME",
	[63] = "ENOSR",
	[64] = "ENONET",
	[65] = "ENOPKG",
	[66] = "EREMOTE",
	[67] = "ENOLINK",
	[68] = "EADV",
	[69] = "ESRMNT",
	[70] = "ECOMM",
	[71] = "EPROTO",
	[72] = "EMULTIHOP",
	[73] = "EDOTDOT",
	[74] = "EBADMSG",
	[75] = "EOVERFLOW",
	[76] = "ENOTUNIQ",
	[77] = "EBADFD",
	[78] = "EREMCHG",
	[79] = "ELIBACC",
	[80] = "ELIBBAD",
	[81] = "ELIBSCN",
	[82] = "ELIBMAX",
	[83] = "ELIBEXEC",
	[84] = "EILSEQ",
	[85] = "ERESTART",
	[86] = "ESTRPIPE",
	[87] = "EUSERS",
	[88] = "ENOTSOCK",
	[89] = "EDESTADDRREQ",
	[90] = "EMSGSIZE",
	[91] = "EPROTOTYPE",
	[92] = "ENOPROTOOPT",
	[93] = "EPROTONOSUPPORT",
	[94] = "ESOCKTNOSUPPORT",
	[95] = "EOPNOTSUPP",
	[96] = "EPFNOSUPPORT",
	[97] = "EAFNOSUPPORT",
	[98] = "EADDRINUSE",
	[99] = "EADDRNOTAVAIL",
	[100] = "ENETDOWN",
	[101] = "ENETUNREACH",
	[102] = "ENETRESET",
	[103] = "ECONNABORTED",
	[104] = "ECONNRESET",
	[105] = "ENOBUFS",
	[106] = "EISCONN",
	[107] = "ENOTCONN",
	[108] = "ESHUTDOWN",
	[109] = "ETOOMANYREFS",
	[110] = "ETIMEDOUT",
	[111] = "ECONNREFUSED",
	[112] = "EHOSTDOWN",
	[113] = "EHOSTUNREACH",
	[114] = "EALREADY",
	[115] = "EINPROGRESS",
	[116] = "ESTALE",
	[117] = "EUCLEAN",
	[118] = "ENOTNAM",
	[119] = "ENAVAIL",
	[120] = "EISNAM",
	[121] = "EREMOTEIO",
	[122] = "EDQUOT",
	[123] = "ENOMEDIUM",
	[124] = "EMEDIUMTYPE",
	[125] = "ECANCELED",
	[126] = "ENOKEY",
	[127] = "EKEYEXPIRED",
	[128] = "EKEYREVOKED",
	[129] = "EKEYREJECTED",
	[130] = "EOWNERDEAD",
	[131] = "ENOTRECOVERABLE",
	[132] = "ERFKILL",
};

const char *ext_errno_name(long e)
{
	if (e <= 0 || (unsigned long)e >= sizeof(errno_names) / sizeof(errno_names[0]))
		return NULL;
	return errno_names[e];
}

int ext_errno_value(const char *name)
{
	for (size_t i = 1; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i] && !strcmp(errno_names[i], name))
			return (int)i;
	return -1;
}

static int copy_until(const char *s, size_t n, char *out, size_t len)
{
	if (n >= len)
		return -1;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

int ext_opt_next(const char **p, char sep, char *key, size_t klen,
		 char *val, size_t vlen)
{
	const char *s = *p;
	while (*s == sep || *s == ' ')
		s++;
	if (!*s) {
		*p = s;
		return 0;
	}
	const char *end = s;
	while (*end && *end != sep)
		end++;
	const char *eq = s;
	while (eq < end && *eq != '=')
		eq++;
	*p = end;
	if (copy_until(s, (size_t)(eq - s), key, klen) < 0)
		return -1;
	if (eq == end) {
		val[0] = 0;
		return 1;
	}
	return copy_until(eq + 1, (size_t)(end - eq - 1), val, vlen) < 0 ? -1 : 1;
}

int ext_msg(char *err, size_t errlen, const char *a, const char *b,
	    const char *c, const char *d)
{
	const char *parts[] = { a, b, c, d };
	size_t n = 0;
	if (!errlen)
		return -1;
	for (int i = 0; i < 4; i++)
		for (const char *s = parts[i]; s && *s && n + 1 < errlen; s++)
			err[n++] = *s;
	err[n] = 0;
	return -1;
}

int ext_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

const struct moat_extension *moat_extension_find(const char *name)
{
	for (int i = 0; moat_extensions[i]; i++)
		if (!strcmp(moat_extensions[i]->name, name))
			return moat_extensions[i];
	return NULL;
}

int moat_extension_check(const char *name, const char *options, char *err,
			 size_t errlen)
{
	const struct moat_extension *x = moat_extension_find(name);
	if (!x)
		return ext_msg(err, errlen, name,
			       ": unknown extension; expected trace, faults, passthrough, record or replay",
			       NULL, NULL);
	if (strlen(options) >= MOAT_EXT_OPTIONS_MAX)
		return ext_msg(err, errlen, name, ": options too long", NULL, NULL);
	char why[256];
	if (x->check(options, why, sizeof(why)) < 0)
		return ext_msg(err, errlen, name, ": ", why, NULL);
	return 0;
}

char moat_extension_joiner(const char *name)
{
	return strcmp(name, "faults") ? ',' : ';';
}
