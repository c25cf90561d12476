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
 * conncheck.h: is an SMTP client's TCP connection to the MTA still
 * there?  Asked of the kernel for many sessions at once, one request
 * per connection, without blocking.
 */

#ifndef CONNCHECK_H
#define CONNCHECK_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;

/* The MTA's end (local) and the client's (remote) of one connection. */
struct conn_tuple {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		local[16];	/* network order */
	uint8_t		remote[16];
	uint16_t	lport;		/* host order */
	uint16_t	rport;
};

/* What a check found. */
#define CHECK_OPEN	1	/* there, established */
#define CHECK_CLOSING	2	/* there, but the client has closed */
#define CHECK_ABSENT	3	/* no such connection */

struct conncheck_item;
typedef void	(*conncheck_cb)(struct conncheck_item *, int, const char *);

/* One connection to check, embedded in whatever asks. */
struct conncheck_item {
	struct conn_tuple		 tuple;
	conncheck_cb			 done;
	int				 queued;	/* or in flight */
	uint32_t			 seq;
	time_t				 sent;
	TAILQ_ENTRY(conncheck_item)	 entry;
};

/* conncheck.c */
int	 conncheck_open(struct event_base *);
void	 conncheck_close(void);
void	 conncheck_submit(struct conncheck_item *);
void	 conncheck_cancel(struct conncheck_item *);
size_t	 conncheck_request(void *, size_t, const struct conn_tuple *,
	    uint32_t);
int	 conncheck_reply(const void *, size_t, size_t *, uint32_t *,
	    const char **);
int	 conncheck_tuple(struct conn_tuple *, char, const char *, uint16_t,
	    const char *, const char *);

#endif /* CONNCHECK_H */
