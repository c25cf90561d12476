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
 * trace.c: `milterctl trace ADDRESS [SECONDS]'.
 *
 * The master writes the address and the time the trace ends into a
 * small MAP_SHARED table (TRACE_MAX entries) mapped before the workers
 * fork, as the counters are.  A worker looks there when a session gets
 * its connect command (trace_session(), from session.c): a session
 * from a traced address has its MTA connection and its children's
 * connections traced by conn.c, which hands every byte read and
 * written to trace_bytes().  That frames the stream (4-byte length,
 * command, payload) as it passes and logs each packet, at level info:
 * the session, the direction, the command's name, the length and the
 * first TRACE_PREVIEW bytes of the payload made printable.
 *
 * So a trace starts at the connect command, the first moment the
 * client's address is known: the negotiation before it is not logged,
 * nor a child's connection made after it (a retry while the launcher
 * starts the milter).
 */

#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "child.h"
#include "conn.h"
#include "log.h"
#include "milter.h"
#include "session.h"
#include "trace.h"
#include "util.h"

struct trace_table	*traces;

static void	trace_conn(struct conn *, const char *, const char *);
static void	trace_packet(const struct trace *, int, const struct trace_dir *);

/*
 * In the master: trace ADDRESS for SECONDS (NULL: TRACE_SECONDS) from
 * now; the same address again sets its end anew.  0, or -1 with what
 * is wrong in fp.
 */
int
trace_add(FILE *fp, const char *address, const char *seconds)
{
	struct trace_entry	*e, *slot = NULL;
	const char		*errstr;
	uint8_t			 addr[16];
	time_t			 now = time(NULL);
	long long		 secs = TRACE_SECONDS;
	int			 family;
	size_t			 i;

	memset(addr, 0, sizeof(addr));
	if (addr_parse(address, &family, addr) == -1) {
		fprintf(fp, "trace: \"%s\" is not an IPv4 or IPv6 address\n",
		    address);
		return -1;
	}
	if (seconds != NULL && (secs = strtonum(seconds, 1,
	    TRACE_SECONDS_MAX, &errstr), errstr != NULL)) {
		fprintf(fp, "trace: seconds \"%s\": from 1 to %d\n", seconds,
		    TRACE_SECONDS_MAX);
		return -1;
	}
	for (i = 0; i < TRACE_MAX; i++) {
		e = &traces->e[i];
		if (e->family == family && memcmp(e->addr, addr,
		    sizeof(addr)) == 0) {
			slot = e;
			break;
		}
		if (slot == NULL && (e->family == 0 || e->until <= now))
			slot = e;
	}
	if (slot == NULL) {
		fprintf(fp, "trace: %d addresses are traced already; wait "
		    "until one ends\n", TRACE_MAX);
		return -1;
	}
	/* The workers read the end last: the address goes in first. */
	__atomic_store_n(&slot->until, 0, __ATOMIC_RELEASE);
	memcpy(slot->addr, addr, sizeof(addr));
	__atomic_store_n(&slot->family, family, __ATOMIC_RELEASE);
	__atomic_store_n(&slot->until, (int64_t)(now + secs),
	    __ATOMIC_RELEASE);
	log_info("control: tracing new sessions from %s for %lld seconds",
	    address, secs);
	fprintf(fp, "tracing new sessions from %s for %lld seconds: their "
	    "packets are logged\n", address, secs);
	return 0;
}

static void
trace_conn(struct conn *conn, const char *id, const char *peer)
{
	struct trace	*t;

	if (conn == NULL)
		return;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("session %s: trace %s", id, peer);
		return;
	}
	strlcpy(t->id, id, sizeof(t->id));
	strlcpy(t->peer, peer, sizeof(t->peer));
	conn_set_trace(conn, t);
}

/* In a worker, at the connect command: is its client traced? */
void
trace_session(struct session *s, const struct milter_connect *c)
{
	const struct trace_entry	*e;
	char				 peer[96], host[256];
	uint8_t				 addr[16];
	time_t				 now = time(NULL);
	size_t				 i;
	int				 family;

	memset(addr, 0, sizeof(addr));
	if (traces == NULL || c->addr == NULL ||
	    addr_parse(c->addr, &family, addr) == -1)
		return;
	for (i = 0; i < TRACE_MAX; i++) {
		e = &traces->e[i];
		if (__atomic_load_n(&e->until, __ATOMIC_ACQUIRE) > now &&
		    __atomic_load_n(&e->family, __ATOMIC_ACQUIRE) == family &&
		    memcmp(e->addr, addr, sizeof(addr)) == 0)
			break;
	}
	if (i == TRACE_MAX)
		return;
	log_info("session %s: client %s traced (milterctl trace): every "
	    "packet from here on is logged", s->id, s->client);
	/* Read before the address was known: said from what it held. */
	str_printable(host, sizeof(host), c->host, strlen(c->host));
	log_info("session %s: trace MTA > milterd: connect (C): %s, family "
	    "%c, port %u, address %s", s->id, host, c->family >= ' ' &&
	    c->family < 0x7f ? c->family : '?', c->port, c->addr);
	trace_conn(s->mta, s->id, "MTA");
	for (i = 0; i < s->chain.nkids; i++) {
		snprintf(peer, sizeof(peer), "child %s", s->kids[i].mc->name);
		trace_conn(s->kids[i].conn, s->id, peer);
	}
}

static void
trace_packet(const struct trace *t, int out, const struct trace_dir *d)
{
	char	text[TRACE_PREVIEW + 1];

	str_printable(text, sizeof(text), d->preview, d->plen);
	/* "session 12.3: trace milterd > MTA: continue (c) 0 bytes" */
	log_info("session %s: trace %s > %s: %s (%c) %u bytes%s%s%s", t->id,
	    out ? "milterd" : t->peer, out ? t->peer : "milterd",
	    milter_code_name((char)d->hdr[4]), d->hdr[4] >= ' ' &&
	    d->hdr[4] < 0x7f ? d->hdr[4] : '?', d->len,
	    d->plen > 0 ? ": \"" : "", text, d->plen > 0 ? (d->plen < d->len ?
	    "\"..." : "\"") : "");
}

/*
 * Bytes read (out 0) or written (out 1) on a traced connection: each
 * packet is logged once its last byte has passed.
 */
void
trace_bytes(struct trace *t, int out, const void *data, size_t len)
{
	struct trace_dir	*d = &t->dir[out != 0];
	const uint8_t		*p = data;
	size_t			 n;

	while (len > 0) {
		if (d->hlen < sizeof(d->hdr)) {
			d->hdr[d->hlen++] = *p++;
			len--;
			if (d->hlen < sizeof(d->hdr))
				continue;
			d->len = (uint32_t)d->hdr[0] << 24 |
			    (uint32_t)d->hdr[1] << 16 |
			    (uint32_t)d->hdr[2] << 8 | d->hdr[3];
			/* The length counts the command byte. */
			d->len = d->len > 0 ? d->len - 1 : 0;
			d->left = d->len;
			d->plen = 0;
		} else {
			n = len < d->left ? len : d->left;
			if (d->plen < sizeof(d->preview)) {
				size_t	k = sizeof(d->preview) - d->plen;

				memcpy(d->preview + d->plen, p, n < k ? n : k);
				d->plen += n < k ? n : k;
			}
			d->left -= (uint32_t)n;
			p += n;
			len -= n;
		}
		if (d->left == 0) {
			trace_packet(t, out, d);
			d->hlen = 0;
		}
	}
}
