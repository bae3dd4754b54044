/*
 * socket.c -- the socket calls, on streams the monitor grants.
 *
 * A socket is LibOS state until it needs the outside world; then it names
 * a stream and the monitor decides from the manifest:
 *   - TCP: connect opens "tcp.client:A:P", listen "tcp.server:A:P"; the
 *     monitor makes the host connection or listener itself.
 *   - UDP: bind to a port opens "udp.server:A:P"; the first connect or
 *     sendto of an unbound socket opens "udp.client:A:P".  Either stream
 *     is a relay in the monitor carrying struct moat_datagram packets, and
 *     each new destination is asked about first (stream_attr_query), so an
 *     ungranted one fails at once with EACCES; the monitor checks every
 *     datagram again.
 *   - Unix stream sockets: bind opens "unix.server:NAME" and connect
 *     "unix.client:NAME", NAME an absolute path or "@" and the abstract
 *     name in hex; the monitor keeps the app's names to itself, so only
 *     the processes of this app reach them.
 * Reads and writes are stream reads and writes.  Data read ahead for
 * MSG_PEEK (or a datagram being returned) waits in the socket.  Options
 * are recorded and reported back, not applied to the host socket (the
 * monitor turns TCP_NODELAY on for every TCP socket it makes).
 */
#include "file.h"
#include "linux_abi.h"
#include "uaccess.h"

#define AF_UNSPEC_K 0
#define AF_UNIX_K 1
#define AF_INET_K 2
#define SOCK_STREAM_K 1
#define SOCK_DGRAM_K 2
#define SOCK_TYPE_MASK 0xf
#define SOCK_NONBLOCK_K 04000
#define SOCK_CLOEXEC_K 02000000
#define MSG_PEEK_K 0x2
#define POLLRDHUP_K 0x2000
#define MSG_TRUNC_K 0x20
#define MSG_DONTWAIT_K 0x40
#define MSG_NOSIGNAL_K 0x4000
#define MAX_OPTS 12
#define MAX_ALLOWED 16
#define UNIX_ADDR_MAX 110 /* sizeof(struct sockaddr_un) */

struct lsock {
	int domain, type;
	struct l_sockaddr_in local, peer;
	int connected;       /* UDP: connect() set a default peer */
	/* AF_UNIX: local [0] and peer [1] names as sockaddr bytes (length 2:
	 * unnamed), and the listener made at bind until listen installs it */
	uint8_t uaddr[2][UNIX_ADDR_MAX];
	unsigned ulen[2];
	moat_handle listener;
	struct { int level, name, value; } opts[MAX_OPTS]; /* as set */
	int nopts;
	/* read ahead: bytes [ahead_off, ahead_len) of 'ahead', or (UDP) one
	 * datagram from ahead_from */
	uint8_t *ahead;
	size_t ahead_len, ahead_off;
	int have_ahead;
	int eof_seen;        /* a read found the peer's side shut (POLLRDHUP) */
	struct l_sockaddr_in ahead_from;
	uint8_t *rxbuf;      /* UDP: one datagram with its header */
	/* UDP: destinations the monitor has allowed, and peers heard from */
	struct l_sockaddr_in allowed[MAX_ALLOWED];
	int nallowed, allowed_next;
};

/* The socket behind a descriptor, with its stream (if connected or
 * listening). */
struct sockref {
	struct lsock *s;
	moat_handle h;
	uint32_t kind;     /* 0, MOAT_KIND_SOCKET, _SERVER or _DATAGRAM */
	int nonblock;      /* O_NONBLOCK on the open file */
	int fd;            /* -1 when reached through read/write */
};

static const struct file_ops socket_ops;

static long sock_get(int fd, struct sockref *ref)
{
	struct file *f = fd_file(fd);
	if (!f)
		return -EBADF;
	if (f->ops != &socket_ops)
		return -ENOTSOCK;
	ref->s = f->priv;
	ref->h = f->h;
	ref->kind = f->kind;
	ref->nonblock = !!(f->flags & 04000); /* SOCK_NONBLOCK, fcntl or FIONBIO */
	ref->fd = fd;
	return 0;
}

static struct lsock *lsock_new(int domain, int type)
{
	struct lsock *s = kzalloc(sizeof(*s));
	if (!s)
		return NULL;
	s->domain = domain;
	s->type = type;
	s->local.sin_family = s->peer.sin_family = (uint16_t)domain;
	s->listener = MOAT_NO_HANDLE;
	s->ulen[0] = s->ulen[1] = 2;
	s->uaddr[0][0] = s->uaddr[1][0] = AF_UNIX_K;
	return s;
}

static void sock_release(struct lsock *s)
{
	if (s->listener != MOAT_NO_HANDLE)
		abi->object_close(s->listener);
	kfree(s->ahead);
	kfree(s->rxbuf);
	kfree(s);
}

static void socket_file_release(struct file *f)
{
	sock_release(f->priv);
}

static long socket_read(struct file *f, void *buf, size_t len, int64_t at);
static long socket_write(struct file *f, const void *buf, size_t len, int64_t at);
static long socket_rw_vector(struct file *f, void *iov, size_t cnt, int write);
static short socket_poll(struct file *f, short events, moat_handle *wait, int64_t *wake_at);

static long socket_stat(struct file *f, struct moat_attr *a)
{
	(void)f;
	*a = (struct moat_attr){ .kind = MOAT_KIND_SOCKET, .mode = 0777, .nlink = 1,
				 .blksize = 4096, .uid = proc.uid, .gid = proc.gid };
	return 0;
}

static const struct file_ops socket_ops = {
	.read = socket_read,
	.write = socket_write,
	.rw_vector = socket_rw_vector,
	.poll = socket_poll,
	.stat = socket_stat,
	.release = socket_file_release,
};

/* A descriptor for socket s (connected as h of 'kind', or not yet: 0).
 * The descriptor, or -errno after s and h are freed. */
static int install_socket(struct lsock *s, moat_handle h, uint32_t kind, int nonblock,
			  int cloexec)
{
	struct file *f = file_new(&socket_ops, 2 /* O_RDWR */ | (nonblock ? 04000 : 0));
	if (!f) {
		sock_release(s);
		if (h != MOAT_NO_HANDLE)
			abi->object_close(h);
		return -ENOMEM;
	}
	f->priv = s;
	f->h = h;
	f->kind = kind;
	return file_install(f, cloexec);
}

/* The socket behind fd is now connected (or listening) as h of 'kind'. */
static void set_stream(int fd, moat_handle h, uint32_t kind)
{
	struct file *f = fd_file(fd);
	f->h = h;
	f->kind = kind;
}

long sys_socket(int domain, int type, int proto)
{
	int base = type & SOCK_TYPE_MASK;
	if (domain != AF_INET_K && domain != AF_UNIX_K) {
		klog("socket: address family %d is not supported", domain);
		return -EAFNOSUPPORT;
	}
	if (type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK_K | SOCK_CLOEXEC_K))
		return -EINVAL;
	int ok = (base == SOCK_STREAM_K && (proto == 0 || (domain == AF_INET_K && proto == 6))) ||
		 (base == SOCK_DGRAM_K && domain == AF_INET_K && (proto == 0 || proto == 17));
	if (!ok) {
		klog("socket(%d, %d, %d): only TCP, UDP and unix stream sockets are granted: EACCES",
		     domain, type, proto);
		return -EACCES;
	}
	struct lsock *s = lsock_new(domain, base);
	if (!s)
		return -ENOMEM;
	return install_socket(s, MOAT_NO_HANDLE, 0, !!(type & SOCK_NONBLOCK_K),
			      !!(type & SOCK_CLOEXEC_K));
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
	struct lsock *sa = lsock_new(AF_UNIX_K, SOCK_STREAM_K);
	struct lsock *sb = lsock_new(AF_UNIX_K, SOCK_STREAM_K);
	int cloexec = !!(type & SOCK_CLOEXEC_K), nonblock = !!(type & SOCK_NONBLOCK_K);
	if (!sa || !sb) {
		kfree(sa), kfree(sb);
		abi->object_close(a), abi->object_close(b);
		return -ENOMEM;
	}
	int fa = install_socket(sa, a, MOAT_KIND_SOCKET, nonblock, cloexec);
	if (fa < 0) {
		sock_release(sb);
		abi->object_close(b);
		return fa;
	}
	int fb = install_socket(sb, b, MOAT_KIND_SOCKET, nonblock, cloexec);
	if (fb < 0) {
		sys_close(fa);
		return fb;
	}
	int pair[2] = { fa, fb };
	if (copy_to_user(sv, pair, sizeof(pair)) < 0) {
		sys_close(fa);
		sys_close(fb);
		return -EFAULT;
	}
	return 0;
}

/* --- addresses --- */

static long inet_addr_of(const void *addr, unsigned len, struct l_sockaddr_in *out)
{
	if (!addr || len < sizeof(struct l_sockaddr_in))
		return -EINVAL;
	memcpy(out, addr, sizeof(*out));
	if (out->sin_family != AF_INET_K)
		return -EAFNOSUPPORT;
	return 0;
}

static void endpoint_uri(char *uri, size_t len, const char *scheme,
			 const struct l_sockaddr_in *a)
{
	const uint8_t *ip = (const uint8_t *)&a->sin_addr;
	rt_snprintf(uri, len, "%s:%u.%u.%u.%u:%u", scheme, ip[0], ip[1], ip[2], ip[3],
		    (unsigned)(((a->sin_port & 0xff) << 8) | (a->sin_port >> 8)));
}

static int same_in(const struct l_sockaddr_in *a, const struct l_sockaddr_in *b)
{
	return a->sin_addr == b->sin_addr && a->sin_port == b->sin_port;
}

static void parse_peer(const char *text, struct l_sockaddr_in *a)
{
	uint32_t parts[5] = { 0 };
	int i = 0;
	for (const char *p = text; *p && i < 5; p++) {
		if (*p == '.' || *p == ':')
			i++;
		else if (*p >= '0' && *p <= '9')
			parts[i] = parts[i] * 10 + (uint32_t)(*p - '0');
	}
	a->sin_family = AF_INET_K;
	a->sin_addr = parts[0] | parts[1] << 8 | parts[2] << 16 | parts[3] << 24;
	a->sin_port = (uint16_t)(((parts[4] & 0xff) << 8) | (parts[4] >> 8));
}

/* An address to the app: *len says the room, and then the real length
 * (0, -EFAULT, or -EINVAL for a negative room, as Linux).  accept and
 * recvfrom call it only when the app gave an address. */
static long copy_out(const void *a, unsigned alen, void *out, unsigned *ulen)
{
	unsigned len;
	if (get_user(&len, ulen) < 0)
		return -EFAULT;
	if ((int)len < 0)
		return -EINVAL;
	unsigned n = len < alen ? len : alen;
	if (copy_to_user(out, a, n) < 0 || put_user(ulen, alen) < 0)
		return -EFAULT;
	return 0;
}

static long copy_addr(const struct l_sockaddr_in *a, void *out, unsigned *len)
{
	return copy_out(a, sizeof(*a), out, len);
}

/* An address from the app, into *k (sockaddr_storage's 128 bytes):
 * 0, -EINVAL (too long) or -EFAULT.  *addr then points at the copy. */
struct kaddr { uint8_t b[128]; };

static long copy_in_addr(const void **addr, unsigned len, struct kaddr *k)
{
	if (len > sizeof(k->b))
		return -EINVAL;
	if (!len) /* nothing is read: the handlers look at len first */
		return 0;
	if (copy_from_user(k->b, *addr, len) < 0)
		return -EFAULT;
	*addr = k->b;
	return 0;
}

/* A unix socket address as the monitor names it: "/abs/path" or "@" and
 * the abstract name in hex.  The raw address is kept in raw (length
 * *rawlen) for getsockname.  len == 2 (no name) is an error here. */
static long unix_name_of(const void *addr, unsigned len, char *name, size_t size,
			 uint8_t *raw, unsigned *rawlen)
{
	const uint8_t *sa = addr;
	if (!addr || len < 2 || len > UNIX_ADDR_MAX)
		return -EINVAL;
	if ((sa[0] | sa[1] << 8) != AF_UNIX_K)
		return -EINVAL;
	if (len == 2)
		return -EINVAL;
	if (sa[2] == 0) { /* abstract: every byte counts, NULs included */
		static const char hex[] = "0123456789abcdef";
		size_t n = 0;
		name[n++] = '@';
		for (unsigned i = 3; i < len && n + 3 < size; i++) {
			name[n++] = hex[sa[i] >> 4];
			name[n++] = hex[sa[i] & 15];
		}
		name[n] = 0;
	} else {
		char path[UNIX_ADDR_MAX];
		size_t n = strnlen((const char *)sa + 2, len - 2);
		memcpy(path, sa + 2, n);
		path[n] = 0;
		char abs[MOAT_URI_MAX];
		long r = path_resolve(-100 /* AT_FDCWD */, path, abs);
		if (r < 0)
			return r;
		if (strlen(abs) > 107)
			return -ENAMETOOLONG;
		rt_strlcpy(name, abs, size);
		len = (unsigned)(2 + n + 1); /* as Linux reports it: with the NUL */
		if (len > UNIX_ADDR_MAX)
			len = UNIX_ADDR_MAX;
	}
	memset(raw, 0, UNIX_ADDR_MAX);
	memcpy(raw, sa, len < UNIX_ADDR_MAX ? len : UNIX_ADDR_MAX);
	*rawlen = len;
	return 0;
}

/* An abstract name of five hex digits, as Linux picks for autobind. */
static void unix_autoname(uint8_t *raw, unsigned *rawlen, char *name, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t r;
	abi->random_bits(&r, sizeof(r));
	memset(raw, 0, UNIX_ADDR_MAX);
	raw[0] = AF_UNIX_K;
	for (int i = 0; i < 5; i++)
		raw[3 + i] = (uint8_t)hex[(r >> (4 * i)) & 15];
	*rawlen = 8;
	size_t n = 0;
	name[n++] = '@';
	for (int i = 3; i < 8 && n + 3 < size; i++) {
		name[n++] = hex[raw[i] >> 4];
		name[n++] = hex[raw[i] & 15];
	}
	name[n] = 0;
}

static long unix_bind_name(struct lsock *s, const char *name)
{
	char uri[300];
	rt_snprintf(uri, sizeof(uri), "unix.server:%s", name);
	long r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r < 0)
		return r;
	s->listener = (moat_handle)r;
	return 0;
}

/* --- UDP helpers --- */

static void allow(struct lsock *s, const struct l_sockaddr_in *a)
{
	for (int i = 0; i < s->nallowed; i++)
		if (same_in(&s->allowed[i], a))
			return;
	s->allowed[s->nallowed < MAX_ALLOWED ? s->nallowed++ : s->allowed_next++ % MAX_ALLOWED] = *a;
}

/* May datagrams go to 'a'?  0 or -EACCES; asks the monitor once. */
static long udp_allowed(struct lsock *s, const struct l_sockaddr_in *a)
{
	char uri[64];
	struct moat_attr at;
	for (int i = 0; i < s->nallowed; i++)
		if (same_in(&s->allowed[i], a))
			return 0;
	endpoint_uri(uri, sizeof(uri), "udp.client", a);
	long r = abi->stream_attr_query(uri, 0, &at);
	if (r < 0) {
		klog("udp to %s: not granted by the manifest", uri + 11);
		return r == -EINVAL ? -EINVAL : -EACCES;
	}
	allow(s, a);
	return 0;
}

/* Make sure the socket has its relay (an unbound socket gets a client one
 * on its first destination). */
static long udp_relay(struct sockref *ref, const struct l_sockaddr_in *dest)
{
	char uri[64];
	if (ref->kind)
		return 0;
	if (ref->fd < 0)
		return -EDESTADDRREQ;
	endpoint_uri(uri, sizeof(uri), "udp.client", dest);
	long r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r < 0)
		return r == -ECONNREFUSED ? -EACCES : r;
	set_stream(ref->fd, (moat_handle)r, MOAT_KIND_DATAGRAM);
	ref->h = (moat_handle)r;
	ref->kind = MOAT_KIND_DATAGRAM;
	return 0;
}

/* --- naming and connecting --- */

long sys_bind(int fd, const void *addr, unsigned len)
{
	struct sockref ref;
	struct kaddr k;
	char uri[64];
	long r = sock_get(fd, &ref);
	if (r < 0 || (r = copy_in_addr(&addr, len, &k)) < 0)
		return r;
	struct lsock *s = ref.s;
	if (s->domain == AF_UNIX_K) {
		char name[2 * UNIX_ADDR_MAX + 2];
		uint8_t raw[UNIX_ADDR_MAX];
		unsigned rawlen;
		if (ref.kind || s->ulen[0] > 2)
			return -EINVAL;
		if (len == 2 && addr && ((const uint8_t *)addr)[0] == AF_UNIX_K)
			unix_autoname(raw, &rawlen, name, sizeof(name));
		else if ((r = unix_name_of(addr, len, name, sizeof(name), raw, &rawlen)) < 0)
			return r;
		if ((r = unix_bind_name(s, name)) < 0)
			return r;
		memcpy(s->uaddr[0], raw, UNIX_ADDR_MAX);
		s->ulen[0] = rawlen;
		return 0;
	}
	struct l_sockaddr_in a;
	if ((r = inet_addr_of(addr, len, &a)) < 0)
		return r;
	if (ref.kind || s->local.sin_port)
		return -EINVAL; /* bound already */
	if (s->type == SOCK_DGRAM_K && a.sin_port) {
		/* a UDP port is a server endpoint from now on */
		endpoint_uri(uri, sizeof(uri), "udp.server", &a);
		r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
		if (r < 0) {
			klog("bind to %s: not granted by the manifest", uri + 11);
			return r;
		}
		set_stream(fd, (moat_handle)r, MOAT_KIND_DATAGRAM);
	}
	s->local = a;
	return 0;
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
	if (ref.s->type != SOCK_STREAM_K)
		return -EOPNOTSUPP;
	if (ref.kind)
		return -EINVAL;
	if (ref.s->domain == AF_UNIX_K) {
		if (ref.s->listener == MOAT_NO_HANDLE) { /* unbound: Linux autobinds */
			char name[32];
			unix_autoname(ref.s->uaddr[0], &ref.s->ulen[0], name, sizeof(name));
			if ((r = unix_bind_name(ref.s, name)) < 0) {
				ref.s->ulen[0] = 2;
				return r;
			}
		}
		set_stream(fd, ref.s->listener, MOAT_KIND_SERVER);
		ref.s->listener = MOAT_NO_HANDLE;
		return 0;
	}
	endpoint_uri(uri, sizeof(uri), "tcp.server", &ref.s->local);
	r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r < 0) {
		klog("listen on %s: not granted by the manifest", uri + 11);
		return r;
	}
	set_stream(fd, (moat_handle)r, MOAT_KIND_SERVER);
	return 0;
}

static long unix_connect(struct sockref *ref, const void *addr, unsigned len)
{
	char name[2 * UNIX_ADDR_MAX + 2], uri[300];
	uint8_t raw[UNIX_ADDR_MAX];
	unsigned rawlen;
	long r = unix_name_of(addr, len, name, sizeof(name), raw, &rawlen);
	if (r < 0)
		return r;
	rt_snprintf(uri, sizeof(uri), "unix.client:%s", name);
	r = abi->stream_open(uri, MOAT_ACCESS_RDWR, 0, 0);
	if (r == -EINTR)
		return -ERESTARTSYS;
	if (r < 0)
		return r;
	set_stream(ref->fd, (moat_handle)r, MOAT_KIND_SOCKET);
	memcpy(ref->s->uaddr[1], raw, UNIX_ADDR_MAX);
	ref->s->ulen[1] = rawlen;
	return 0;
}

static long udp_connect(struct sockref *ref, const void *addr, unsigned len)
{
	struct lsock *s = ref->s;
	struct l_sockaddr_in a;
	if (addr && len >= 2 && ((const uint8_t *)addr)[0] == AF_UNSPEC_K &&
	    ((const uint8_t *)addr)[1] == 0) {
		s->connected = 0; /* dissolve the association */
		return 0;
	}
	long r = inet_addr_of(addr, len, &a);
	if (r < 0)
		return r;
	if ((r = udp_allowed(s, &a)) < 0 || (r = udp_relay(ref, &a)) < 0)
		return r;
	s->peer = a;
	s->connected = 1;
	if (s->have_ahead && !same_in(&s->ahead_from, &a))
		s->have_ahead = 0; /* a datagram from elsewhere is no longer wanted */
	return 0;
}

long sys_connect(int fd, const void *addr, unsigned len)
{
	struct sockref ref;
	struct kaddr k;
	char uri[64];
	long r = sock_get(fd, &ref);
	if (r < 0 || (r = copy_in_addr(&addr, len, &k)) < 0)
		return r;
	if (ref.s->type == SOCK_DGRAM_K)
		return udp_connect(&ref, addr, len);
	if (ref.kind)
		return ref.kind == MOAT_KIND_SERVER ? -EINVAL : -EISCONN;
	if (ref.s->domain == AF_UNIX_K)
		return unix_connect(&ref, addr, len);
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
	set_stream(fd, (moat_handle)r, MOAT_KIND_SOCKET);
	return 0;
}

long sys_accept4(int fd, void *addr, unsigned *len, int flags)
{
	struct sockref ref;
	char peer[32];
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (flags & ~(SOCK_NONBLOCK_K | SOCK_CLOEXEC_K))
		return -EINVAL;
	if (ref.s->type != SOCK_STREAM_K)
		return -EOPNOTSUPP;
	if (ref.kind != MOAT_KIND_SERVER)
		return -EINVAL;
	r = abi->stream_wait_for_client(ref.h, (uint32_t)ref.nonblock, peer, sizeof(peer));
	if (r == -EINTR)
		return -ERESTARTSYS;
	if (r < 0)
		return r;
	struct lsock *c = lsock_new(ref.s->domain, SOCK_STREAM_K);
	if (!c) {
		abi->object_close((moat_handle)r);
		return -ENOMEM;
	}
	c->local = ref.s->local;
	memcpy(c->uaddr[0], ref.s->uaddr[0], UNIX_ADDR_MAX);
	c->ulen[0] = ref.s->ulen[0];
	if (c->domain == AF_INET_K)
		parse_peer(peer, &c->peer);
	long nfd = install_socket(c, (moat_handle)r, MOAT_KIND_SOCKET,
				  !!(flags & SOCK_NONBLOCK_K), !!(flags & SOCK_CLOEXEC_K));
	if (nfd < 0)
		return nfd;
	if (!addr)
		r = 0;
	else if (c->domain == AF_UNIX_K)
		r = copy_out(c->uaddr[1], c->ulen[1], addr, len); /* an unnamed peer */
	else
		r = copy_addr(&c->peer, addr, len);
	if (r < 0) { /* as Linux: the connection is lost with the address */
		sys_close((int)nfd);
		return r;
	}
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
	if (ref.s->domain == AF_UNIX_K)
		return copy_out(ref.s->uaddr[0], ref.s->ulen[0], addr, len);
	return copy_addr(&ref.s->local, addr, len);
}

long sys_getpeername(int fd, void *addr, unsigned *len)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (ref.s->type == SOCK_DGRAM_K ? !ref.s->connected : ref.kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	if (ref.s->domain == AF_UNIX_K)
		return copy_out(ref.s->uaddr[1], ref.s->ulen[1], addr, len);
	return copy_addr(&ref.s->peer, addr, len);
}

long sys_shutdown(int fd, int how)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (how < 0 || how > 2)
		return -EINVAL;
	if (ref.s->type == SOCK_DGRAM_K)
		return ref.s->connected ? 0 : -ENOTCONN;
	if (ref.kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	return abi->stream_shutdown(ref.h, (uint32_t)how + 1);
}

/* --- options --- */

/* The value slot of an integer option, added when 'add' is set. */
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

/* Is 'level' one the socket's protocols answer?  Linux's IP layer says
 * EOPNOTSUPP to getsockopt and ENOPROTOOPT to setsockopt for others; a
 * unix socket has only SOL_SOCKET. */
static int known_level(const struct lsock *s, int level)
{
	if (level == 1 /* SOL_SOCKET */)
		return 1;
	if (s->domain == AF_UNIX_K)
		return 0;
	return level == 0 /* IPPROTO_IP */ || level == 41 /* IPPROTO_IPV6 */ ||
	       level == (s->type == SOCK_STREAM_K ? 6 /* IPPROTO_TCP */ : 17 /* IPPROTO_UDP */);
}

/* The checks in Linux's order: the socket, the length (an int option
 * needs 4 bytes), the level and name, then the value is read. */
long sys_setsockopt(int fd, int level, int name, const void *val, unsigned len)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if ((int)len < 0)
		return -EINVAL;
	if (!known_level(ref.s, level))
		return ref.s->domain == AF_UNIX_K ? -EOPNOTSUPP : -ENOPROTOOPT;
	if (name < 0)
		return -ENOPROTOOPT;
	if (len < 4) {
		klog("setsockopt(%d, %d): %u-byte value not recorded", level, name, len);
		return len ? 0 : -EINVAL;
	}
	int v;
	if (get_user(&v, (const int *)val) < 0)
		return -EFAULT;
	int *o = option(ref.s, level, name, 1);
	if (!o) {
		klog("setsockopt(%d, %d): too many options, not recorded", level, name);
		return 0;
	}
	*o = is_flag(level, name) ? !!v : v;
	return 0;
}

long sys_getsockopt(int fd, int level, int name, void *val, unsigned *ulen)
{
	struct sockref ref;
	unsigned len;
	long r = sock_get(fd, &ref);
	if (r < 0)
		return r;
	if (get_user(&len, ulen) < 0)
		return -EFAULT;
	if ((int)len < 0)
		return -EINVAL;
	if (!known_level(ref.s, level))
		return -EOPNOTSUPP;
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
	else if (level == 1 && name == 38 /* SO_PROTOCOL */)
		v = ref.s->domain == AF_UNIX_K ? 0 : ref.s->type == SOCK_DGRAM_K ? 17 : 6;
	else if (level == 1 && name == 30 /* SO_ACCEPTCONN */)
		v = ref.kind == MOAT_KIND_SERVER;
	else if (level == 1 && (name == 7 || name == 8)) /* SO_SNDBUF, SO_RCVBUF */
		v = 212992;
	else
		return -ENOPROTOOPT;
	if (len < 4)
		return -EINVAL;
	if (copy_to_user(val, &v, 4) < 0 || put_user(ulen, 4u) < 0)
		return -EFAULT;
	return 0;
}

/* --- data --- */

static size_t iov_total(const struct l_iovec *iov, size_t cnt)
{
	size_t n = 0;
	for (size_t i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Copy src into the iovecs, starting 'skip' bytes in: the bytes copied,
 * or -EFAULT if the first copy faulted (a later fault ends it short). */
static long iov_fill_at(struct l_iovec *iov, size_t cnt, size_t skip, const uint8_t *src,
			size_t len)
{
	size_t done = 0;
	for (size_t i = 0; i < cnt && done < len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t room = iov[i].iov_len - skip;
		size_t n = room < len - done ? room : len - done;
		if (copy_to_user((uint8_t *)iov[i].iov_base + skip, src + done, n) < 0)
			return done ? (long)done : -EFAULT;
		done += n;
		skip = 0;
	}
	return (long)done;
}

static long iov_fill(struct l_iovec *iov, size_t cnt, const uint8_t *src, size_t len)
{
	return iov_fill_at(iov, cnt, 0, src, len);
}

/* Read up to len bytes that are there now (never blocks); 0 if none. */
static long read_ready(struct sockref *ref, uint8_t *buf, size_t len)
{
	if (!len || abi->objects_wait_any(1, &ref->h, 0) != 0)
		return 0;
	long r = abi->stream_read(ref->h, MOAT_OFFSET_STREAM, buf, len);
	return r < 0 ? 0 : r;
}

/* Would a read block?  (A read ahead never does.) */
static int would_block(struct sockref *ref, int flags)
{
	return !ref->s->have_ahead && (ref->nonblock || (flags & MSG_DONTWAIT_K)) &&
	       abi->objects_wait_any(1, &ref->h, 0) != 0;
}

static long stream_send(struct sockref *ref, struct l_iovec *iov, size_t cnt, int flags)
{
	long total = 0, r;
	for (size_t i = 0; i < cnt; i++) {
		if (!iov[i].iov_len)
			continue;
		r = abi->stream_write(ref->h, MOAT_OFFSET_STREAM, iov[i].iov_base, iov[i].iov_len);
		if (r < 0) {
			if (r == -EPIPE && !(flags & MSG_NOSIGNAL_K) && !total)
				signal_raise(13);
			if (total)
				break;
			return r == -EINTR ? -ERESTARTSYS : r;
		}
		total += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return total;
}

static long stream_recv(struct sockref *ref, struct l_iovec *iov, size_t cnt, int flags)
{
	struct lsock *s = ref->s;
	long total = 0, r;
	size_t want = iov_total(iov, cnt);
	if (flags & MSG_PEEK_K) {
		/* read what a recv would, and keep it for the next one */
		size_t have = s->have_ahead ? s->ahead_len - s->ahead_off : 0;
		size_t cap = want > 65536 ? 65536 : want ? want : 1;
		if (!have && would_block(ref, flags))
			return -EAGAIN;
		if (have < cap) {
			uint8_t *buf = kmalloc(cap);
			if (!buf)
				return -ENOMEM;
			if (have)
				memcpy(buf, s->ahead + s->ahead_off, have);
			r = have ? read_ready(ref, buf + have, cap - have)
				 : abi->stream_read(ref->h, MOAT_OFFSET_STREAM, buf, cap);
			if (r < 0 || (!have && r == 0)) {
				kfree(buf);
				return r == -EINTR ? -ERESTARTSYS : r;
			}
			kfree(s->ahead);
			s->ahead = buf;
			s->ahead_len = have + (size_t)r;
			s->ahead_off = 0;
			s->have_ahead = 1;
		}
		return iov_fill(iov, cnt, s->ahead + s->ahead_off, s->ahead_len - s->ahead_off);
	}
	if (s->have_ahead) {
		/* what was peeked, then whatever else is there already */
		long got = iov_fill(iov, cnt, s->ahead + s->ahead_off, s->ahead_len - s->ahead_off);
		if (got < 0)
			return got;
		size_t n = (size_t)got;
		s->ahead_off += n;
		if (s->ahead_off == s->ahead_len) {
			kfree(s->ahead);
			s->ahead = NULL;
			s->have_ahead = 0;
		}
		if (n < want && !s->have_ahead) {
			size_t more = want - n > 65536 ? 65536 : want - n;
			uint8_t *buf = kmalloc(more);
			if (buf) {
				r = read_ready(ref, buf, more);
				r = iov_fill_at(iov, cnt, n, buf, (size_t)r);
				n += r > 0 ? (size_t)r : 0;
				kfree(buf);
			}
		}
		return (long)n;
	}
	if (would_block(ref, flags))
		return -EAGAIN;
	for (size_t i = 0; i < cnt; i++) {
		if (!iov[i].iov_len)
			continue;
		r = abi->stream_read(ref->h, MOAT_OFFSET_STREAM, iov[i].iov_base, iov[i].iov_len);
		if (r < 0) {
			if (total)
				break;
			return r == -EINTR ? -ERESTARTSYS : r;
		}
		total += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return total;
}

static long dgram_send(struct sockref *ref, const struct l_sockaddr_in *dest,
		       struct l_iovec *iov, size_t cnt)
{
	struct lsock *s = ref->s;
	if (!dest) {
		if (!s->connected)
			return -EDESTADDRREQ;
		dest = &s->peer;
	}
	size_t total = iov_total(iov, cnt);
	if (total > MOAT_DATAGRAM_MAX)
		return -EMSGSIZE;
	long r = udp_allowed(s, dest);
	if (r < 0 || (r = udp_relay(ref, dest)) < 0)
		return r;
	struct moat_datagram h = { dest->sin_addr, dest->sin_port, 0 };
	uint8_t *buf = kmalloc(sizeof(h) + total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	size_t off = sizeof(h);
	for (size_t i = 0; i < cnt; i++) {
		if (copy_from_user(buf + off, iov[i].iov_base, iov[i].iov_len) < 0) {
			kfree(buf);
			return -EFAULT;
		}
		off += iov[i].iov_len;
	}
	r = abi->stream_write(ref->h, MOAT_OFFSET_STREAM, buf, off);
	kfree(buf);
	if (r < 0)
		return r == -EINTR ? -ERESTARTSYS : r;
	return (long)total;
}

/* One datagram into iov; its source in *from.  *trunc set if it did not
 * fit.  Returns the bytes copied (or, with MSG_TRUNC, its real size). */
static long dgram_recv(struct sockref *ref, struct l_iovec *iov, size_t cnt, int flags,
		       struct l_sockaddr_in *from, int *trunc)
{
	struct lsock *s = ref->s;
	struct moat_datagram h;
	while (!s->have_ahead) {
		if (!ref->kind) { /* nothing can arrive before a bind or a send */
			if (ref->nonblock || (flags & MSG_DONTWAIT_K))
				return -EAGAIN;
			thread_block_until_signal();
			return -ERESTARTSYS;
		}
		if (would_block(ref, flags))
			return -EAGAIN;
		if (!s->rxbuf && !(s->rxbuf = kmalloc(sizeof(h) + 65536)))
			return -ENOMEM;
		long r = abi->stream_read(ref->h, MOAT_OFFSET_STREAM, s->rxbuf, sizeof(h) + 65536);
		if (r < 0)
			return r == -EINTR ? -ERESTARTSYS : r;
		if ((size_t)r < sizeof(h))
			continue;
		memcpy(&h, s->rxbuf, sizeof(h));
		struct l_sockaddr_in src = { .sin_family = AF_INET_K, .sin_port = h.port,
					      .sin_addr = h.addr };
		if (s->connected && !same_in(&src, &s->peer))
			continue; /* a connected socket hears only its peer */
		s->ahead_from = src;
		s->ahead_len = (size_t)r - sizeof(h);
		s->have_ahead = 1;
		allow(s, &src); /* a reply may go back where this came from */
	}
	long got = iov_fill(iov, cnt, s->rxbuf + sizeof(h), s->ahead_len);
	if (got < 0)
		return got; /* the datagram stays for the next receive */
	size_t n = (size_t)got;
	*trunc = n < s->ahead_len;
	*from = s->ahead_from;
	long ret = (flags & MSG_TRUNC_K) ? (long)s->ahead_len : (long)n;
	if (!(flags & MSG_PEEK_K))
		s->have_ahead = 0;
	return ret;
}

/* read/write/readv/writev on a socket descriptor. */
static long socket_rw_vector(struct file *f, void *iov, size_t cnt, int write)
{
	struct sockref ref = { f->priv, f->h, f->kind, !!(f->flags & 04000), -1 };
	uint32_t kind = f->kind;
	struct l_sockaddr_in from;
	int trunc;
	if (ref.s->type == SOCK_DGRAM_K)
		return write ? dgram_send(&ref, NULL, iov, cnt)
			     : dgram_recv(&ref, iov, cnt, 0, &from, &trunc);
	if (kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	return write ? stream_send(&ref, iov, cnt, 0) : stream_recv(&ref, iov, cnt, 0);
}

static long socket_read(struct file *f, void *buf, size_t len, int64_t at)
{
	(void)at;
	struct l_iovec iov = { buf, len };
	return socket_rw_vector(f, &iov, 1, 0);
}

static long socket_write(struct file *f, const void *buf, size_t len, int64_t at)
{
	(void)at;
	struct l_iovec iov = { (void *)buf, len };
	return socket_rw_vector(f, &iov, 1, 1);
}

/* poll on a socket descriptor. */
/* POLLRDHUP: the peer has shut down its side, so the read end is at
 * end-of-file after whatever data is queued.  While the host socket is
 * readable, reads do not block: what they bring is kept for the next
 * recv (up to 64 KiB), and a read of 0 is the end.  (nginx asks for it,
 * and without it keeps calling recv on a busy connection rather than
 * returning to epoll, starving the others.) */
static short rdhup_check(struct lsock *s, moat_handle h, short in)
{
	while (!s->eof_seen && abi->objects_wait_any(1, &h, 0) == 0) {
		size_t have = s->have_ahead ? s->ahead_len - s->ahead_off : 0;
		if (have >= 65536)
			break;
		uint8_t *buf = kmalloc(have + 4096);
		if (!buf)
			break;
		if (have)
			memcpy(buf, s->ahead + s->ahead_off, have);
		long r = abi->stream_read(h, MOAT_OFFSET_STREAM, buf + have, 4096);
		if (r <= 0) {
			kfree(buf);
			s->eof_seen = r == 0;
			break;
		}
		kfree(s->ahead);
		s->ahead = buf;
		s->ahead_len = have + (size_t)r;
		s->ahead_off = 0;
		s->have_ahead = 1;
	}
	return (short)((s->have_ahead || s->eof_seen ? in : 0) |
		       (s->eof_seen ? POLLRDHUP_K : 0));
}

static short socket_poll(struct file *f, short events, moat_handle *wait, int64_t *wake_at)
{
	(void)wake_at;
	struct lsock *s = f->priv;
	moat_handle h = f->h;
	uint32_t kind = f->kind;
	short in = events & (0x001 | 0x040), out = events & (0x004 | 0x100);
	*wait = MOAT_NO_HANDLE;
	if ((events & POLLRDHUP_K) && kind == MOAT_KIND_SOCKET && s->type == SOCK_STREAM_K) {
		*wait = h;
		return rdhup_check(s, h, in) | out;
	}
	if (s->have_ahead)
		return in | (kind == MOAT_KIND_SERVER ? 0 : out);
	if (!kind) /* UDP: may send; stream: not connected (POLLHUP) */
		return s->type == SOCK_DGRAM_K ? out : (short)(out | 0x010);
	*wait = h;
	return (in && abi->objects_wait_any(1, &h, 0) == 0 ? in : 0) |
	       (kind == MOAT_KIND_SERVER ? 0 : out);
}

static long sock_send(int fd, struct l_iovec *iov, size_t cnt, int flags, const void *addr,
		      unsigned alen)
{
	struct sockref ref;
	struct kaddr k;
	long r = sock_get(fd, &ref);
	if (r < 0 || (addr && (r = copy_in_addr(&addr, alen, &k)) < 0))
		return r;
	if (ref.s->type == SOCK_DGRAM_K) {
		struct l_sockaddr_in dest;
		if (addr && (r = inet_addr_of(addr, alen, &dest)) < 0)
			return r;
		return dgram_send(&ref, addr ? &dest : NULL, iov, cnt);
	}
	if (ref.kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	return stream_send(&ref, iov, cnt, flags);
}

/* Receive; the sender's address goes to *from (LibOS memory, *flen
 * bytes; 0 when there is none to say). */
static long sock_recv(int fd, struct l_iovec *iov, size_t cnt, int flags, struct kaddr *from,
		      unsigned *flen, int *msg_flags)
{
	struct sockref ref;
	long r = sock_get(fd, &ref);
	*flen = 0;
	*msg_flags = 0;
	if (r < 0)
		return r;
	if (ref.s->type == SOCK_DGRAM_K) {
		struct l_sockaddr_in src;
		int trunc = 0;
		r = dgram_recv(&ref, iov, cnt, flags, &src, &trunc);
		if (r >= 0) {
			memcpy(from->b, &src, sizeof(src));
			*flen = sizeof(src);
			*msg_flags = trunc ? MSG_TRUNC_K : 0;
		}
		return r;
	}
	if (ref.kind != MOAT_KIND_SOCKET)
		return -ENOTCONN;
	r = stream_recv(&ref, iov, cnt, flags);
	if (r >= 0 && ref.s->domain == AF_UNIX_K) {
		memcpy(from->b, ref.s->uaddr[1], ref.s->ulen[1]);
		*flen = ref.s->ulen[1];
	} else if (r >= 0) {
		memcpy(from->b, &ref.s->peer, sizeof(ref.s->peer));
		*flen = sizeof(ref.s->peer);
	}
	return r;
}

long sys_sendto(int fd, const void *buf, size_t len, int flags, const void *addr,
		unsigned alen)
{
	struct l_iovec iov = { (void *)buf, len };
	return sock_send(fd, &iov, 1, flags, addr, alen);
}

long sys_recvfrom(int fd, void *buf, size_t len, int flags, void *addr, unsigned *alen)
{
	struct l_iovec iov = { buf, len };
	struct kaddr from;
	unsigned flen;
	int mflags;
	long r = sock_recv(fd, &iov, 1, flags, &from, &flen, &mflags);
	if (r >= 0 && addr) {
		long e = copy_out(from.b, flen, addr, alen);
		if (e < 0)
			return e;
	}
	return r;
}

/* A message header and its iovec array, copied into the LibOS. */
struct kmsg {
	struct l_msghdr h;
	struct l_iovec *iov;
};

static long msg_in(struct kmsg *k, const struct l_msghdr *um)
{
	k->iov = NULL;
	if (copy_from_user(&k->h, um, sizeof(k->h)) < 0)
		return -EFAULT;
	if (k->h.msg_iovlen > 1024)
		return -EMSGSIZE;
	size_t bytes = k->h.msg_iovlen * sizeof(struct l_iovec);
	if (!(k->iov = kmalloc(bytes ? bytes : 1)))
		return -ENOMEM;
	if (copy_from_user(k->iov, k->h.msg_iov, bytes) < 0)
		return -EFAULT;
	/* As Linux: the total length must fit in an ssize_t. */
	size_t total = 0;
	for (size_t i = 0; i < k->h.msg_iovlen; i++) {
		if ((long)k->iov[i].iov_len < 0 || (total += k->iov[i].iov_len) > 0x7fffffffffffffffUL)
			return -EINVAL;
		if (!user_range_ok(k->iov[i].iov_base, k->iov[i].iov_len))
			return -EFAULT;
	}
	return 0;
}

long sys_sendmsg(int fd, const struct l_msghdr *m, int flags)
{
	struct kmsg k;
	long r = msg_in(&k, m);
	if (r == 0 && k.h.msg_control && k.h.msg_controllen) {
		klog("sendmsg: ancillary data (descriptor passing) is not supported");
		r = -EOPNOTSUPP;
	}
	if (r == 0)
		r = sock_send(fd, k.iov, k.h.msg_iovlen, flags, k.h.msg_name, k.h.msg_namelen);
	kfree(k.iov);
	return r;
}

long sys_recvmsg(int fd, struct l_msghdr *m, int flags)
{
	struct kmsg k;
	struct kaddr from;
	unsigned flen;
	int mflags;
	long r = msg_in(&k, m);
	if (r == 0 && (int)k.h.msg_namelen < 0)
		r = -EINVAL;
	if (r == 0)
		r = sock_recv(fd, k.iov, k.h.msg_iovlen, flags, &from, &flen, &mflags);
	kfree(k.iov);
	if (r < 0)
		return r;
	if (k.h.msg_name) {
		unsigned n = k.h.msg_namelen < flen ? k.h.msg_namelen : flen;
		if (copy_to_user(k.h.msg_name, from.b, n) < 0)
			return -EFAULT;
		k.h.msg_namelen = flen;
	}
	k.h.msg_controllen = 0;
	k.h.msg_flags = mflags;
	/* Only the three fields Linux writes back. */
	if (put_user(&m->msg_namelen, k.h.msg_namelen) < 0 ||
	    put_user(&m->msg_controllen, k.h.msg_controllen) < 0 ||
	    put_user(&m->msg_flags, k.h.msg_flags) < 0)
		return -EFAULT;
	return r;
}

/* sendmmsg/recvmmsg: one sendmsg/recvmsg per entry.  After the first,
 * an error ends the batch and the count so far is the result (the error
 * shows again on the next call, as on Linux). */
#define MSG_WAITFORONE_K 0x10000

long sys_sendmmsg(int fd, struct l_mmsghdr *v, unsigned n, int flags)
{
	unsigned i;
	if (n > 1024)
		n = 1024;
	for (i = 0; i < n; i++) {
		long r = sys_sendmsg(fd, &v[i].msg_hdr, flags);
		if (r >= 0 && put_user(&v[i].msg_len, (unsigned)r) < 0)
			r = -EFAULT;
		if (r < 0)
			return i ? (long)i : r;
	}
	return i;
}

long sys_recvmmsg(int fd, struct l_mmsghdr *v, unsigned n, int flags,
		  struct l_timespec *utimeout)
{
	unsigned i;
	int64_t end = -1;
	struct l_timespec t, *timeout = utimeout ? &t : NULL;
	if (utimeout && copy_from_user(&t, utimeout, sizeof(t)) < 0)
		return -EFAULT;
	if (timeout) {
		if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000)
			return -EINVAL;
		end = abi->system_time(MOAT_CLOCK_MONOTONIC) + timeout->tv_sec * 1000000000L +
		      timeout->tv_nsec;
	}
	if (n > 1024)
		n = 1024;
	for (i = 0; i < n; i++) {
		long r = sys_recvmsg(fd, &v[i].msg_hdr, flags & ~MSG_WAITFORONE_K);
		if (r >= 0 && put_user(&v[i].msg_len, (unsigned)r) < 0)
			r = -EFAULT;
		if (r < 0)
			return i ? (long)i : r;
		if (flags & MSG_WAITFORONE_K)
			flags |= MSG_DONTWAIT_K;
		/* Linux checks the timeout only after each datagram, too. */
		if (end >= 0 && abi->system_time(MOAT_CLOCK_MONOTONIC) >= end) {
			i++;
			break;
		}
	}
	return i;
}
