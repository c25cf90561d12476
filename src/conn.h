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

/* conn.h: non-blocking stream connections on a libevent loop. */

#ifndef CONN_H
#define CONN_H

#include <event2/buffer.h>
#include <event2/event.h>

#define CONN_CONNECTED	1
#define CONN_EOF	2
#define CONN_ERROR	3
#define CONN_DRAINED	4	/* output fell to the mark set */

struct conn;
typedef void	(*conn_read_cb)(struct conn *, void *);
typedef void	(*conn_event_cb)(struct conn *, int, int, void *);

/* conn.c */
struct conn	*conn_new(struct event_base *, int, int, conn_read_cb,
		    conn_event_cb, void *);
void		 conn_free(struct conn *);
struct evbuffer	*conn_input(struct conn *);
int		 conn_fd(struct conn *);
void		 conn_write(struct conn *, const void *, size_t);
void		 conn_flush(struct conn *);
size_t		 conn_pending(struct conn *);
void		 conn_notify_drained(struct conn *, size_t);
void		 conn_pause(struct conn *, int);
void		 conn_rebind(struct conn *, conn_read_cb, conn_event_cb,
		    void *);
struct trace;
void		 conn_set_trace(struct conn *, struct trace *);

#endif /* CONN_H */
