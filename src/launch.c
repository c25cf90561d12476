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
 * launch.c: the worker <-> launcher packets, built and checked in one
 * place for both ends.  Sends never block: a full channel drops the
 * packet, and the worker asks again after launch_wait.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <string.h>

#include "launch.h"

/* Ask for the milter of that name: 0, or -1 (errno set). */
int
launch_request_send(int fd, const char *name)
{
	struct launch_request	r;

	memset(&r, 0, sizeof(r));
	r.version = LAUNCH_VERSION;
	strlcpy(r.name, name, sizeof(r.name));
	return send(fd, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)sizeof(r) ? 0 : -1;
}

/* The name a request of len bytes asks for, or NULL if malformed. */
const char *
launch_request_name(const void *buf, size_t len)
{
	const struct launch_request	*r = buf;

	if (len != sizeof(*r) || r->version != LAUNCH_VERSION ||
	    memchr(r->name, '\0', sizeof(r->name)) == NULL)
		return NULL;
	return r->name;
}

void
launch_reply_send(int fd, int status, const char *name, const char *why)
{
	struct launch_reply	r;

	memset(&r, 0, sizeof(r));
	r.status = (uint32_t)status;
	strlcpy(r.name, name, sizeof(r.name));
	strlcpy(r.reason, why, sizeof(r.reason));
	(void)send(fd, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Is a reply of len bytes whole, its strings terminated? */
int
launch_reply_valid(const struct launch_reply *r, size_t len)
{
	return len == sizeof(*r) && memchr(r->name, '\0',
	    sizeof(r->name)) != NULL && memchr(r->reason, '\0',
	    sizeof(r->reason)) != NULL;
}
