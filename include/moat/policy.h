/*
 * moat/policy.h -- the monitor's namespace map: from the virtual paths a
 * picoprocess names to host objects, under the manifest's rules.
 *
 * Every call takes an untrusted virtual path.  It must be absolute and
 * normalised (no "." or ".." components, no empty components, shorter
 * than MOAT_PATH_MAX); anything else is -EINVAL.  Resolution walks one
 * component at a time beneath the mapping's host directory with
 * O_NOFOLLOW, so a component swapped for a symlink mid-walk fails rather
 * than escapes; a symbolic link met on the way is re-read as a *virtual*
 * path and resolved again through the map, so it can reach only what the
 * manifest grants.  No call ever returns a directory descriptor.
 *
 * Results: >= 0 on success, -errno on refusal.  -ENOENT for anything
 * outside every mapping, -EROFS for a change in a read-only mapping.
 */
#ifndef MOAT_POLICY_H
#define MOAT_POLICY_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "moat/abi.h"
#include "moat/channel.h"
#include "moat/manifest.h"

struct moat_policy;

/* Open each mapping's host object; NULL with a message on failure. */
struct moat_policy *moat_policy_new(const struct moat_manifest *m, char *err,
				    size_t errlen);
void moat_policy_free(struct moat_policy *p);

/* Open, with 'flags' (O_CLOEXEC added), the very object the descriptor
 * 'fd' (typically an O_PATH pin whose type was checked) refers to,
 * through /proc/self/fd: what was checked is what is opened, whatever
 * has happened to its path since.  The descriptor, or -errno. */
int moat_reopen(int fd, int flags);

/* Add a mapping of host path 'hpath' at 'vpath'.  -1 with a message. */
int moat_policy_map(struct moat_policy *p, const char *vpath, const char *hpath,
		    int writable, char *err, size_t errlen);

/* directfs: the mappings whose host directory the picoprocess may get
 * (an O_PATH descriptor) to stat beneath itself, because the PAL's walk
 * there answers exactly as moat_policy_stat would (read-only directory
 * mappings with nothing mapped beneath them, no packages, no learn mode).
 * Fills up to 'max' virtual paths and descriptors (the policy keeps
 * both); returns how many. */
int moat_policy_donations(struct moat_policy *p, const char **vpaths, int *fds,
			  int max);

/* 1 if 'vpath' is mapped itself or lies in a writable mapping. */
int moat_policy_covers(const struct moat_policy *p, const char *vpath);


/* Open a file (passes back a host fd) or a directory (passes back a
 * sealed memfd listing, kind MOAT_KIND_DIR).  'how' is MOAT_ACCESS_* |
 * MOAT_OPEN_*.  Returns the kind, and *fd; 0 for MOAT_OPEN_MKDIR.
 * 'reply' (may be NULL) receives a package file's window and attributes
 * (see struct moat_open_reply). */
int moat_policy_open(struct moat_policy *p, const char *path, unsigned how,
		     unsigned mode, struct moat_open_reply *reply, int *fd);

/* Directory listings are memory the monitor makes for the picoprocess:
 * those it holds at once may take at most 'bytes' and 'count' (beyond,
 * the oldest it still holds are emptied; see monitor/listing.c).  Call
 * before the first open; without it, MOAT_LISTING_BYTES_MAX and
 * MOAT_LISTINGS_MAX. */
#define MOAT_LISTING_BYTES_MAX (64u << 20)
#define MOAT_LISTINGS_MAX 1024
int moat_policy_listing_budget(struct moat_policy *p, uint64_t bytes, int count);

/* Package layers: moat_policy_new opens the manifest's layers (checking
 * every file's hash) and presents their union beneath the mappings.
 * Writes to package paths go to the host directory 'upper' (which must
 * exist); without one they fail with EROFS.  -1 with a message. */
int moat_policy_set_upper(struct moat_policy *p, const char *upper, char *err,
			  size_t errlen);
int moat_policy_has_layers(const struct moat_policy *p);

/* Learn mode: beneath its mappings the picoprocess may read anything on
 * the host, and every file it reaches and every directory it lists is
 * noted.  moat_policy_learned writes the notes as [Namespace] lines. */
int moat_policy_learn(struct moat_policy *p, char *err, size_t errlen);
int moat_policy_learned(struct moat_policy *p, FILE *out);
int moat_policy_stat(struct moat_policy *p, const char *path, int nofollow,
		     struct moat_attr *attr);
int moat_policy_readlink(struct moat_policy *p, const char *path, char *buf,
			 size_t len);
int moat_policy_delete(struct moat_policy *p, const char *path, int dir);
int moat_policy_rename(struct moat_policy *p, const char *from,
		       const char *to);
/* mask: MOAT_ATTR_*; times in ns or MOAT_TIME_NOW; uid and gid for
 * MOAT_ATTR_OWNER ((uint32_t)-1: not given, -EINVAL).  *out says what
 * owner is now recorded, if one is (monitor/owner.c). */
int moat_policy_setattr(struct moat_policy *p, const char *path, int nofollow,
			unsigned mask, unsigned mode, int64_t atime, int64_t mtime,
			uint32_t uid, uint32_t gid, struct moat_owner_reply *out);
int moat_policy_symlink(struct moat_policy *p, const char *path,
			const char *target);
int moat_policy_link(struct moat_policy *p, const char *from, const char *to);

/* Network: 'uri' is "tcp.client:A.B.C.D:PORT" or "tcp.server:A.B.C.D:PORT"
 * (or udp.client, udp.server) as the app named it.  If a grant covers it,
 * the monitor connects (a non-blocking socket, connection in progress) or
 * binds and listens on the mapped host address, and *fd receives the
 * socket; for udp it makes a host datagram socket (bound for a server,
 * unbound for a client) that the monitor relays for the app.  Returns
 * MOAT_KIND_SOCKET, MOAT_KIND_SERVER or MOAT_KIND_DATAGRAM; -ECONNREFUSED
 * (tcp client) or -EACCES (anything else) when nothing grants it; -EINVAL
 * for a bad URI. */
int moat_policy_net(struct moat_policy *p, const char *uri, int *fd);

/* A unix socket's name in the file system.  make = 1: create an inert
 * socket inode at virtual 'path' (bind's side effect; nothing listens on
 * it): -EADDRINUSE if the name exists, -EROFS outside writable mappings,
 * -ENOENT.  make = 0: find it (symlinks followed): -ENOENT, or
 * -ECONNREFUSED if it is not a socket.  On success its identity is put
 * in *dev, *ino. */
int moat_policy_socket_node(struct moat_policy *p, const char *path, int make,
			    dev_t *dev, ino_t *ino);

/* The same decision without making anything: 0 or the error above. */
int moat_policy_net_check(struct moat_policy *p, const char *uri);

/* A datagram to 'virt' (as the app named it): 0 and its host destination
 * in *host if a udp.client grant covers it, else -EACCES. */
struct sockaddr_in;
int moat_policy_udp_route(struct moat_policy *p, const struct sockaddr_in *virt,
			  struct sockaddr_in *host);

#endif /* MOAT_POLICY_H */
