/*
 * socket.c -- the socket calls, on streams the monitor grants.
 *
 * A socket is LibOS state until it connects or listens: then it names a
 * "tcp.client:" or "tcp.server:" stream, and the monitor decides from the
 * manifest (and makes the host connection itself).  Reads and writes are
 * stream reads and writes.  Only IPv4 TCP, and local stream pairs
 * (socketpair), exist in this version; options are recorded and reported
 * back, not applied to the host socket.
 */
#include "libos.h"

#define AF_UNIX_K 1
#define AF_INET_K 2
#define SOCK_STREAM_K 1
#define SOCK_TYPE_MASK 0xf
#define SOCK_NONBLOCK_K 04000
#define SOCK_CLOEXEC_K 02000000
#define MSG_PEEK_K 0x2
#define MSG_DONTWAIT_K 0x40
#define MSG_NOSIGNAL_K 0x4000
#define MAX_OPTS 12

struct sockaddr_in_k {
	uint16_t family;
	uint16_t port;       /* network order */
	uint32_t addr;       /* network order */
	uint8_t zero[8];
};

struct lsock {
	int domain, type;
	int nonblock;        /* SOCK_NONBLOCK at creation */
	int nonblock_fd;     /* O_NONBLOCK on the descriptor now */
	struct sockaddr_in_k local, peer;
	struct { int level, name, value; } opts[MAX_OPTS]; /* as set */
	int nopts;
};

/* The socket behind a descriptor, with its stream (if connected or
 * listening).  Returns 0, -EBADF or -ENOTSOCK. */
struct sockref {
	struct lsock *s;
	moat_handle h;
	uint32_t kind;     /* 0, MOAT_KIND_SOCKET or MOAT_KIND_SERVER */
};

static long sock_get(int fd, struct sockref *ref)
{
	int flags;
	ref->s = fs_socket(fd, &ref->h, &ref->kind, &flags);
	if (!ref->s)
		return -EBADF;
	if (ref->s == (void *)-1L)
		return -ENOTSOCK;
	ref->s->nonblock_fd = !!(flags & 04000); /* fcntl or ioctl(FIONBIO) */
	return 0;
}

long sys_socket(int domain, int type, int proto)
{
	int base = type & SOCK_TYPE_MASK;
	if (domain != AF_INET_K && domain != AF_UNIX_K) {
		klog("socket: address family %d is not supported", domain);
		return -EAFNOSUPPORT;
	}
	if (base != SOCK_STREAM_K || (proto != 0 && proto != 6 /* TCP */)) {
		klog("socket(%d, %d, %d): only stream sockets are granted: EACCES",
		     domain, type, proto);
		return -EACCES;
	}
	struct lsock *s = kzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->domain = domain;
	s->type = base;
	s->nonblock = !!(type & SOCK_NONBLOCK_K);
	s->local.family = s->peer.family = (uint16_t)domain;
	long fd = fs_install_socket(s, MOAT_NO_HANDLE, 0, !!(type & SOCK_CLOEXEC_K));
	if (fd < 0)
		kfree(s);
	return fd;
}

long sys_socketpair(int domain, int type, int proto, int *sv)
{
	moat_handle a, b;
	if (domain != AF_UNIX_K)
		return -EAFNOSUPPORT;
	if ((type & SOCK_TYPE_MASK) != SOCK_STREAM_K || proto != 0)
		return -EOPNOTSUPP;
	long r = abi->stream_pipe(&a, &b, MOAT_PIPE_DUPLEX);
	if (r < 0)
		return r;
	struct lsock *sa = kzalloc(sizeof(*sa)), *sb = kzalloc(sizeof(*sb));
	int cloexec = !!(type & SOCK_CLOEXEC_K);
	int fa = -ENOMEM, fb = -ENOMEM;
	if (sa && sb) {
		*sa = (struct lsock){ .domain = AF_UNIX_K, .type = SOCK_STREAM_K,
				      .nonblock = !!(type & SOCK_NONBLOCK_K) };
		*sb = *sa;
		fa = fs_install_socket(sa, a, MOAT_KIND_SOCKET, cloexec);
		fb = fa < 0 ? fa : fs_install_socket(sb, b, MOAT_KIND_SOCKET, cloexec);
	}
	if (fb < 0) {
		if (fa >= 0)
			sys_close(fa);
		else
			kfree(sa), abi->object_close(a);
		kfree(sb);
		abi->object_close(b);
		return fb;
	}
	sv[0] = fa;
	sv[1] = fb;
	return 0;
}

static long inet_addr_of(const void *addr, unsigned len, struct sockaddr_in_k *out)
{
	if (!addr || len < sizeof(struct sockaddr_in_k))
		return -EINVAL;
	memcpy(out, addr, sizeof(*out));
	if (out->family != AF_INET_K)
		return -EAFNOSUPPORT;
	return 0;
}

static void endpoint_uri(char *uri, size_t len, const char *scheme,
			 const struct sockaddr_in_k *a)
{
	const uint8_t *ip = (const uint8_t *)&a->addr;
	rt_snprintf(uri, len, "%s:%u.%u.%u.%u:%u", scheme, ip[0], ip[1], ip[2], ip[3],
		    (unsigned)(((a->port & 0xff) << 8) | (a->port >> 8)));
}

long sys_bind(int fd, const void *addr, unsigned len)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (ref.s->domain == AF_UNIX_K)
		return -EACCES; /* no unix socket path is granted */
	if (ref.kind)
		return -EINVAL;
	return inet_addr_of(addr, len, &ref.s->local);
}

long sys_listen(int fd, int backlog)
{
	struct sockref ref;
	char uri[64];
	(void)backlog;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (ref.kind == MOAT_KIND_SERVER)
		return 0;
	if (ref.kind || ref.s->domain != AF_INET_K)
		return -EINVAL;
	endpoint_uri(uri, sizeof(uri), "tcp.server", &ref.s->local);
	r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r < 0) {
		klog("listen on %s: not granted by the manifest", uri + 11);
		return r;
	}
	fs_socket_connected(fd, (moat_handle)r, MOAT_KIND_SERVER);
	return 0;
}

long sys_connect(int fd, const void *addr, unsigned len)
{
	struct sockref ref;
	char uri[64];
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (ref.kind)
		return -EISCONN;
	if (ref.s->domain == AF_UNIX_K)
		return -ENOENT; /* no unix socket path is granted */
	if ((r = inet_addr_of(addr, len, &ref.s->peer)) < 0)
		return r;
	endpoint_uri(uri, sizeof(uri), "tcp.client", &ref.s->peer);
	r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r == -EINTR)
		return -ERESTARTSYS;
	if (r < 0) {
		klog("connect to %s: %ld", uri + 11, r);
		return r == -ENOENT || r == -EACCES ? -ECONNREFUSED : r;
	}
	fs_socket_connected(fd, (moat_handle)r, MOAT_KIND_SOCKET);
	return 0;
}

static void parse_peer(const char *text, struct sockaddr_in_k *a)
{
	uint32_t parts[5] = { 0 };
	int i = 0;
	for (const char *p = text; *p && i < 5; p++) {
		if (*p == '.' || *p == ':')
			i++;
		else if (*p >= '0' && *p <= '9')
			parts[i] = parts[i] * 10 + (uint32_t)(*p - '0');
	}
	a->family = AF_INET_K;
	a->addr = parts[0] | parts[1] << 8 | parts[2] << 16 | parts[3] << 24;
	a->port = (uint16_t)(((parts[4] & 0xff) << 8) | (parts[4] >> 8));
}

static void copy_addr(const struct sockaddr_in_k *a, void *out, unsigned *len)
{
	if (!out || !len)
		return;
	unsigned n = *len < sizeof(*a) ? *len : sizeof(*a);
	memcpy(out, a, n);
	*len = sizeof(*a);
}

long sys_accept4(int fd, void *addr, unsigned *len, int flags)
{
	struct sockref ref;
	char peer[32];
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (ref.kind != MOAT_KIND_SERVER)
		return -EINVAL;
	r = abi->stream_wait_for_client(ref.h, (uint32_t)(ref.s->nonblock || ref.s->nonblock_fd),
					peer, sizeof(peer));
	if (r == -EINTR)
		return -ERESTARTSYS;
	if (r < 0)
		return r;
	struct lsock *c = kzalloc(sizeof(*c));
	if (!c) {
		abi->object_close((moat_handle)r);
		return -ENOMEM;
	}
	*c = (struct lsock){ .domain = AF_INET_K, .type = SOCK_STREAM_K,
			     .nonblock = !!(flags & SOCK_NONBLOCK_K), .local = ref.s->local };
	parse_peer(peer, &c->peer);
	long nfd = fs_install_socket(c, (moat_handle)r, MOAT_KIND_SOCKET,
				     !!(flags & SOCK_CLOEXEC_K));
	if (nfd < 0) {
		kfree(c);
		abi->object_close((moat_handle)r);
		return nfd;
	}
	copy_addr(&c->peer, addr, len);
	return nfd;
}

long sys_accept(int fd, void *addr, unsigned *len)
{
	return sys_accept4(fd, addr, len, 0);
}

long sys_getsockname(int fd, void *addr, unsigned *len)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	copy_addr(&ref.s->local, addr, len);
	return 0;
}

long sys_getpeername(int fd, void *addr, unsigned *len)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (ref.kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	copy_addr(&ref.s->peer, addr, len);
	return 0;
}

long sys_shutdown(int fd, int how)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (how < 0 || how > 2)
		return -EINVAL;
	if (ref.kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	return abi->stream_shutdown(ref.h, (uint32_t)how + 1);
}

/* The value slot of an integer option, added when 'add' is set.  Options
 * are recorded and reported back, not applied to the host socket. */
static int *option(struct lsock *s, int level, int name, int add)
{
	for (int i = 0; i < s->nopts; i++)
		if (s->opts[i].level == level && s->opts[i].name == name)
			return &s->opts[i].value;
	if (!add || s->nopts == MAX_OPTS)
		return NULL;
	s->opts[s->nopts].level = level;
	s->opts[s->nopts].name = name;
	return &s->opts[s->nopts++].value;
}

/* Options Linux reports as 0 or 1 whatever was set, and as 0 unset. */
static int is_flag(int level, int name)
{
	return (level == 1 /* SOL_SOCKET */ && (name == 2 /* SO_REUSEADDR */ ||
		name == 6 /* SO_BROADCAST */ || name == 9 /* SO_KEEPALIVE */ ||
		name == 10 /* SO_OOBINLINE */ || name == 15 /* SO_REUSEPORT */)) ||
	       (level == 6 /* IPPROTO_TCP */ && name == 1 /* TCP_NODELAY */);
}

long sys_setsockopt(int fd, int level, int name, const void *val, unsigned len)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (!val)
		return -EFAULT;
	if (len < 4) {
		klog("setsockopt(%d, %d): %u-byte value not recorded", level, name, len);
		return len ? 0 : -EINVAL;
	}
	int *o = option(ref.s, level, name, 1);
	if (!o) {
		klog("setsockopt(%d, %d): too many options, not recorded", level, name);
		return 0;
	}
	*o = is_flag(level, name) ? !!*(const int *)val : *(const int *)val;
	return 0;
}

long sys_getsockopt(int fd, int level, int name, void *val, unsigned *len)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (!val || !len || *len < 4)
		return -EINVAL;
	int v, *o = option(ref.s, level, name, 0);
	if (o)
		v = *o;
	else if (is_flag(level, name))
		v = 0;
	else if (level == 1 && name == 4 /* SO_ERROR */)
		v = 0;
	else if (level == 1 && name == 3 /* SO_TYPE */)
		v = ref.s->type;
	else if (level == 1 && name == 39 /* SO_DOMAIN */)
		v = ref.s->domain;
	else if (level == 1 && name == 30 /* SO_ACCEPTCONN */)
		v = ref.kind == MOAT_KIND_SERVER;
	else if (level == 1 && (name == 7 || name == 8)) /* SO_SNDBUF, SO_RCVBUF */
		v = 131072;
	else
		return -ENOPROTOOPT;
	*(int *)val = v;
	*len = 4;
	return 0;
}

/* --- data --- */

struct iovec_s { void *base; size_t len; };

static long sock_io(int fd, struct iovec_s *iov, size_t cnt, int flags, int write)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (ref.kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	if (flags & MSG_PEEK_K) {
		klog("recv: MSG_PEEK is not supported");
		return -EOPNOTSUPP;
	}
	if (!write && (ref.s->nonblock || ref.s->nonblock_fd || (flags & MSG_DONTWAIT_K)) &&
	    abi->objects_wait_any(1, &ref.h, 0) != 0)
		return -EAGAIN;
	long total = 0;
	for (size_t i = 0; i < cnt; i++) {
		if (!iov[i].len)
			continue;
		r = write ? abi->stream_write(ref.h, MOAT_OFFSET_STREAM, iov[i].base, iov[i].len)
			  : abi->stream_read(ref.h, MOAT_OFFSET_STREAM, iov[i].base, iov[i].len);
		if (r < 0) {
			if (r == -EPIPE && write && !(flags & MSG_NOSIGNAL_K) && !total)
				signal_raise(13);
			if (total)
				break;
			return r == -EINTR ? -ERESTARTSYS : r;
		}
		total += r;
		if ((size_t)r < iov[i].len)
			break;
	}
	return total;
}

long sys_sendto(int fd, const void *buf, size_t len, int flags, const void *addr,
		unsigned alen)
{
	(void)addr, (void)alen; /* connected stream sockets ignore it */
	struct iovec_s iov = { (void *)buf, len };
	return sock_io(fd, &iov, 1, flags, 1);
}

long sys_recvfrom(int fd, void *buf, size_t len, int flags, void *addr, unsigned *alen)
{
	struct iovec_s iov = { buf, len };
	long r = sock_io(fd, &iov, 1, flags, 0);
	if (r >= 0 && addr && alen) {
		struct sockref ref;
		if (sock_get(fd, &ref) == 0)
			copy_addr(&ref.s->peer, addr, alen);
	}
	return r;
}

struct kmsghdr {
	void *name;
	unsigned namelen;
	void *iov;
	size_t iovlen;
	void *control;
	size_t controllen;
	int flags;
};

long sys_sendmsg(int fd, const struct kmsghdr *m, int flags)
{
	if (m->control && m->controllen) {
		klog("sendmsg: ancillary data (descriptor passing) is not supported");
		return -EOPNOTSUPP;
	}
	return sock_io(fd, m->iov, m->iovlen, flags, 1);
}

long sys_recvmsg(int fd, struct kmsghdr *m, int flags)
{
	long r = sock_io(fd, m->iov, m->iovlen, flags, 0);
	if (r >= 0) {
		m->controllen = 0;
		m->flags = 0;
		if (m->name) {
			struct sockref ref;
			if (sock_get(fd, &ref) == 0)
				copy_addr(&ref.s->peer, m->name, &m->namelen);
		}
	}
	return r;
}
