/*
 * Copyright (c) 2026 The milterd developers
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */


/*
 * launch.h: what a worker and the launcher say to each other, one
 * packet each way on a SOCK_SEQPACKET channel: start the milter of
 * this name; started, in flight, refused for good, or later.  Both
 * ends check what they receive (the launcher runs as root).
 */

#ifndef LAUNCH_H
#define LAUNCH_H

#include <sys/types.h>

#include <stdint.h>

#define LAUNCH_VERSION	1
struct launch_request {
	uint32_t	version;
	char		name[64];
};

#define LAUNCH_STARTED	1
#define LAUNCH_INFLIGHT	2	/* started already, not yet reaped */
#define LAUNCH_REFUSED	3	/* for good: not in the configuration */
#define LAUNCH_LATER	4	/* not now: ask again later */
struct launch_reply {
	uint32_t	status;
	char		name[64];
	char		reason[128];
};

/* launch.c */
int		 launch_request_send(int, const char *);
const char	*launch_request_name(const void *, size_t);
void		 launch_reply_send(int, int, const char *, const char *);
int		 launch_reply_valid(const struct launch_reply *, size_t);

#endif /* LAUNCH_H */
