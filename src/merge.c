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
 * merge.c: the rules that make milterd look like the MTA's own chain
 * of milters.  No I/O; session.c calls these.
 *
 * Negotiation: toward the MTA milterd asks for the union of the
 * children's actions; it suppresses an envelope step, or waives the
 * reply to it, only when every child does; it always asks for the
 * exact header values (HDR_LEADSPC) so that its copy of the message is
 * exact, and waives replies to headers, end of headers and body pieces,
 * which it keeps and replays to the children at end of message.  Macro
 * lists are the union of the children's; a stage where only some
 * children asked for a list also gets the MTAs' default list, so that
 * the others lose nothing.
 *
 * Verdicts: at each command the first child, in configuration order,
 * whose reply is not continue or accept decides, as in Postfix and
 * Sendmail.
 */

#include <stdio.h>
#include <string.h>

#include "macros.h"
#include "merge.h"

static void	describe_add(char *, size_t, const char *);

/* Envelope steps: suppress and no-reply bits merged by intersection. */
#define ENVELOPE_BITS	(SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | \
	SMFIP_NORCPT | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOHDRS | \
	SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NR_CONN | SMFIP_NR_HELO | \
	SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN)
/* Content steps milterd always answers at once. */
#define CONTENT_NR	(SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)

/*
 * What to answer the MTA's offer, given the children's negotiated
 * flags (those that failed to negotiate are left out by the caller)
 * and the macros milterd needs itself (own, per stage, or NULL).
 * With no child, every step is asked for, so that each command gets
 * the global fallback.
 */
void
merge_optneg(const struct milter_optneg *offer,
    const struct milter_optneg *kids, size_t n, const char *const *own,
    struct milter_optneg *out, struct macro_lists *ml)
{
	uint32_t	 env = n > 0 ? ENVELOPE_BITS : 0;
	char		*list;
	size_t		 i;
	int		 stage, asked, all;

	memset(out, 0, sizeof(*out));
	memset(ml, 0, sizeof(*ml));
	out->version = offer->version < MILTER_VERSION ? offer->version :
	    MILTER_VERSION;
	for (i = 0; i < n; i++) {
		out->actions |= kids[i].actions;
		env &= kids[i].protocol;
	}
	out->protocol = env | CONTENT_NR | SMFIP_HDR_LEADSPC;
	for (stage = 0; stage < SMFIM_COUNT && out->version >= 6; stage++) {
		list = ml->list[stage];
		asked = 0;
		all = 1;
		for (i = 0; i < n; i++) {
			if (kids[i].macros[stage] != NULL &&
			    kids[i].macros[stage][0] != '\0') {
				macros_add_names(list, MACRO_LIST_MAX,
				    kids[i].macros[stage]);
				asked = 1;
			} else
				all = 0;
		}
		if (own != NULL && own[stage] != NULL) {
			macros_add_names(list, MACRO_LIST_MAX, own[stage]);
			asked = 1;
		}
		if (!asked)
			continue;
		/* A list replaces the MTA's: keep what the others expect. */
		if (!all)
			macros_add_names(list, MACRO_LIST_MAX,
			    macros_default_list(MTA_AUTO, stage));
		out->macros[stage] = list;
		out->actions |= SMFIF_SETSYMLIST;
	}
	/* Ask for nothing the MTA did not offer. */
	out->actions &= offer->actions;
	out->protocol &= offer->protocol ? offer->protocol : SMFI_V1_PROT;
	if (!(out->actions & SMFIF_SETSYMLIST))
		memset(out->macros, 0, sizeof(out->macros));
}

/* Does this reply of a child decide the command for the whole chain? */
int
merge_decides(char cmd, char reply)
{
	switch (reply) {
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_REPLYCODE:
	case SMFIR_SHUTDOWN:
		return 1;
	case SMFIR_DISCARD:
		/* Meaningless at connection level: Postfix ignores it. */
		return cmd != SMFIC_CONNECT && cmd != SMFIC_HELO;
	default:
		return 0;
	}
}

/*
 * Does this reply end the child's part: 1 for the message, 2 for the
 * connection, 0 not at all.
 */
int
merge_ends_child(char cmd, char reply)
{
	if (reply != SMFIR_ACCEPT)
		return 0;
	return cmd == SMFIC_CONNECT || cmd == SMFIC_HELO ? 2 : 1;
}

/* The action flag a modification needs, so that it can be enforced. */
uint32_t
merge_action_needed(char code)
{
	switch (code) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
		return SMFIF_ADDHDRS;
	case SMFIR_CHGHEADER:
		return SMFIF_CHGHDRS;
	case SMFIR_REPLBODY:
		return SMFIF_CHGBODY;
	case SMFIR_ADDRCPT:
		return SMFIF_ADDRCPT;
	case SMFIR_ADDRCPT_PAR:
		return SMFIF_ADDRCPT_PAR;
	case SMFIR_DELRCPT:
		return SMFIF_DELRCPT;
	case SMFIR_QUARANTINE:
		return SMFIF_QUARANTINE;
	case SMFIR_CHGFROM:
		return SMFIF_CHGFROM;
	default:
		return 0;
	}
}

/*
 * A header value from a child as the MTA must get it: a child without
 * HDR_LEADSPC relies on the MTA to put one space after the colon; an
 * MTA without it puts that space itself.  Returns the value to send,
 * or NULL when one space must be put in front.
 */
const char *
merge_header_value(const char *value, int child_leadspc, int mta_leadspc)
{
	if (child_leadspc == mta_leadspc)
		return value;
	if (!child_leadspc)
		return value[0] == '\0' ? value : NULL;
	return value[0] == ' ' ? value + 1 : value;
}

/*
 * The reply a fallback stands for; accept is the given code (continue
 * for one child, which lets the others go on; accept for the session).
 */
char
merge_fallback_reply(enum fallback fb, char accept)
{
	switch (fb) {
	case FALLBACK_TEMPFAIL:
		return SMFIR_TEMPFAIL;
	case FALLBACK_REJECT:
		return SMFIR_REJECT;
	default:
		return accept;
	}
}

/* One more item of a description, after a comma. */
static void
describe_add(char *buf, size_t len, const char *one)
{
	if (buf[0] != '\0')
		strlcat(buf, ", ", len);
	strlcat(buf, one, len);
}

/*
 * What a child's kept modifications (reply packets, as framed) would
 * have done, for evaluation's log line: header names, body, recipients,
 * sender, quarantine; never a header's value.  Into buf, cut with
 * ", ..." when it does not fit.
 */
void
merge_describe_edits(const void *edits, size_t len, char *buf,
    size_t buflen)
{
	const uint8_t		*p = edits;
	struct milter_pkt	 pkt;
	struct milter_reply	 r;
	const char		*err;
	char			 one[600];
	size_t			 off = 0, used, body = 0, n;
	int			 bodies = 0;

	buf[0] = '\0';
	while (off < len && milter_frame(p + off, len - off, len, &pkt,
	    &used) == MILTER_FRAME_OK) {
		off += used;
		one[0] = '\0';
		if (milter_decode_reply(&pkt, &r, &err) == -1)
			snprintf(one, sizeof(one), "a malformed '%c' packet",
			    pkt.code);
		else
			switch (r.code) {
			case SMFIR_ADDHEADER:
				snprintf(one, sizeof(one), "header %s added",
				    r.u.header.name);
				break;
			case SMFIR_INSHEADER:
				snprintf(one, sizeof(one), "header %s inserted "
				    "at %u", r.u.header.name, r.u.header.index);
				break;
			case SMFIR_CHGHEADER:
				snprintf(one, sizeof(one), "header %s[%u] %s",
				    r.u.header.name, r.u.header.index,
				    r.u.header.value[0] == '\0' ? "deleted" :
				    "changed");
				break;
			case SMFIR_REPLBODY:
				/* Said once, after the rest: in chunks. */
				body += r.u.body.len;
				bodies = 1;
				break;
			case SMFIR_ADDRCPT:
			case SMFIR_DELRCPT:
			case SMFIR_ADDRCPT_PAR:
				snprintf(one, sizeof(one), "recipient %s %s",
				    r.code == SMFIR_ADDRCPT_PAR ?
				    r.u.addr.addr : r.u.str,
				    r.code == SMFIR_DELRCPT ? "deleted" :
				    "added");
				break;
			case SMFIR_CHGFROM:
				snprintf(one, sizeof(one), "sender changed to "
				    "%s", r.u.addr.addr);
				break;
			case SMFIR_QUARANTINE:
				snprintf(one, sizeof(one), "quarantine");
				break;
			default:
				snprintf(one, sizeof(one), "'%c'", r.code);
				break;
			}
		if (one[0] != '\0')
			describe_add(buf, buflen, one);
	}
	if (bodies) {
		snprintf(one, sizeof(one), "body replaced (%zu bytes)", body);
		describe_add(buf, buflen, one);
	}
	/* Cut: end on ", ..." rather than in the middle of a word. */
	n = strlen(buf);
	if (n + 1 == buflen && buflen > 6)
		strlcpy(buf + buflen - 6, ", ...", 6);
}
