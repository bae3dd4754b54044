/*
 * netgrant.c -- network grants: which endpoint a picoprocess may reach
 * or serve, where it goes on the host, and the host socket made for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "moat/channel.h"
#include "moat/policy.h"
#include "policy_int.h"

/* "tcp.client:A.B.C.D:PORT" (or tcp.server, udp.client, udp.server):
 * strict, since it comes from the app. */
static int parse_endpoint(const char *uri, int *udp, int *server, struct sockaddr_in *sa)
{
	char addr[16];
	if (strncmp(uri, "tcp.", 4) && strncmp(uri, "udp.", 4))
		return -EINVAL;
	*udp = uri[0] == 'u';
	if (!strncmp(uri + 4, "client:", 7))
		*server = 0;
	else if (!strncmp(uri + 4, "server:", 7))
		*server = 1;
	else
		return -EINVAL;
	const char *p = uri + 11;
	const char *colon = strrchr(p, ':');
	if (!colon || colon == p || (size_t)(colon - p) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, p, (size_t)(colon - p));
	addr[colon - p] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == 0 || port < 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, addr, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static const struct moat_net_mapping *net_grant(struct moat_policy *p, int udp, int server,
						const struct sockaddr_in *sa)
{
	uint16_t port = ntohs(sa->sin_port);
	for (int i = 0; i < p->nnets; i++) {
		const struct moat_net_mapping *g = &p->nets[i];
		if (g->udp == udp && g->server == server &&
		    (g->vaddr == 0 || g->vaddr == sa->sin_addr.s_addr) &&
		    (g->vport == 0 || g->vport == port))
			return g;
	}
	return NULL;
}

/* Where a granted endpoint goes on the host. */
static void net_map(const struct moat_net_mapping *g, struct sockaddr_in *sa)
{
	if (g->haddr)
		sa->sin_addr.s_addr = g->haddr;
	if (g->hport)
		sa->sin_port = htons(g->hport);
}

int moat_policy_udp_route(struct moat_policy *p, const struct sockaddr_in *virt,
			  struct sockaddr_in *host)
{
	const struct moat_net_mapping *g = net_grant(p, 1, 0, virt);
	if (!g || virt->sin_port == 0)
		return -EACCES;
	*host = *virt;
	net_map(g, host);
	return 0;
}

int moat_policy_net_check(struct moat_policy *p, const char *uri)
{
	struct sockaddr_in sa;
	int udp, server;
	int r = parse_endpoint(uri, &udp, &server, &sa);
	if (r < 0)
		return r;
	const struct moat_net_mapping *g = net_grant(p, udp, server, &sa);
	if (!g || (!server && sa.sin_port == 0))
		return server || udp ? -EACCES : -ECONNREFUSED;
	return 0;
}

int moat_policy_net(struct moat_policy *p, const char *uri, int *fdp)
{
	struct sockaddr_in sa;
	int udp, server;
	*fdp = -1;
	int r = moat_policy_net_check(p, uri);
	if (r < 0)
		return r;
	parse_endpoint(uri, &udp, &server, &sa);
	net_map(net_grant(p, udp, server, &sa), &sa);
	/* Non-blocking: a client's connect is in progress when it reaches the
	 * picoprocess; a listener's accept never blocks the PAL. */
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	/* TCP_NODELAY on every TCP socket (connections accepted from a
	 * listener inherit it).  The picoprocess cannot set options on host
	 * sockets, so the setting a latency-minded server asks for (nginx,
	 * redis) must already be there: with Nagle on, a response written in
	 * two parts waits for the delayed ACK, some 40 ms.  An app that wanted
	 * Nagle only sends more, smaller segments. */
	if (!udp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (server) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    (!udp && listen(fd, 128) < 0))
			r = -errno;
	} else if (!udp && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		   errno != EINPROGRESS) {
		r = -errno;
	}
	/* A udp.client socket stays unbound and unconnected: the monitor's
	 * relay sends each datagram to its granted destination. */
	if (r < 0) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return udp ? MOAT_KIND_DATAGRAM : server ? MOAT_KIND_SERVER : MOAT_KIND_SOCKET;
}
