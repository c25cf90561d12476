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
 * conn.c: a non-blocking stream connection on the worker's event loop,
 * to the MTA or to a child.
 *
 * Why not bufferevents: a milter session is many small request/reply
 * exchanges, and a bufferevent spends three system calls on each write
 * (arm the write event, wait, disarm) and one more on each read (it asks
 * the kernel how much there is).  conn_write() writes at once and only
 * queues what the socket does not take; reads go straight into the
 * input buffer.  Nothing is ever reported from inside conn_write(): a
 * write error is handed to the event callback from the loop, so callers
 * never see a callback under their feet.  Callbacks may free the conn.
 * A writer of much data (a body) watches conn_pending() and asks with
 * conn_notify_drained() to be told when the queue has gone down, so
 * that memory holds a bounded part of it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "trace.h"

/*
 * Room reserved per read.  16 KiB rather than 64 KiB: a drained input
 * buffer frees its chain, and a 64 KiB reserve makes libevent allocate
 * 128 KiB (rounded up) on each read, which ASan serves with mmap and
 * munmap every time; the workers then spend half their time in TLB
 * flushes.  Large bodies still arrive whole, in more reads.
 */
#define READ_CHUNK	16384

struct conn {
	int			 fd;
	struct event		*rev;
	struct event		*wev;
	struct evbuffer		*in;
	struct evbuffer		*out;
	int			 connecting;
	int			 error;		/* errno to report */
	size_t			 drain_mark;
	int			 drain_watch;	/* DRAINED due at the mark */
	int			 paused;	/* not reading: back-pressure */
	conn_read_cb		 read_cb;
	conn_event_cb		 event_cb;
	void			*arg;
	struct trace		*trace;		/* milterctl trace; owned */
};

static void	on_read(evutil_socket_t, short, void *);
static void	on_write(evutil_socket_t, short, void *);

struct conn *
conn_new(struct event_base *base, int fd, int connecting,
    conn_read_cb read_cb, conn_event_cb event_cb, void *arg)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	c->connecting = connecting;
	c->read_cb = read_cb;
	c->event_cb = event_cb;
	c->arg = arg;
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (c->rev == NULL || c->wev == NULL || c->in == NULL ||
	    c->out == NULL) {
		c->fd = -1;
		conn_free(c);
		return NULL;
	}
	if (connecting)
		event_add(c->wev, NULL);
	else
		event_add(c->rev, NULL);
	return c;
}

/* Close the socket and free everything; pending output is dropped. */
void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	free(c->trace);
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

struct evbuffer *
conn_input(struct conn *c)
{
	return c->in;
}

int
conn_fd(struct conn *c)
{
	return c->fd;
}

/*
 * Write now what the socket takes, queue the rest.  A failure is kept
 * and reported through the event callback from the loop.
 */
void
conn_write(struct conn *c, const void *data, size_t len)
{
	ssize_t	n = 0;

	if (c->error)
		return;
	if (c->trace != NULL)
		trace_bytes(c->trace, 1, data, len);
	if (!c->connecting && evbuffer_get_length(c->out) == 0) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			c->error = errno;
			event_active(c->wev, EV_WRITE, 0);
			return;
		}
		if (n == -1)
			n = 0;
		if ((size_t)n == len)
			return;
	}
	if (evbuffer_add(c->out, (const char *)data + n, len - (size_t)n) ==
	    -1) {
		c->error = ENOMEM;
		event_active(c->wev, EV_WRITE, 0);
		return;
	}
	if (!c->connecting)
		event_add(c->wev, NULL);
}

/*
 * Hand the connection to another owner (pool.c keeps a child's between
 * sessions): its callbacks from now on.  A trace stays with the
 * session that asked for it.
 */
void
conn_rebind(struct conn *c, conn_read_cb read_cb, conn_event_cb event_cb,
    void *arg)
{
	c->read_cb = read_cb;
	c->event_cb = event_cb;
	c->arg = arg;
	conn_set_trace(c, NULL);
}

/* Log every packet from now on (trace.c); the conn owns t. */
void
conn_set_trace(struct conn *c, struct trace *t)
{
	free(c->trace);
	c->trace = t;
}

size_t
conn_pending(struct conn *c)
{
	return evbuffer_get_length(c->out);
}

/* Report CONN_DRAINED once when no more than mark bytes are queued. */
void
conn_notify_drained(struct conn *c, size_t mark)
{
	c->drain_mark = mark;
	c->drain_watch = 1;
	if (evbuffer_get_length(c->out) <= mark)
		event_active(c->wev, EV_WRITE, 0);
}

/*
 * Stop reading (paused) or read again.  A reader that does not take
 * what arrived pauses, so that a peer writing ahead fills its own
 * socket buffer rather than our memory.
 */
void
conn_pause(struct conn *c, int paused)
{
	if (c->connecting || c->paused == paused)
		return;
	c->paused = paused;
	if (paused)
		event_del(c->rev);
	else
		event_add(c->rev, NULL);
}

/* Try once to write what is queued, e.g. a last packet before a close. */
void
conn_flush(struct conn *c)
{
	if (!c->connecting && evbuffer_get_length(c->out) > 0)
		(void)evbuffer_write(c->out, c->fd);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer_iovec	 v;
	ssize_t			 n;

	(void)what;
	if (evbuffer_reserve_space(c->in, READ_CHUNK, &v, 1) != 1) {
		c->event_cb(c, CONN_ERROR, ENOMEM, c->arg);
		return;
	}
	n = read(fd, v.iov_base, v.iov_len);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		c->event_cb(c, n == 0 ? CONN_EOF : CONN_ERROR,
		    n == 0 ? 0 : errno, c->arg);
		return;
	}
	v.iov_len = (size_t)n;
	if (c->trace != NULL)
		trace_bytes(c->trace, 0, v.iov_base, v.iov_len);
	evbuffer_commit_space(c->in, &v, 1);
	c->read_cb(c, c->arg);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	(void)what;
	if (c->error) {
		c->event_cb(c, CONN_ERROR, c->error, c->arg);
		return;
	}
	if (c->connecting) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			c->event_cb(c, CONN_ERROR, err, c->arg);
			return;
		}
		c->connecting = 0;
		if (!c->paused)
			event_add(c->rev, NULL);
		if (evbuffer_get_length(c->out) == 0)
			event_del(c->wev);
		c->event_cb(c, CONN_CONNECTED, 0, c->arg);
		return;
	}
	if (evbuffer_get_length(c->out) > 0 &&
	    evbuffer_write(c->out, fd) == -1 && errno != EAGAIN &&
	    errno != EINTR) {
		c->event_cb(c, CONN_ERROR, errno, c->arg);
		return;
	}
	if (evbuffer_get_length(c->out) == 0)
		event_del(c->wev);
	if (c->drain_watch && evbuffer_get_length(c->out) <= c->drain_mark) {
		c->drain_watch = 0;
		c->event_cb(c, CONN_DRAINED, 0, c->arg);
	}
}
