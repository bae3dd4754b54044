/*
 * sockets.c -- sockets the monitor serves itself, beyond a plain grant:
 * UDP relays, and the unix socket names of an app.
 *
 * UDP.  The picoprocess may not call sendto or recvfrom on the host (the
 * filter has neither: a host datagram socket could reach any address).
 * So for each udp.client: or udp.server: endpoint the monitor holds the
 * host socket and gives the picoprocess one end of a SOCK_SEQPACKET pair;
 * each packet on it is a struct moat_datagram header and a payload.  The
 * monitor checks every datagram the app sends: its destination must be
 * covered by a udp.client grant (mapped to the grant's host address), or,
 * on a udp.server endpoint, be a peer that sent to it.  Datagrams from
 * the host reach the app only from such destinations or, on a server,
 * from anyone (that is what a udp.server grant is for), and carry the
 * source address the app knows.  Anything else is dropped.
 *
 * Unix sockets.  The processes of one app reach each other's named or
 * abstract unix sockets, and nothing else: a name lives in this app's
 * registry only.  Behind each bound name is a real listening socket in a
 * private host directory (0700, removed at the end), which the monitor
 * creates and connects to on the app's behalf, so the picoprocess never
 * names a host socket.  A path name also gets what bind makes on Linux:
 * a socket inode at that path (in a writable mapping), which stat, ls
 * and unlink see and which makes a second bind fail with EADDRINUSE; but
 * nothing listens on it.  A connect by path reaches the registered
 * listener only if the path still leads to that very inode; a host
 * socket, abstract or path, is never in the registry and cannot be
 * reached.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "monitor_int.h"

#define RELAY_PEERS 64
#define RELAY_SNDBUF (64 * 1024) /* datagrams waiting for the app (doubled by the kernel) */
#define UNIX_NAMES_MAX 256
#define BURST 64   /* datagrams moved per wake-up, per direction */

struct peer {
	struct sockaddr_in virt, host;
};

struct relay {
	int app;      /* monitor's end of the pair */
	int host;     /* host datagram socket */
	int server;   /* from a udp.server: grant */
	struct peer peers[RELAY_PEERS];
	int npeers, next;
};

struct unix_name {
	char name[2 * 108 + 2];  /* "/path" or "@hex" as the app named it */
	char host[128];          /* the listener's path in pp->sockdir */
	dev_t dev;               /* a path name: its socket inode */
	ino_t ino;
};

static char dgram_buf[sizeof(struct moat_datagram) + 65536];

/* --- UDP relays --- */

int moat_relay_new(struct pico *pp, int host, int server, int *app_end)
{
	int sv[2];
	struct relay *r = NULL, **list;
	*app_end = -1;
	if (pp->nrelays >= moat_relays_max(pp)) {
		close(host);
		return -EMFILE;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		int e = -errno;
		close(host);
		return e;
	}
	list = realloc(pp->relays, (size_t)(pp->nrelays + 1) * sizeof(*list));
	if (list)
		pp->relays = list;
	if (!list || !(r = calloc(1, sizeof(*r)))) {
		close(host);
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	/* What waits for the app to read is held for the monitor: bounded
	 * per relay here, and in number by moat_relays_max. */
	int sndbuf = RELAY_SNDBUF;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	r->app = sv[0];
	r->host = host;
	r->server = server;
	pp->relays[pp->nrelays++] = r;
	*app_end = sv[1]; /* blocking or not is the PAL's business: it polls */
	return 0;
}

/* Relays at once: as many as the picoprocess's budget for what the
 * monitor holds for it (pp->held_budget) has room for, 16 to 256. */
int moat_relays_max(const struct pico *pp)
{
	uint64_t b = pp->held_budget ? pp->held_budget : MOAT_LISTING_BYTES_MAX;
	uint64_t n = b / (2 * RELAY_SNDBUF);
	return n < 16 ? 16 : n > 256 ? 256 : (int)n;
}

static void relay_free(struct relay *r)
{
	close(r->app);
	close(r->host);
	free(r);
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static void remember(struct relay *r, const struct sockaddr_in *virt,
		     const struct sockaddr_in *host)
{
	struct peer *p = &r->peers[r->npeers < RELAY_PEERS ? r->npeers++ : r->next++ % RELAY_PEERS];
	p->virt = *virt;
	p->host = *host;
}

static struct peer *peer_by(struct relay *r, const struct sockaddr_in *a, int host)
{
	for (int i = 0; i < r->npeers; i++)
		if (same_addr(host ? &r->peers[i].host : &r->peers[i].virt, a))
			return &r->peers[i];
	return NULL;
}

/* App to host.  Returns -1 when the app closed its end. */
static int relay_out(struct pico *pp, struct relay *r)
{
	for (int i = 0; i < BURST; i++) {
		ssize_t n = recv(r->app, dgram_buf, sizeof(dgram_buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		struct moat_datagram h;
		if ((size_t)n < sizeof(h) || (size_t)n > sizeof(h) + MOAT_DATAGRAM_MAX)
			continue; /* not a datagram the LibOS would write: dropped */
		memcpy(&h, dgram_buf, sizeof(h));
		struct sockaddr_in virt = { .sin_family = AF_INET, .sin_port = h.port,
					    .sin_addr.s_addr = h.addr }, host;
		struct peer *p = peer_by(r, &virt, 0);
		if (p) {
			host = p->host;
		} else if (moat_policy_udp_route(pp->policy, &virt, &host) == 0) {
			remember(r, &virt, &host);
		} else {
			if (pp->debug) {
				char a[INET_ADDRSTRLEN];
				inet_ntop(AF_INET, &virt.sin_addr, a, sizeof(a));
				fprintf(stderr, "moat[%s]: udp to %s:%u: not granted, dropped\n",
					pp->name, a, ntohs(virt.sin_port));
			}
			continue;
		}
		sendto(r->host, dgram_buf + sizeof(h), (size_t)n - sizeof(h), MSG_DONTWAIT,
		       (struct sockaddr *)&host, sizeof(host));
	}
	return 0;
}

/* Host to app. */
static void relay_in(struct relay *r)
{
	for (int i = 0; i < BURST; i++) {
		struct sockaddr_in src;
		socklen_t slen = sizeof(src);
		struct moat_datagram h = { 0 };
		ssize_t n = recvfrom(r->host, dgram_buf + sizeof(h), sizeof(dgram_buf) - sizeof(h),
				     MSG_DONTWAIT, (struct sockaddr *)&src, &slen);
		if (n < 0)
			return;
		if (slen != sizeof(src) || src.sin_family != AF_INET)
			continue;
		struct peer *p = peer_by(r, &src, 1);
		if (!p && !r->server)
			continue; /* a client hears only from where it sent */
		if (!p) {
			remember(r, &src, &src);
			p = peer_by(r, &src, 1);
		}
		h.addr = p->virt.sin_addr.s_addr;
		h.port = p->virt.sin_port;
		memcpy(dgram_buf, &h, sizeof(h));
		send(r->app, dgram_buf, sizeof(h) + (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

int moat_relay_pollfds(struct pico *pp, struct pollfd *out)
{
	for (int i = 0; i < pp->nrelays; i++) {
		out[2 * i] = (struct pollfd){ pp->relays[i]->app, POLLIN, 0 };
		out[2 * i + 1] = (struct pollfd){ pp->relays[i]->host, POLLIN, 0 };
	}
	return 2 * pp->nrelays;
}

void moat_relay_serve(struct pico *pp, const struct pollfd *pfd, int n)
{
	int keep = 0;
	for (int i = 0; i < pp->nrelays; i++) {
		struct relay *r = pp->relays[i];
		int dead = 0;
		if (2 * i + 1 < n) {
			if (pfd[2 * i].revents)
				dead = relay_out(pp, r) < 0;
			if (!dead && pfd[2 * i + 1].revents)
				relay_in(r);
		}
		if (dead)
			relay_free(r);
		else
			pp->relays[keep++] = r;
	}
	pp->nrelays = keep;
}

/* --- unix socket names --- */

/* "/abs/path" (at most 107 bytes) or "@" and an even number of hex
 * digits (at most 107 bytes of abstract name). */
static int valid_name(const char *n)
{
	size_t len = strlen(n);
	if (n[0] == '/')
		return len <= 107;
	if (n[0] != '@' || len < 1 || (len - 1) % 2 || (len - 1) / 2 > 107)
		return 0;
	return strspn(n + 1, "0123456789abcdef") == len - 1;
}

/* Is a listening socket still bound at host path 'path'?  Once every
 * descriptor of it is closed, the kernel forgets it. */
static int listener_alive(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[512];
	int alive = 0;
	if (!f)
		return 1; /* cannot tell: treat the name as taken */
	while (!alive && fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, ' ');
		if (!p)
			continue;
		p++;
		p[strcspn(p, "\n")] = 0;
		alive = !strcmp(p, path);
	}
	fclose(f);
	return alive;
}

/* A path name is found by its inode (links and symlinks lead there too),
 * an abstract one by name. */
static struct unix_name *name_find(struct pico *pp, const char *name, dev_t dev, ino_t ino)
{
	for (int i = 0; i < pp->nunames; i++) {
		struct unix_name *u = &pp->unames[i];
		if (name[0] == '/' ? u->name[0] == '/' && u->dev == dev && u->ino == ino
				   : !strcmp(u->name, name))
			return u;
	}
	return NULL;
}

static int host_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Room for one more name: forget those whose listener is gone. */
static int names_room(struct pico *pp)
{
	if (pp->nunames < UNIX_NAMES_MAX)
		return 0;
	int keep = 0;
	for (int i = 0; i < pp->nunames; i++) {
		if (listener_alive(pp->unames[i].host))
			pp->unames[keep++] = pp->unames[i];
		else
			unlink(pp->unames[i].host);
	}
	pp->nunames = keep;
	return keep < UNIX_NAMES_MAX ? 0 : -ENOBUFS;
}

static int unix_listen(struct pico *pp, const char *name, int *fdp)
{
	struct sockaddr_un sa;
	dev_t dev = 0;
	ino_t ino = 0;
	struct unix_name *u;
	int r;
	if (name[0] == '/') {
		/* the inode first: the name is taken if anything is there */
		if ((r = moat_policy_socket_node(pp->policy, name, 1, &dev, &ino)) < 0)
			return r;
		u = name_find(pp, name, dev, ino);
	} else {
		u = name_find(pp, name, 0, 0);
		if (u && listener_alive(u->host))
			return -EADDRINUSE;
	}
	if (!u) {
		if ((r = names_room(pp)) < 0)
			return r;
		struct unix_name *names = realloc(pp->unames,
						  (size_t)(pp->nunames + 1) * sizeof(*names));
		if (!names)
			return -ENOMEM;
		pp->unames = names;
		u = &names[pp->nunames];
		u->host[0] = 0;
	}
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->dev = dev;
	u->ino = ino;
	if (!pp->sockdir[0]) { /* mkdtemp makes it 0700 */
		char err[256];
		if ((r = moat_tmp_dir("moat-sock", pp->sockdir, sizeof(pp->sockdir), err,
				      sizeof(err))) < 0)
			return r;
	}
	if (u->host[0])
		unlink(u->host); /* an older listener of this name is out of reach */
	snprintf(u->host, sizeof(u->host), "%.100s/%u", pp->sockdir, ++pp->unix_seq);
	if ((r = host_addr(u->host, &sa)) < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (u == &pp->unames[pp->nunames])
		pp->nunames++;
	*fdp = fd;
	return MOAT_KIND_SERVER;
}

static int unix_connect(struct pico *pp, const char *name, int *fdp)
{
	struct sockaddr_un sa;
	dev_t dev = 0;
	ino_t ino = 0;
	int r;
	if (name[0] == '/' && (r = moat_policy_socket_node(pp->policy, name, 0, &dev, &ino)) < 0)
		return r;
	struct unix_name *u = name_find(pp, name, dev, ino);
	if (!u) /* a socket this app did not bind: nobody listening */
		return -ECONNREFUSED;
	if ((r = host_addr(u->host, &sa)) < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == ENOENT ? -ECONNREFUSED : -errno;
		close(fd);
		return r;
	}
	*fdp = fd;
	return MOAT_KIND_SOCKET;
}

int moat_unix_open(struct pico *pp, const char *uri, int *fdp)
{
	*fdp = -1;
	if (!strncmp(uri, "unix.server:", 12) && valid_name(uri + 12))
		return unix_listen(pp, uri + 12, fdp);
	if (!strncmp(uri, "unix.client:", 12) && valid_name(uri + 12))
		return unix_connect(pp, uri + 12, fdp);
	return -EINVAL;
}

/* After the picoprocess has ended. */
void moat_sockets_close(struct pico *pp)
{
	for (int i = 0; i < pp->nrelays; i++)
		relay_free(pp->relays[i]);
	free(pp->relays);
	pp->relays = NULL;
	pp->nrelays = 0;
	for (int i = 0; i < pp->nunames; i++)
		unlink(pp->unames[i].host);
	free(pp->unames);
	pp->unames = NULL;
	pp->nunames = 0;
	if (pp->sockdir[0])
		rmdir(pp->sockdir);
	pp->sockdir[0] = 0;
}
