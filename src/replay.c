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
 * replay.c: the kept message at end of message (session.c's part).
 * A cursor (struct replay) gives a child the message as the children
 * before it left it, and the MTA a replaced body; one loop, pump(),
 * writes either, up to the next packet whose reply is awaited, with at
 * most REPLAY_BATCH bytes queued on the connection: past that it waits
 * for the reader to drain half of it.  A child's modifications are
 * applied to the copy here and queued for the MTA.
 */

#include <sys/types.h>

#include <string.h>

#include "log.h"
#include "session.h"

/* At most this much replay or replaced body queued on a connection. */
#define REPLAY_BATCH	(256 * 1024)

/* Where a pump stopped. */
enum pump {
	PUMP_DONE,		/* all of it written */
	PUMP_WAITING,		/* a reply is awaited */
	PUMP_STALLED,		/* the reader is to drain first */
	PUMP_ERROR		/* the kept body could not be read */
};

static int	body_packet(struct session *, struct replay *);
static void	flush(struct session *, struct child *, char);
static enum pump pump(struct session *, struct child *, struct replay *);
static int	add_edit(struct session *, const struct child *,
		    const struct milter_pkt *, size_t, int *, const char **);

/*
 * The next packet of the message for child c, from its cursor, added
 * to s->out: headers, end of headers, body pieces, end of message, as
 * it negotiated them.  Its code, or 0 when all is sent.
 */
int
replay_packet(struct session *s, struct child *c, struct replay *r)
{
	const struct mhdr	*h;
	struct milter_header	 mh;
	uint8_t			 chunk[MILTER_CHUNK_SIZE];
	ssize_t			 n;

	for (;;)
		switch (r->step) {
		case REPLAY_HEADERS:
			if (r->hdr == s->msg.nhdrs ||
			    !milter_cmd_sent(&c->eff, SMFIC_HEADER)) {
				r->step = REPLAY_EOH;
				continue;
			}
			h = &s->msg.hdrs[r->hdr++];
			mh.name = h->name;
			mh.value = h->value;
			if (!c->leadspc && mh.value[0] == ' ')
				mh.value++;
			milter_put_header(&s->out, SMFIC_HEADER, &mh);
			return SMFIC_HEADER;
		case REPLAY_EOH:
			r->step = REPLAY_BODY;
			if (!milter_cmd_sent(&c->eff, SMFIC_EOH))
				continue;
			macros_for_child(&s->mac, &s->out, SMFIC_EOH,
			    c->eff.macros, c->mc->macros_compat);
			milter_put_empty(&s->out, SMFIC_EOH);
			return SMFIC_EOH;
		case REPLAY_BODY:
			/* A body that cannot be read ends there. */
			n = milter_cmd_sent(&c->eff, SMFIC_BODY) ?
			    spool_read(&s->msg.body, r->off, chunk,
			    sizeof(chunk)) : 0;
			if (n <= 0) {
				r->step = REPLAY_EOM;
				continue;
			}
			r->off += (size_t)n;
			milter_put_body(&s->out, SMFIC_BODY, chunk, (size_t)n, 0);
			return SMFIC_BODY;
		case REPLAY_EOM:
			r->step = REPLAY_SENT;
			macros_for_child(&s->mac, &s->out, SMFIC_BODYEOB,
			    c->eff.macros, c->mc->macros_compat);
			milter_put_empty(&s->out, SMFIC_BODYEOB);
			return SMFIC_BODYEOB;
		default:
			return 0;
		}
}

/*
 * The next piece of the replaced body for the MTA, added to s->out;
 * its code, 0 when all is sent (the last piece is short, maybe empty),
 * -1 if the body could not be read.
 */
static int
body_packet(struct session *s, struct replay *r)
{
	uint8_t	chunk[MILTER_CHUNK_SIZE];
	ssize_t	n;

	if (r->step == REPLAY_SENT)
		return 0;
	if ((n = spool_read(&s->msg.body, r->off, chunk, sizeof(chunk))) ==
	    -1)
		return -1;
	milter_put_body(&s->out, SMFIR_REPLBODY, chunk, (size_t)n, 0);
	r->off += (size_t)n;
	if ((size_t)n < sizeof(chunk))
		r->step = REPLAY_SENT;
	return SMFIR_REPLBODY;
}

/* What s->out holds, to the child (no reply awaited) or the MTA. */
static void
flush(struct session *s, struct child *c, char last)
{
	if (s->out.len == 0)
		return;
	if (c != NULL)
		child_send_mbuf(c, &s->out, last, 0);
	else
		conn_write(s->mta, s->out.data, s->out.len);
	mbuf_reset(&s->out);
}

/* The message from cursor r to child c, or the replaced body (c NULL). */
static enum pump
pump(struct session *s, struct child *c, struct replay *r)
{
	struct conn	*conn = c != NULL ? c->conn : s->mta;
	int		 code, last = 0;

	mbuf_reset(&s->out);
	for (;;) {
		if (s->out.len >= REPLAY_BATCH)
			flush(s, c, last);
		if (conn_pending(conn) >= REPLAY_BATCH) {
			flush(s, c, last);
			if (c != NULL)
				child_wait_drain(c, REPLAY_BATCH / 2);
			else
				conn_notify_drained(conn, REPLAY_BATCH / 2);
			return PUMP_STALLED;
		}
		code = c != NULL ? replay_packet(s, c, r) : body_packet(s, r);
		if (code <= 0) {
			flush(s, c, last);
			return code == 0 ? PUMP_DONE : PUMP_ERROR;
		}
		last = code;
		if (c != NULL && milter_cmd_replied(&c->eff, last)) {
			child_send_mbuf(c, &s->out, last, 1);
			return PUMP_WAITING;
		}
	}
}

/* The chain's ACT_REPLAY: the child's reply, or its drain, comes next. */
void
replay_child(struct session *s, struct child *c, struct replay *r)
{
	if (child_live(c))
		(void)pump(s, c, r);
}

/* The replaced body to the MTA, from s->body; again when it drained. */
void
replay_body(struct session *s)
{
	switch (pump(s, NULL, &s->body)) {
	case PUMP_ERROR:
		log_warn("session %s: cannot read the kept body", s->id);
		chain_body_sent(&s->chain, 0);
		break;
	case PUMP_DONE:
		chain_body_sent(&s->chain, 1);
		break;
	default:
		return;
	}
	session_run(s);
}

/*
 * Apply a child's modifications to the copy and queue them for the
 * MTA.  On failure none of them reach the MTA and the child is failed.
 */
int
take_edits(struct session *s, struct child *c, int *replaced)
{
	const struct mbuf	*e = &s->chain.kids[c->idx].edits;
	struct milter_pkt	 pkt;
	const char		*err = "cannot keep replaced body";
	size_t			 off = 0, used, before = s->edits.len;
	int			 rc = 0;

	/* Its body came into the copy as it arrived (child_edit()). */
	if (s->repl_owner != c->idx + 1)
		message_edits_cancel(&s->msg);
	else if (s->repl_err != NULL) {
		err = s->repl_err;
		rc = -1;
	}
	s->repl_owner = 0;
	s->repl_err = NULL;

	while (rc == 0 && off < e->len && milter_frame(e->data + off,
	    e->len - off, PACKET_MAX, &pkt, &used) == MILTER_FRAME_OK) {
		off += used;
		rc = add_edit(s, c, &pkt, used, replaced, &err);
	}
	if (rc == -1 || message_edits_done(&s->msg) == -1) {
		s->edits.len = before;
		message_edits_cancel(&s->msg);
		child_fail(c, "eom: %s", err);
		return -1;
	}
	return 0;
}

/*
 * One modification: applied to the copy, queued for the MTA, header
 * values translated between the two leading-space conventions.
 */
static int
add_edit(struct session *s, const struct child *c,
    const struct milter_pkt *pkt, size_t used, int *replaced,
    const char **err)
{
	struct milter_reply	 r;
	struct milter_header	 h;
	const char		*v;
	size_t			 start;

	if (milter_decode_reply(pkt, &r, err) == -1)
		return -1;
	/* A body piece was applied as it came: an empty one stands in. */
	if (r.code != SMFIR_REPLBODY &&
	    message_apply(&s->msg, &r, c->leadspc, err) == -1)
		return -1;
	switch (r.code) {
	case SMFIR_REPLBODY:
		*replaced = 1;
		break;
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		h = r.u.header;
		v = chain_header_value(h.value, c->leadspc, s->mta_leadspc);
		start = milter_begin(&s->edits, r.code);
		if (r.code != SMFIR_ADDHEADER)
			milter_add_u32(&s->edits, h.index);
		milter_add_str(&s->edits, h.name);
		if (v == NULL) {
			milter_add_bytes(&s->edits, " ", 1);
			v = h.value;
		}
		milter_add_str(&s->edits, v);
		milter_end(&s->edits, start);
		break;
	default:
		mbuf_append(&s->edits, pkt->data - 5, used);
		break;
	}
	return 0;
}

/*
 * A modification: the chain checks and keeps it, except a replaced
 * body's pieces, which go to the copy's new body as they come
 * (msg.newbody, spooled past body_memory_limit like the MTA's body):
 * the chain keeps an empty piece in their place, which take_edits()
 * knows.  A body left there by a child whose edits were not taken
 * (failed, evaluated, refused) is dropped when another's comes.
 */
const char *
keep_edit(struct session *s, struct child *c, char code, const void *pkt,
    size_t len)
{
	static const uint8_t	 mark[] = { 0, 0, 0, 1, SMFIR_REPLBODY };
	struct milter_pkt	 p;
	struct milter_reply	 r;
	const char		*err;
	size_t			 used;

	if (code != SMFIR_REPLBODY) {
		if ((err = chain_edit(&s->chain, c->idx, code, pkt, len)) ==
		    NULL && s->repl_owner == c->idx + 1)
			message_edit_seen(&s->msg);
		return err;
	}
	if ((err = chain_edit(&s->chain, c->idx, code, mark,
	    sizeof(mark))) != NULL)
		return err;
	if (s->repl_owner != c->idx + 1) {
		message_edits_cancel(&s->msg);
		s->repl_owner = c->idx + 1;
		s->repl_bytes = 0;
		s->repl_err = NULL;
	}
	if (milter_frame(pkt, len, PACKET_MAX, &p, &used) !=
	    MILTER_FRAME_OK || milter_decode_reply(&p, &r, &err) == -1)
		return "malformed";
	/* What the copy cannot take fails the child when it is taken. */
	if (s->repl_err == NULL &&
	    message_apply(&s->msg, &r, c->leadspc, &err) == -1)
		s->repl_err = err;
	s->repl_bytes += r.u.body.len;
	return NULL;
}
