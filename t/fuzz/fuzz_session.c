/*
 * fuzz_session.c: libFuzzer target for the session state machine
 * (src/session.c and src/child.c, with the codec, the chain engine and
 * the kept message), fed a scripted stream of MTA packets and child
 * replies.  No sockets: conn.c is replaced by the in-memory connections
 * below, sockspec_connect() by a descriptor of /dev/null (linked with
 * --wrap), the disconnect check and DNS by stand-ins that do nothing;
 * the session's host (the worker) is the driver's own, and launches
 * nothing.
 *
 * Input: one byte of setup, then steps until the input ends:
 *
 *   setup   bits 0-1: children (1 to 3); bit 2: dispatch parallel;
 *           bits 3-4: each child's fallback; bit 5: body_memory_limit
 *           of 64 bytes (the body goes to the spool); bit 6: child 1
 *           in evaluation mode; bit 7: max_headers 3, max_header_bytes
 *           64, max_recipients 2
 *   step    op byte, then for data ops a 2-byte big-endian length
 *           and that many bytes:
 *             op % 5 == 0  bytes from the MTA
 *             op % 5 == 1  bytes from child (op / 5) % children
 *             op % 5 == 2  that child closes its connection
 *             op % 5 == 3  the MTA closes its connection (the end)
 *             op % 5 == 4  that child's connect fails
 *
 * After each step the event loop runs once without blocking, for the
 * session's deferred events.  Timers (the children's timeouts) never
 * fire here: t/faults.sh covers them.  Seeds: t/fuzz/session-seeds.py
 * makes them from the captured sessions in t/fixtures.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <syslog.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "dns.h"
#include "log.h"
#include "session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	__wrap_sockspec_connect(const struct sockspec *, int);

#define MAX_CONNS	16

struct conn {
	int		 fd;
	int		 connecting;	/* CONNECTED owed */
	int		 failed;	/* ERROR owed (connect refused) */
	int		 drain_watch;	/* DRAINED owed */
	int		 paused;	/* conn_pause(): not read */
	int		 readable;	/* a read owed since resumed */
	struct evbuffer	*in;
	struct evbuffer	*held;		/* sent while paused: the kernel's */
	conn_read_cb	 read_cb;
	conn_event_cb	 event_cb;
	void		*arg;
};

static struct conn	*conns[MAX_CONNS];	/* [0]: the MTA's */
static struct session	*sess;
static int		 devnull = -1;

/* --- conn.c, in memory ------------------------------------------------- */

struct conn *
conn_new(struct event_base *base, int fd, int connecting,
    conn_read_cb read_cb, conn_event_cb event_cb, void *arg)
{
	struct conn	*c;
	size_t		 i;

	(void)base;
	for (i = 0; i < MAX_CONNS && conns[i] != NULL; i++)
		;
	if (i == MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->in = evbuffer_new()) == NULL ||
	    (c->held = evbuffer_new()) == NULL) {
		if (c->in != NULL)
			evbuffer_free(c->in);
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->connecting = connecting;
	c->read_cb = read_cb;
	c->event_cb = event_cb;
	c->arg = arg;
	conns[i] = c;
	return c;
}

void
conn_free(struct conn *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
	evbuffer_free(c->in);
	evbuffer_free(c->held);
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

/* What milterd writes goes nowhere, at once. */
void
conn_write(struct conn *c, const void *data, size_t len)
{
	(void)c;
	(void)data;
	(void)len;
}

void
conn_flush(struct conn *c)
{
	(void)c;
}

size_t
conn_pending(struct conn *c)
{
	(void)c;
	return 0;
}

void
conn_notify_drained(struct conn *c, size_t mark)
{
	(void)mark;
	c->drain_watch = 1;
}

/*
 * Back-pressure: while paused, what the driver delivers is held as
 * the kernel would, and read once resumed.
 */
void
conn_pause(struct conn *c, int paused)
{
	c->paused = paused;
	if (!paused && evbuffer_get_length(c->held) > 0) {
		evbuffer_add_buffer(c->in, c->held);
		c->readable = 1;
	}
}

/* No trace table is mapped here: never called, but linked (trace.c). */
void
conn_set_trace(struct conn *c, struct trace *t)
{
	(void)c;
	free(t);
}

/* The harness gives its sessions no pool (pool.c): never called. */
void
conn_rebind(struct conn *c, conn_read_cb read_cb, conn_event_cb event_cb,
    void *arg)
{
	(void)c;
	(void)read_cb;
	(void)event_cb;
	(void)arg;
	abort();
}

/* --- Stand-ins for the rest of the worker ------------------------------- */

int
__wrap_sockspec_connect(const struct sockspec *sp, int nonblock)
{
	(void)sp;
	(void)nonblock;
	return dup(devnull);
}

void
conncheck_submit(struct conncheck_item *it)
{
	(void)it;
}

void
conncheck_cancel(struct conncheck_item *it)
{
	(void)it;
}

int
conncheck_tuple(struct conn_tuple *t, char family, const char *addr,
    uint16_t port, const char *laddr, const char *lport)
{
	(void)t;
	(void)family;
	(void)addr;
	(void)port;
	(void)laddr;
	(void)lport;
	return -1;
}

int
dns_cached(const char *name, struct dns_answer *ans)
{
	(void)name;
	(void)ans;
	return 0;
}

struct dns_query *
dns_query(const char *name, dns_done_cb cb, void *arg)
{
	(void)name;
	(void)cb;
	(void)arg;
	return NULL;
}

void
dns_cancel(struct dns_query *q)
{
	(void)q;
}

/* --- The session's host: what the worker does for it ---------------------- */

static void
host_done(struct session *s)
{
	session_free(s);
	sess = NULL;
}

/* One session at a time: nothing needs the room it holds. */
static void
host_lingers(struct session *s)
{
	(void)s;
}

static int
host_launch(const struct milter_conf *mc)
{
	(void)mc;
	return -1;
}

static const char *
host_launch_refused(const struct milter_conf *mc)
{
	(void)mc;
	return NULL;
}

static const struct session_host	host = {
	{ host_launch, host_launch_refused },
	host_done,
	host_lingers,
	NULL,
};

/* --- The driver ----------------------------------------------------------- */

/* The n-th child connection, or NULL. */
static struct conn *
child_conn(size_t n)
{
	size_t	i;

	for (i = 1; i < MAX_CONNS; i++)
		if (conns[i] != NULL && n-- == 0)
			return conns[i];
	return NULL;
}

/*
 * Events a real connection would report from the loop: connected,
 * refused, drained.  One at a time: a callback may free connections.
 */
static int
owed_event(void)
{
	struct conn	*c;
	size_t		 i;

	for (i = 0; i < MAX_CONNS && sess != NULL; i++) {
		if ((c = conns[i]) == NULL)
			continue;
		if (c->failed) {
			c->failed = c->connecting = 0;
			c->event_cb(c, CONN_ERROR, ECONNREFUSED, c->arg);
			return 1;
		}
		if (c->connecting) {
			c->connecting = 0;
			c->event_cb(c, CONN_CONNECTED, 0, c->arg);
			return 1;
		}
		if (c->readable && !c->paused) {
			c->readable = 0;
			c->read_cb(c, c->arg);
			return 1;
		}
		if (c->drain_watch) {
			c->drain_watch = 0;
			c->event_cb(c, CONN_DRAINED, 0, c->arg);
			return 1;
		}
	}
	return 0;
}

static void
settle(struct event_base *base)
{
	int	n;

	for (n = 0; n < 64 && sess != NULL; n++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (!owed_event())
			break;
	}
}

static void
deliver(struct conn *c, const uint8_t *p, size_t len)
{
	if (c == NULL)
		return;
	/* Paused: the bytes wait in the socket, and nothing is read. */
	if (c->paused) {
		(void)evbuffer_add(c->held, p, len);
		return;
	}
	if (evbuffer_add(c->in, p, len) == -1)
		return;
	c->read_cb(c, c->arg);
}

static void
conf_make(struct conf *cf, struct milter_conf *mc, uint8_t setup)
{
	static const char	*names[] = { "fz0", "fz1", "fz2" };
	/* macros_add and the derived macros, in the first child's D. */
	static char		*add[] = { "{fz}=1", "{milterd_stress}",
				    "{milterd_conditions}" };
	char			 err[128];
	size_t			 i;

	memset(cf, 0, sizeof(*cf));
	cf->nmilters = 1 + (setup & 3) % 3;
	cf->dispatch = (setup & 4) ? DISPATCH_PARALLEL : DISPATCH_SEQUENTIAL;
	cf->body_memory_limit = (setup & 32) ? 64 : 1 << 20;
	cf->spool_dir = "/tmp";
	cf->progress_interval = 5;
	cf->mta_timeout = 3600;
	/* Small per-message bounds, met by short inputs. */
	cf->max_headers = (setup & 128) ? 3 : CONF_MAX_HEADERS;
	cf->max_header_bytes = (setup & 128) ? 64 : CONF_MAX_HEADER_BYTES;
	cf->max_recipients = (setup & 128) ? 2 : CONF_MAX_RECIPIENTS;
	cf->fallback = FALLBACK_TEMPFAIL;
	cf->milters = mc;
	for (i = 0; i < cf->nmilters; i++) {
		memset(&mc[i], 0, sizeof(mc[i]));
		mc[i].name = (char *)(uintptr_t)names[i];
		/* failures_to_down 0: health off, each session on its own. */
		if (sockspec_parse("unix:/nonexistent/fz.sock", &mc[i].sock[0],
		    err, sizeof(err)) == -1)
			abort();
		mc[i].nsock = 1;
		mc[i].enabled = 1;
		mc[i].evaluation = i == 1 && (setup & 64);
		mc[i].fallback = (enum fallback)(((setup >> 3) + i) % 3);
		mc[i].connect_timeout = mc[i].command_timeout = 10;
		mc[i].eom_timeout = 300;
		if (i == 0 && (setup & 16)) {
			mc[i].macros_add = add;
			mc[i].nmacros_add = sizeof(add) / sizeof(add[0]);
		}
		if ((mc[i].stats = stats_child(stats, names[i])) == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base	*base;
	struct conf			 cf;
	struct milter_conf		 mc[3];
	struct conn			*c;
	size_t				 off = 1, len, i;
	uint8_t				 op;

	if (size < 1)
		return 0;
	if (base == NULL) {
		log_init(0, LOG_DAEMON);
		if ((devnull = open("/dev/null", O_RDWR)) == -1 ||
		    (stats = stats_map()) == NULL ||
		    (base = event_base_new()) == NULL)
			abort();
	}
	conf_make(&cf, mc, data[0]);
	if ((sess = session_new(base, &cf, &host, dup(devnull), "1.1", 1)) == NULL)
		return 0;
	settle(base);
	while (sess != NULL && off < size) {
		op = data[off++];
		len = 0;
		if (op % 5 <= 1) {
			if (size - off < 2)
				break;
			len = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (len > size - off)
				len = size - off;
		}
		c = child_conn((op / 5) % cf.nmilters);
		switch (op % 5) {
		case 0:
			deliver(conns[0], data + off, len);
			break;
		case 1:
			deliver(c, data + off, len);
			break;
		case 2:
			if (c != NULL)
				c->event_cb(c, CONN_EOF, 0, c->arg);
			break;
		case 3:
			conns[0]->event_cb(conns[0], CONN_EOF, 0, conns[0]->arg);
			break;
		case 4:
			if (c != NULL && c->connecting)
				c->failed = 1;
			break;
		}
		off += len;
		settle(base);
	}
	if (sess != NULL)
		conns[0]->event_cb(conns[0], CONN_EOF, 0, conns[0]->arg);
	settle(base);
	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] != NULL)
			abort();	/* a connection the session forgot */
	return 0;
}
