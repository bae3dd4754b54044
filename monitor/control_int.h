/* control_int.h -- the monitor's side of the control socket (control.c),
 * for monitor.c's event loop.  See include/moat/control.h. */
#ifndef MOAT_CONTROL_INTERNAL_H
#define MOAT_CONTROL_INTERNAL_H

#include <stddef.h>

#include "moat/control.h"

struct moat_control;
struct pico;
struct pollfd;

/* Register NAME: bind and listen on its socket in the runtime directory,
 * removing a stale entry of that name first.  NULL with a one-line
 * message in err if the name is invalid or in use, or the directory
 * unusable. */
struct moat_control *moat_control_open(const char *name, char *err, size_t errlen);

/* How many descriptors moat_control_pollfds may fill (0 for NULL). */
int moat_control_npollfds(const struct moat_control *c);
/* Fill out[] with the listening socket and the clients; returns how many. */
int moat_control_pollfds(struct moat_control *c, struct pollfd *out);
/* Serve what poll() found ready in pfd[0..n-1] (as filled above), for
 * picoprocess pp (NULL: none yet); 'stopping': moat was told to end.
 * Never blocks. */
void moat_control_serve(struct moat_control *c, const struct pollfd *pfd, int n,
			struct pico *pp, int stopping);
/* Close every connection and remove the entry (if it is still ours). */
void moat_control_close(struct moat_control *c);

#endif
