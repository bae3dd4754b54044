/*
 * faults/options.c -- fault rules, separated by ';':
 *   call=NAME[,uri=PATTERN],error=ENAME|short[,nth=N|every=N|p=F[,seed=S]]
 */
#include "faults.h"

/* The downcalls a rule may name: those with a failure an app can see. */
static const char *const faultable[] = {
	"stream_open", "stream_read", "stream_write", "stream_map",
	"stream_set_length", "stream_flush", "stream_delete", "stream_rename",
	"stream_wait_for_client", "stream_attr_query",
	"stream_attr_query_by_handle", "stream_readlink", "vm_alloc",
	"process_fork", "thread_create", NULL,
};

static int is_faultable(const char *call)
{
	for (int i = 0; faultable[i]; i++)
		if (!strcmp(faultable[i], call))
			return 1;
	return 0;
}

/* "0.25" -> 0.25 * 2^32 (saturating at 1.0); -1 if not in [0, 1]. */
static int parse_p(const char *s, uint32_t *out)
{
	uint64_t whole = 0, frac = 0, scale = 1;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		whole = whole * 10 + (uint64_t)(*s - '0');
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && scale < 1000000000; s++)
			frac = frac * 10 + (uint64_t)(*s - '0'), scale *= 10;
	if (*s || whole > 1 || (whole == 1 && frac))
		return -1;
	uint64_t v = whole ? (1ULL << 32) - 1 : (frac << 32) / scale;
	*out = (uint32_t)v;
	return 0;
}

/* "scheme://rest" -> "scheme:rest", the ABI's spelling of a URI. */
static int set_uri(struct fault_rule *r, const char *val)
{
	const char *sep = val;
	while (*sep && *sep != ':')
		sep++;
	size_t head = (size_t)(sep - val);
	const char *rest = *sep ? sep + 1 : sep;
	if (!*sep || head == 0)
		return -1;
	if (rest[0] == '/' && rest[1] == '/')
		rest += 2;
	if (head + 1 + strlen(rest) >= sizeof(r->uri))
		return -1;
	memcpy(r->uri, val, head + 1);
	memcpy(r->uri + head + 1, rest, strlen(rest) + 1);
	return 0;
}

static int set_error(struct fault_rule *r, const char *val)
{
	if (!strcmp(val, "short"))
		r->error = FAULT_SHORT;
	else
		r->error = ext_errno_value(val);
	return r->error == -1 && strcmp(val, "short") ? -1 : 0;
}

static int item(struct fault_rule *r, const char *key, const char *val,
		char *err, size_t errlen)
{
	if (!strcmp(key, "call")) {
		if (!is_faultable(val))
			return ext_msg(err, errlen, "call: '", val, "' is not a downcall a rule can "
				       "fail; expected stream_open, stream_read, stream_write, ... "
				       "(docs/extensions.md)", NULL);
		r->call = ext_call_index(val);
	} else if (!strcmp(key, "uri")) {
		if (set_uri(r, val) < 0)
			return ext_msg(err, errlen, "uri: expected SCHEME://PATTERN, got '", val, "'", NULL);
	} else if (!strcmp(key, "error")) {
		if (set_error(r, val) < 0)
			return ext_msg(err, errlen, "error: expected EIO, ENOSPC, ECONNRESET, EINTR, "
				       "EACCES (any errno name) or short, got '", val, "'", NULL);
	} else if (!strcmp(key, "nth") || !strcmp(key, "every") || !strcmp(key, "seed")) {
		uint64_t v;
		if (ext_parse_u64(val, &v) < 0 || (v == 0 && strcmp(key, "seed")))
			return ext_msg(err, errlen, key, ": expected a number >= 1, got '", val, "'");
		if (!strcmp(key, "seed"))
			r->seed = v, r->has_seed = 1;
		else
			*(!strcmp(key, "nth") ? &r->nth : &r->every) = v;
	} else if (!strcmp(key, "p")) {
		if (parse_p(val, &r->p) < 0)
			return ext_msg(err, errlen, "p: expected a probability from 0 to 1, got '",
				       val, "'", NULL);
		r->has_p = 1;
	} else {
		return ext_msg(err, errlen, key, ": unknown key; expected call, uri, error, "
			       "nth, every, p or seed", NULL, NULL);
	}
	return 0;
}

static int finish(const struct fault_rule *r, char *err, size_t errlen)
{
	if (r->call < 0)
		return ext_msg(err, errlen, "call: missing; every rule names a downcall", NULL,
			       NULL, NULL);
	if (!r->error)
		return ext_msg(err, errlen, "error: missing; e.g. error=EIO", NULL, NULL, NULL);
	if (!!r->nth + !!r->every + r->has_p > 1)
		return ext_msg(err, errlen, "nth: give one of nth, every and p", NULL, NULL, NULL);
	if (r->has_seed && !r->has_p)
		return ext_msg(err, errlen, "seed: only with p", NULL, NULL, NULL);
	const char *c = ext_call_names[r->call];
	if (r->error == FAULT_SHORT && strcmp(c, "stream_read") && strcmp(c, "stream_write"))
		return ext_msg(err, errlen, "error: short is for stream_read and stream_write",
			       NULL, NULL, NULL);
	return 0;
}

/* One rule: the text up to ';' at *p. */
static int rule(const char **p, struct fault_rule *r, char *err, size_t errlen)
{
	char text[512], key[16], val[256];
	const char *s = *p, *end = s;
	while (*end && *end != ';')
		end++;
	*p = *end ? end + 1 : end;
	if ((size_t)(end - s) >= sizeof(text))
		return ext_msg(err, errlen, "rule: too long", NULL, NULL, NULL);
	memcpy(text, s, (size_t)(end - s));
	text[end - s] = 0;
	memset(r, 0, sizeof(*r));
	r->call = -1;
	const char *q = text;
	int k;
	while ((k = ext_opt_next(&q, ',', key, sizeof(key), val, sizeof(val))) != 0)
		if (k < 0 || item(r, key, val, err, errlen) < 0)
			return k < 0 ? ext_msg(err, errlen, "rule: an item is too long", NULL,
					       NULL, NULL) : -1;
	return finish(r, err, errlen);
}

int faults_parse(const char *options, struct fault_rule *rules, int *n,
		 char *err, size_t errlen)
{
	const char *p = options;
	*n = 0;
	while (*p) {
		while (*p == ';' || *p == ' ')
			p++;
		if (!*p)
			break;
		if (*n == FAULTS_MAX)
			return ext_msg(err, errlen, "rule: more than 16", NULL, NULL, NULL);
		if (rule(&p, &rules[*n], err, errlen) < 0)
			return -1;
		(*n)++;
	}
	if (!*n)
		return ext_msg(err, errlen, "call: no rule; expected e.g. "
			       "faults:call=stream_open,error=EIO,nth=2", NULL, NULL, NULL);
	return 0;
}

static int faults_check(const char *options, char *err, size_t errlen)
{
	struct fault_rule rules[FAULTS_MAX];
	int n;
	return faults_parse(options, rules, &n, err, errlen);
}

static int glob(const char *pat, const char *s)
{
	for (; *pat; pat++, s++) {
		if (*pat == '*') {
			for (;; s++) {
				if (glob(pat + 1, s))
					return 1;
				if (!*s)
					return 0;
			}
		}
		if (*pat != *s)
			return 0;
	}
	return !*s;
}

int faults_match(const char *pat, const char *uri)
{
	return !*pat || glob(pat, uri);
}

const struct moat_extension moat_ext_faults = {
	.name = "faults",
	.usage = "faults:call=NAME[,uri=PATTERN],error=ENAME|short[,nth=N|every=N|p=F[,seed=S]][;...]",
	.check = faults_check,
	.init = EXT_INIT(faults_init),
};
