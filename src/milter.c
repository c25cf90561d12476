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
 * milter.c: the milter wire codec, both directions, no I/O.
 *
 * milter_frame() finds one packet in a buffer that may hold less, exactly
 * one or several packets; it never reads past the given length and
 * refuses a zero length or one over the caller's payload limit before
 * the payload has arrived.  Decoders check every string for its NUL and
 * every payload for its exact shape, and return -1 with a static error
 * text otherwise.  Encoders append to a struct mbuf; an allocation
 * failure is remembered in the mbuf and reported by milter_end().
 */

#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "milter.h"

#define MBUF_MIN	256

static int	decode_strv(const uint8_t *, size_t, struct milter_strv *);
static int	decode_str(const uint8_t *, size_t, size_t *,
		    const char **);
static int	decode_optneg(const struct milter_pkt *,
		    struct milter_optneg *, int, const char **);
static int	decode_connect(const struct milter_pkt *,
		    struct milter_connect *, const char **);
static int	decode_header(const uint8_t *, size_t, int,
		    struct milter_header *, const char **);
static int	decode_addr(const struct milter_pkt *, struct milter_reply *,
		    const char **);
static uint32_t	get_u32(const uint8_t *);
static int	unless_empty(const struct milter_pkt *, const char **);

/*
 * Framing.
 */

int
milter_frame(const void *buf, size_t len, size_t max_payload,
    struct milter_pkt *pkt, size_t *used)
{
	const uint8_t	*p = buf;
	uint32_t	 plen;

	if (len < 4)
		return MILTER_FRAME_SHORT;
	plen = get_u32(p);
	if (plen == 0)
		return MILTER_FRAME_ZERO;
	if (plen - 1 > max_payload)
		return MILTER_FRAME_BIG;
	if (len - 4 < plen)
		return MILTER_FRAME_SHORT;
	pkt->code = (char)p[4];
	pkt->data = p + 5;
	pkt->len = plen - 1;
	*used = 4 + (size_t)plen;
	return MILTER_FRAME_OK;
}

const char *
milter_frame_strerror(int rc)
{
	switch (rc) {
	case MILTER_FRAME_ZERO:
		return "packet length is zero";
	case MILTER_FRAME_BIG:
		return "packet length over the limit";
	default:
		return "no error";
	}
}

/*
 * Decoding.
 */

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

/* A payload of NUL-terminated strings, the last one ending the payload. */
static int
decode_strv(const uint8_t *p, size_t len, struct milter_strv *sv)
{
	size_t	i;

	sv->buf = (const char *)p;
	sv->len = len;
	sv->count = 0;
	if (len > 0 && p[len - 1] != '\0')
		return -1;
	for (i = 0; i < len; i++)
		if (p[i] == '\0')
			sv->count++;
	return 0;
}

/* One NUL-terminated string at *off; advances *off past its NUL. */
static int
decode_str(const uint8_t *p, size_t len, size_t *off, const char **s)
{
	const uint8_t	*nul;

	if (*off >= len)
		return -1;
	nul = memchr(p + *off, '\0', len - *off);
	if (nul == NULL)
		return -1;
	*s = (const char *)p + *off;
	*off = (size_t)(nul - p) + 1;
	return 0;
}

int
milter_strv_next(const struct milter_strv *sv, size_t *off, const char **s)
{
	if (*off >= sv->len)
		return 0;
	*s = sv->buf + *off;
	*off += strlen(*s) + 1;
	return 1;
}

/* The i-th string of a run, or NULL. */
const char *
milter_strv_get(const struct milter_strv *sv, size_t idx)
{
	size_t		 off = 0, i = 0;
	const char	*s;

	while (milter_strv_next(sv, &off, &s))
		if (i++ == idx)
			return s;
	return NULL;
}

static int
unless_empty(const struct milter_pkt *pkt, const char **err)
{
	if (pkt->len != 0) {
		*err = "unexpected payload";
		return -1;
	}
	return 0;
}

/*
 * An O packet: 12 bytes, then (reply only) pairs of u32 stage and a
 * macro list.  Unknown stages are skipped, as Postfix does.
 */
static int
decode_optneg(const struct milter_pkt *pkt, struct milter_optneg *o,
    int is_reply, const char **err)
{
	size_t		 off = 12;
	uint32_t	 stage;
	const char	*list;

	memset(o, 0, sizeof(*o));
	if (pkt->len < 12 || (!is_reply && pkt->len != 12)) {
		*err = "negotiation packet of wrong size";
		return -1;
	}
	o->version = get_u32(pkt->data);
	o->actions = get_u32(pkt->data + 4);
	o->protocol = get_u32(pkt->data + 8);
	while (off < pkt->len) {
		if (pkt->len - off < 4) {
			*err = "truncated macro stage";
			return -1;
		}
		stage = get_u32(pkt->data + off);
		off += 4;
		if (decode_str(pkt->data, pkt->len, &off, &list) == -1) {
			*err = "unterminated macro list";
			return -1;
		}
		if (stage < SMFIM_COUNT)
			o->macros[stage] = list;
	}
	return 0;
}

static int
decode_connect(const struct milter_pkt *pkt, struct milter_connect *c,
    const char **err)
{
	size_t	off = 0;

	memset(c, 0, sizeof(*c));
	if (decode_str(pkt->data, pkt->len, &off, &c->host) == -1 ||
	    off >= pkt->len) {
		*err = "truncated connect";
		return -1;
	}
	c->family = (char)pkt->data[off++];
	switch (c->family) {
	case SMFIA_UNKNOWN:
		if (off != pkt->len) {
			*err = "trailing data after unknown family";
			return -1;
		}
		return 0;
	case SMFIA_UNIX:
	case SMFIA_INET:
	case SMFIA_INET6:
		break;
	default:
		*err = "unknown address family";
		return -1;
	}
	if (pkt->len - off < 2) {
		*err = "truncated connect port";
		return -1;
	}
	c->port = (uint16_t)(pkt->data[off] << 8 | pkt->data[off + 1]);
	off += 2;
	if (decode_str(pkt->data, pkt->len, &off, &c->addr) == -1 ||
	    off != pkt->len) {
		*err = "bad connect address";
		return -1;
	}
	return 0;
}

/* name, value, and for 'i'/'m' a leading u32 index: nothing more. */
static int
decode_header(const uint8_t *p, size_t len, int indexed,
    struct milter_header *h, const char **err)
{
	size_t	off = 0;

	memset(h, 0, sizeof(*h));
	if (indexed) {
		if (len < 4) {
			*err = "truncated header index";
			return -1;
		}
		h->index = get_u32(p);
		off = 4;
	}
	if (decode_str(p, len, &off, &h->name) == -1 ||
	    decode_str(p, len, &off, &h->value) == -1 || off != len) {
		*err = "malformed header";
		return -1;
	}
	if (h->name[0] == '\0') {
		*err = "empty header name";
		return -1;
	}
	return 0;
}

int
milter_decode_cmd(const struct milter_pkt *pkt, struct milter_cmd *cmd,
    const char **err)
{
	size_t	off = 0;

	memset(cmd, 0, sizeof(*cmd));
	cmd->code = pkt->code;
	switch (pkt->code) {
	case SMFIC_ABORT:
	case SMFIC_BODYEOB:
	case SMFIC_QUIT_NC:
	case SMFIC_EOH:
	case SMFIC_QUIT:
	case SMFIC_DATA:
		return unless_empty(pkt, err);
	case SMFIC_OPTNEG:
		return decode_optneg(pkt, &cmd->u.optneg, 0, err);
	case SMFIC_CONNECT:
		return decode_connect(pkt, &cmd->u.connect, err);
	case SMFIC_MACRO:
		if (pkt->len < 1) {
			*err = "macro packet without stage";
			return -1;
		}
		cmd->u.macro.stage = (char)pkt->data[0];
		if (decode_strv(pkt->data + 1, pkt->len - 1,
		    &cmd->u.macro.pairs) == -1 ||
		    cmd->u.macro.pairs.count % 2 != 0) {
			*err = "malformed macro list";
			return -1;
		}
		return 0;
	case SMFIC_HELO:
	case SMFIC_UNKNOWN:
		if (decode_str(pkt->data, pkt->len, &off, &cmd->u.str) == -1 ||
		    off != pkt->len) {
			*err = "malformed string";
			return -1;
		}
		return 0;
	case SMFIC_MAIL:
	case SMFIC_RCPT:
		if (decode_strv(pkt->data, pkt->len, &cmd->u.args) == -1 ||
		    cmd->u.args.count == 0) {
			*err = "malformed address";
			return -1;
		}
		return 0;
	case SMFIC_HEADER:
		return decode_header(pkt->data, pkt->len, 0, &cmd->u.header,
		    err);
	case SMFIC_BODY:
		cmd->u.body.data = pkt->data;
		cmd->u.body.len = pkt->len;
		return 0;
	default:
		*err = "unknown command";
		return -1;
	}
}

/* 'e' and '2': an address and optionally one string of ESMTP args. */
static int
decode_addr(const struct milter_pkt *pkt, struct milter_reply *r,
    const char **err)
{
	size_t	off = 0;

	if (decode_str(pkt->data, pkt->len, &off, &r->u.addr.addr) == -1) {
		*err = "malformed address";
		return -1;
	}
	if (off < pkt->len &&
	    decode_str(pkt->data, pkt->len, &off, &r->u.addr.args) == -1) {
		*err = "malformed ESMTP arguments";
		return -1;
	}
	if (off != pkt->len) {
		*err = "trailing data after ESMTP arguments";
		return -1;
	}
	return 0;
}

int
milter_decode_reply(const struct milter_pkt *pkt, struct milter_reply *r,
    const char **err)
{
	size_t	off = 0;

	memset(r, 0, sizeof(*r));
	r->code = pkt->code;
	switch (pkt->code) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_DISCARD:
	case SMFIR_PROGRESS:
	case SMFIR_REJECT:
	case SMFIR_SKIP:
	case SMFIR_TEMPFAIL:
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		return unless_empty(pkt, err);
	case SMFIR_OPTNEG:
		return decode_optneg(pkt, &r->u.optneg, 1, err);
	case SMFIR_REPLYCODE:
	case SMFIR_QUARANTINE:
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
		if (decode_str(pkt->data, pkt->len, &off, &r->u.str) == -1 ||
		    off != pkt->len) {
			*err = "malformed string";
			return -1;
		}
		return 0;
	case SMFIR_CHGFROM:
	case SMFIR_ADDRCPT_PAR:
		return decode_addr(pkt, r, err);
	case SMFIR_ADDHEADER:
		return decode_header(pkt->data, pkt->len, 0, &r->u.header,
		    err);
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		return decode_header(pkt->data, pkt->len, 1, &r->u.header,
		    err);
	case SMFIR_REPLBODY:
		r->u.body.data = pkt->data;
		r->u.body.len = pkt->len;
		return 0;
	default:
		*err = "unknown reply";
		return -1;
	}
}

/*
 * Encoding.
 */

void
mbuf_init(struct mbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
mbuf_free(struct mbuf *b)
{
	free(b->data);
	mbuf_init(b);
}

/* Forget the contents, keep the memory for the next packets. */
void
mbuf_reset(struct mbuf *b)
{
	b->len = 0;
	b->err = 0;
}

int
mbuf_append(struct mbuf *b, const void *p, size_t n)
{
	uint8_t	*nd;
	size_t	 ncap;

	if (b->err)
		return -1;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = 1;
		return -1;
	}
	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : MBUF_MIN;
		while (ncap < b->len + n)
			ncap *= 2;
		if ((nd = realloc(b->data, ncap)) == NULL) {
			b->err = 1;
			return -1;
		}
		b->data = nd;
		b->cap = ncap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* Start a packet; returns its offset, to be given to milter_end(). */
size_t
milter_begin(struct mbuf *b, char code)
{
	size_t	start = b->len;
	uint8_t	hdr[5] = { 0, 0, 0, 0, (uint8_t)code };

	mbuf_append(b, hdr, sizeof(hdr));
	return start;
}

void
milter_add_u8(struct mbuf *b, uint8_t v)
{
	mbuf_append(b, &v, 1);
}

void
milter_add_u16(struct mbuf *b, uint16_t v)
{
	v = htons(v);
	mbuf_append(b, &v, sizeof(v));
}

void
milter_add_u32(struct mbuf *b, uint32_t v)
{
	v = htonl(v);
	mbuf_append(b, &v, sizeof(v));
}

void
milter_add_str(struct mbuf *b, const char *s)
{
	mbuf_append(b, s, strlen(s) + 1);
}

void
milter_add_bytes(struct mbuf *b, const void *p, size_t n)
{
	mbuf_append(b, p, n);
}

/* Patch the packet's length; -1 if anything failed since begin. */
int
milter_end(struct mbuf *b, size_t start)
{
	size_t		len;
	uint32_t	nlen;

	if (b->err)
		return -1;
	len = b->len - start - 4;
	if (len > UINT32_MAX) {
		b->err = 1;
		return -1;
	}
	nlen = htonl((uint32_t)len);
	memcpy(b->data + start, &nlen, sizeof(nlen));
	return 0;
}

int
milter_put_empty(struct mbuf *b, char code)
{
	return milter_end(b, milter_begin(b, code));
}

int
milter_put_str(struct mbuf *b, char code, const char *s)
{
	return milter_put_strs(b, code, &s, 1);
}

int
milter_put_strs(struct mbuf *b, char code, const char *const *sv, size_t n)
{
	size_t	start, i;

	start = milter_begin(b, code);
	for (i = 0; i < n; i++)
		milter_add_str(b, sv[i]);
	return milter_end(b, start);
}

int
milter_put_optneg(struct mbuf *b, const struct milter_optneg *o)
{
	size_t		start;
	uint32_t	stage;

	start = milter_begin(b, SMFIC_OPTNEG);
	milter_add_u32(b, o->version);
	milter_add_u32(b, o->actions);
	milter_add_u32(b, o->protocol);
	for (stage = 0; stage < SMFIM_COUNT; stage++) {
		if (o->macros[stage] == NULL)
			continue;
		milter_add_u32(b, stage);
		milter_add_str(b, o->macros[stage]);
	}
	return milter_end(b, start);
}

int
milter_put_connect(struct mbuf *b, const struct milter_connect *c)
{
	size_t	start;

	start = milter_begin(b, SMFIC_CONNECT);
	milter_add_str(b, c->host);
	milter_add_u8(b, (uint8_t)c->family);
	if (c->family != SMFIA_UNKNOWN) {
		milter_add_u16(b, c->port);
		milter_add_str(b, c->addr != NULL ? c->addr : "");
	}
	return milter_end(b, start);
}

/* A D packet: the stage code, then n strings (name, value, ...). */
int
milter_put_macros(struct mbuf *b, char stage, const char *const *pairs,
    size_t n)
{
	size_t	start, i;

	start = milter_begin(b, SMFIC_MACRO);
	milter_add_u8(b, (uint8_t)stage);
	for (i = 0; i < n; i++)
		milter_add_str(b, pairs[i]);
	return milter_end(b, start);
}

/* L, h (no index) and i, m (with index). */
int
milter_put_header(struct mbuf *b, char code, const struct milter_header *h)
{
	size_t	start;

	start = milter_begin(b, code);
	if (code == SMFIR_INSHEADER || code == SMFIR_CHGHEADER)
		milter_add_u32(b, h->index);
	milter_add_str(b, h->name);
	milter_add_str(b, h->value);
	return milter_end(b, start);
}

/* e and 2: address and optional ESMTP arguments. */
int
milter_put_addr(struct mbuf *b, char code, const char *addr,
    const char *args)
{
	size_t	start;

	start = milter_begin(b, code);
	milter_add_str(b, addr);
	if (args != NULL)
		milter_add_str(b, args);
	return milter_end(b, start);
}

/*
 * B or b: the data in packets of at most chunk bytes; at least one
 * packet, so that an empty 'b' replaces the body with nothing.
 */
int
milter_put_body(struct mbuf *b, char code, const void *data, size_t len,
    size_t chunk)
{
	const uint8_t	*p = data;
	size_t		 n, start;

	if (chunk == 0)
		chunk = MILTER_CHUNK_SIZE;
	do {
		n = len < chunk ? len : chunk;
		start = milter_begin(b, code);
		milter_add_bytes(b, p, n);
		if (milter_end(b, start) == -1)
			return -1;
		p += n;
		len -= n;
	} while (len > 0);
	return 0;
}

/* Encode a decoded command again; the inverse of milter_decode_cmd(). */
int
milter_put_cmd(struct mbuf *b, const struct milter_cmd *c)
{
	size_t	start;

	switch (c->code) {
	case SMFIC_OPTNEG:
		return milter_put_optneg(b, &c->u.optneg);
	case SMFIC_CONNECT:
		return milter_put_connect(b, &c->u.connect);
	case SMFIC_MACRO:
		start = milter_begin(b, SMFIC_MACRO);
		milter_add_u8(b, (uint8_t)c->u.macro.stage);
		milter_add_bytes(b, c->u.macro.pairs.buf, c->u.macro.pairs.len);
		return milter_end(b, start);
	case SMFIC_HELO:
	case SMFIC_UNKNOWN:
		return milter_put_str(b, c->code, c->u.str);
	case SMFIC_MAIL:
	case SMFIC_RCPT:
		start = milter_begin(b, c->code);
		milter_add_bytes(b, c->u.args.buf, c->u.args.len);
		return milter_end(b, start);
	case SMFIC_HEADER:
		return milter_put_header(b, c->code, &c->u.header);
	case SMFIC_BODY:
		return milter_put_body(b, c->code, c->u.body.data,
		    c->u.body.len, c->u.body.len);
	default:
		return milter_put_empty(b, c->code);
	}
}

/* Encode a decoded reply again; the inverse of milter_decode_reply(). */
int
milter_put_reply(struct mbuf *b, const struct milter_reply *r)
{
	switch (r->code) {
	case SMFIR_OPTNEG:
		return milter_put_optneg(b, &r->u.optneg);
	case SMFIR_REPLYCODE:
	case SMFIR_QUARANTINE:
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
		return milter_put_str(b, r->code, r->u.str);
	case SMFIR_CHGFROM:
	case SMFIR_ADDRCPT_PAR:
		return milter_put_addr(b, r->code, r->u.addr.addr,
		    r->u.addr.args);
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		return milter_put_header(b, r->code, &r->u.header);
	case SMFIR_REPLBODY:
		return milter_put_body(b, r->code, r->u.body.data,
		    r->u.body.len, r->u.body.len);
	default:
		return milter_put_empty(b, r->code);
	}
}

/*
 * Negotiation.
 */

/*
 * The MTA side: check a milter's reply against our offer, as sendmail
 * does (the stricter of the two MTAs), and return the flags in effect:
 * a milter of version 2 gets no U, of version 3 no T.
 */
int
milter_negotiate_mta(const struct milter_optneg *offer,
    const struct milter_optneg *reply, struct milter_optneg *eff,
    const char **err)
{
	if (reply->version < 2 || reply->version == 5 ||
	    reply->version > MILTER_VERSION) {
		*err = "unsupported protocol version";
		return -1;
	}
	if (reply->version > offer->version) {
		*err = "version higher than offered";
		return -1;
	}
	if ((reply->actions & ~offer->actions) != 0) {
		*err = "actions not offered";
		return -1;
	}
	if ((reply->protocol & ~SMFI_INTERNAL & ~offer->protocol) != 0) {
		*err = "protocol flags not offered";
		return -1;
	}
	if ((reply->protocol & SMFI_INTERNAL & ~offer->protocol) != 0) {
		*err = "size limit not offered";
		return -1;
	}
	*eff = *reply;
	if (eff->version <= 2)
		eff->protocol |= SMFIP_NOUNKNOWN;
	if (eff->version <= 3)
		eff->protocol |= SMFIP_NODATA;
	return 0;
}

/*
 * The milter side: what to answer to the MTA's offer when we want
 * "want".  As libmilter: an empty action or protocol word stands for the
 * version 1 sets; no-reply bits and NODATA/NOUNKNOWN that the MTA does
 * not offer are dropped (the MTA will wait for a reply, or not send the
 * command at all); anything else not offered is an error.
 */
int
milter_negotiate_milter(const struct milter_optneg *offer,
    const struct milter_optneg *want, struct milter_optneg *out,
    const char **err)
{
	uint32_t	oact, oprot;

	if (offer->version < 2) {
		*err = "unsupported protocol version";
		return -1;
	}
	oact = offer->actions ? offer->actions : 0x0f;
	oprot = offer->protocol ? offer->protocol : SMFI_V1_PROT;
	*out = *want;
	if (out->version > offer->version)
		out->version = offer->version;
	if ((want->actions & ~oact) != 0) {
		*err = "MTA does not offer the actions needed";
		return -1;
	}
	out->protocol &= ~(SMFIP_NR_MASK & ~oprot);
	out->protocol &= ~((SMFIP_NODATA | SMFIP_NOUNKNOWN) & ~oprot);
	if ((out->protocol & ~oprot) != 0) {
		*err = "MTA does not offer the protocol steps needed";
		return -1;
	}
	return 0;
}

/* Does the MTA send this command to a milter with these flags? */
int
milter_cmd_sent(const struct milter_optneg *o, char code)
{
	switch (code) {
	case SMFIC_CONNECT:
		return !(o->protocol & SMFIP_NOCONNECT);
	case SMFIC_HELO:
		return !(o->protocol & SMFIP_NOHELO);
	case SMFIC_MAIL:
		return !(o->protocol & SMFIP_NOMAIL);
	case SMFIC_RCPT:
		return !(o->protocol & SMFIP_NORCPT);
	case SMFIC_HEADER:
		return !(o->protocol & SMFIP_NOHDRS);
	case SMFIC_EOH:
		return !(o->protocol & SMFIP_NOEOH);
	case SMFIC_BODY:
		return !(o->protocol & SMFIP_NOBODY);
	case SMFIC_UNKNOWN:
		return o->version >= 3 && !(o->protocol & SMFIP_NOUNKNOWN);
	case SMFIC_DATA:
		return o->version >= 4 && !(o->protocol & SMFIP_NODATA);
	case SMFIC_QUIT_NC:
		return o->version >= 6;
	default:
		return 1;
	}
}

/* Does the MTA wait for a reply to this command? */
int
milter_cmd_replied(const struct milter_optneg *o, char code)
{
	switch (code) {
	case SMFIC_CONNECT:
		return !(o->protocol & SMFIP_NR_CONN);
	case SMFIC_HELO:
		return !(o->protocol & SMFIP_NR_HELO);
	case SMFIC_MAIL:
		return !(o->protocol & SMFIP_NR_MAIL);
	case SMFIC_RCPT:
		return !(o->protocol & SMFIP_NR_RCPT);
	case SMFIC_DATA:
		return !(o->protocol & SMFIP_NR_DATA);
	case SMFIC_UNKNOWN:
		return !(o->protocol & SMFIP_NR_UNKN);
	case SMFIC_HEADER:
		return !(o->protocol & SMFIP_NR_HDR);
	case SMFIC_EOH:
		return !(o->protocol & SMFIP_NR_EOH);
	case SMFIC_BODY:
		return !(o->protocol & SMFIP_NR_BODY);
	case SMFIC_BODYEOB:
	case SMFIC_OPTNEG:
		return 1;
	default:
		return 0;
	}
}

/* A reply that ends the wait for a command. */
int
milter_reply_is_final(char code)
{
	return strchr("cartdys4", code) != NULL && code != '\0';
}

/* A modification, legal only after E. */
int
milter_reply_is_edit(char code)
{
	return strchr("him+2-ebq", code) != NULL && code != '\0';
}

const struct milter_stage milter_stages[NSTAGES] = {
	[STAGE_NEGOTIATE] =	{ SMFIC_OPTNEG,	"negotiate",	-1 },
	[STAGE_CONNECT] =	{ SMFIC_CONNECT, "connect",	SMFIM_CONNECT },
	[STAGE_HELO] =		{ SMFIC_HELO,	"helo",		SMFIM_HELO },
	[STAGE_MAIL] =		{ SMFIC_MAIL,	"mail",		SMFIM_ENVFROM },
	[STAGE_RCPT] =		{ SMFIC_RCPT,	"rcpt",		SMFIM_ENVRCPT },
	[STAGE_DATA] =		{ SMFIC_DATA,	"data",		SMFIM_DATA },
	[STAGE_HEADER] =	{ SMFIC_HEADER,	"header",	-1 },
	[STAGE_EOH] =		{ SMFIC_EOH,	"eoh",		SMFIM_EOH },
	[STAGE_BODY] =		{ SMFIC_BODY,	"body",		-1 },
	[STAGE_EOM] =		{ SMFIC_BODYEOB, "eom",		SMFIM_EOM },
	[STAGE_UNKNOWN] =	{ SMFIC_UNKNOWN, "unknown",	-1 },
};

/* The stage a command begins (enum stage), or -1. */
int
milter_stage(char code)
{
	int	i;

	for (i = 0; i < NSTAGES; i++)
		if (milter_stages[i].cmd == code)
			return i;
	return -1;
}

/* The stage of that name, or -1. */
int
milter_stage_named(const char *name)
{
	int	i;

	for (i = 0; i < NSTAGES; i++)
		if (strcmp(milter_stages[i].name, name) == 0)
			return i;
	return -1;
}

/* The SMFIM list whose macros go with this command, or -1. */
int
milter_macro_list(char code)
{
	int	st = milter_stage(code);

	return st != -1 ? milter_stages[st].list : -1;
}

/* A short name for logs; commands and replies share some letters. */
const char *
milter_code_name(char code)
{
	static const struct {
		char		 code;
		const char	*name;
	} names[] = {
		{ 'A', "abort" }, { 'B', "body" }, { 'C', "connect" },
		{ 'D', "macro" }, { 'E', "eom" }, { 'H', "helo" },
		{ 'K', "quit-nc" }, { 'L', "header" }, { 'M', "mail" },
		{ 'N', "eoh" }, { 'O', "optneg" }, { 'Q', "quit" },
		{ 'R', "rcpt" }, { 'T', "data" }, { 'U', "unknown" },
		{ '+', "addrcpt" }, { '-', "delrcpt" }, { '2', "addrcpt-par" },
		{ '4', "shutdown" }, { 'a', "accept" }, { 'b', "replbody" },
		{ 'c', "continue" }, { 'd', "discard" }, { 'e', "chgfrom" },
		{ 'f', "conn-fail" }, { 'h', "addheader" },
		{ 'i', "insheader" }, { 'm', "chgheader" },
		{ 'p', "progress" }, { 'q', "quarantine" }, { 'r', "reject" },
		{ 's', "skip" }, { 't', "tempfail" }, { 'y', "replycode" },
	};
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "?";
}
