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
 * message.c: the kept copy of a message and the milter edits on it.
 *
 * Header values are kept exactly as they follow the colon (the form a
 * milter sees with SMFIP_HDR_LEADSPC), folded lines joined by a bare LF.
 * Edits follow Postfix: 'h' appends; 'i' counts the MTA's own Received:
 * header, hidden from milters, as the first (so 0 and 1 both put the new
 * header at the top of the visible ones, k after the first k-1; past the
 * end appends); 'm' changes the index-th
 * header of that name (case-insensitive, 0 counts as 1), deletes it when
 * the value is empty (later indexes renumber at once), and appends when
 * there are fewer.  Without the leading-space flag a milter's values get
 * one space put in front, as the MTA does.  The 'b' packets of one end
 * of message must be consecutive; they replace the body when the edits
 * are done.  A replacement body is taken as Postfix takes it: split
 * into lines at LF, a CR right before the LF dropped, each line kept
 * with CRLF, a last line without LF ended too; so the children after
 * the one that replaced the body, and the MTA, see the body Postfix's
 * own chain would show them, whatever line ends the milter sent.
 * Sendmail leaves that last line as it is (repl_keep_open).
 *
 * No I/O here: the body is kept in a struct spool (spool.c).
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message.h"

static char	*value_dup(const char *, int);
static int	insert_header(struct message *, size_t, const char *,
		    const char *);
static void	delete_header(struct message *, size_t);
static int	change_header(struct message *, const struct milter_header *,
		    int);
static int	repl_append(struct message *, const uint8_t *, size_t);
static int	parse_headers(struct message *, const char *, size_t,
		    size_t *);
static int	append_crlf_body(struct spool *, const char *, size_t);

void
message_init(struct message *m, size_t limit, const char *dir)
{
	memset(m, 0, sizeof(*m));
	spool_init(&m->body, limit, dir);
	spool_init(&m->newbody, limit, dir);
}

/* Empty the message for the next one; keep the header array. */
void
message_reset(struct message *m)
{
	size_t	i;

	for (i = 0; i < m->nhdrs; i++) {
		free(m->hdrs[i].name);
		free(m->hdrs[i].value);
	}
	m->nhdrs = 0;
	spool_free(&m->body);
	spool_free(&m->newbody);
	m->replacing = 0;
	m->repl_cr = m->repl_open = 0;
}

void
message_free(struct message *m)
{
	message_reset(m);
	free(m->hdrs);
	m->hdrs = NULL;
	m->caphdrs = 0;
}

/* A value from a milter, with the space the MTA would put in front. */
static char *
value_dup(const char *v, int leadspc)
{
	char	*s;

	if (leadspc)
		return strdup(v);
	if (asprintf(&s, " %s", v) == -1)
		return NULL;
	return s;
}

static int
insert_header(struct message *m, size_t at, const char *name,
    const char *value)
{
	struct mhdr	*nh;
	size_t		 ncap;
	char		*n, *v;

	if (m->nhdrs == m->caphdrs) {
		ncap = m->caphdrs ? m->caphdrs * 2 : 32;
		nh = reallocarray(m->hdrs, ncap, sizeof(*nh));
		if (nh == NULL)
			return -1;
		m->hdrs = nh;
		m->caphdrs = ncap;
	}
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return -1;
	}
	if (at > m->nhdrs)
		at = m->nhdrs;
	memmove(&m->hdrs[at + 1], &m->hdrs[at],
	    (m->nhdrs - at) * sizeof(*m->hdrs));
	m->hdrs[at].name = n;
	m->hdrs[at].value = v;
	m->nhdrs++;
	return 0;
}

static void
delete_header(struct message *m, size_t at)
{
	free(m->hdrs[at].name);
	free(m->hdrs[at].value);
	memmove(&m->hdrs[at], &m->hdrs[at + 1],
	    (m->nhdrs - at - 1) * sizeof(*m->hdrs));
	m->nhdrs--;
}

int
message_add_header(struct message *m, const char *name, const char *value)
{
	return insert_header(m, m->nhdrs, name, value);
}

static int
change_header(struct message *m, const struct milter_header *h, int leadspc)
{
	uint32_t	 want = h->index ? h->index : 1, seen = 0;
	size_t		 i;
	char		*v;
	int		 rc;

	for (i = 0; i < m->nhdrs; i++) {
		if (strcasecmp(m->hdrs[i].name, h->name) != 0 ||
		    ++seen != want)
			continue;
		if (h->value[0] == '\0') {
			delete_header(m, i);
			return 0;
		}
		if ((v = value_dup(h->value, leadspc)) == NULL)
			return -1;
		free(m->hdrs[i].value);
		m->hdrs[i].value = v;
		return 0;
	}
	if (h->value[0] == '\0')
		return 0;
	if ((v = value_dup(h->value, leadspc)) == NULL)
		return -1;
	rc = insert_header(m, m->nhdrs, h->name, v);
	free(v);
	return rc;
}

/*
 * Apply one modification packet; leadspc says whether the milter
 * negotiated SMFIP_HDR_LEADSPC.  Replies that are not header or body
 * edits are left to the caller.
 */
int
message_apply(struct message *m, const struct milter_reply *r, int leadspc,
    const char **err)
{
	char	*v;
	int	 rc;

	if (r->code == SMFIR_REPLBODY) {
		if (m->replacing == 2) {
			*err = "body replacement not in one run";
			return -1;
		}
		m->replacing = 1;
		if (repl_append(m, r->u.body.data, r->u.body.len) == -1) {
			*err = "cannot keep replaced body";
			return -1;
		}
		return 0;
	}
	if (m->replacing == 1)
		m->replacing = 2;
	switch (r->code) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
		if ((v = value_dup(r->u.header.value, leadspc)) == NULL) {
			*err = "out of memory";
			return -1;
		}
		rc = insert_header(m, r->code == SMFIR_ADDHEADER ? m->nhdrs :
		    r->u.header.index > 0 ? r->u.header.index - 1 : 0,
		    r->u.header.name, v);
		free(v);
		break;
	case SMFIR_CHGHEADER:
		rc = change_header(m, &r->u.header, leadspc);
		break;
	default:
		return 0;
	}
	if (rc == -1)
		*err = "out of memory";
	return rc;
}

/*
 * One piece of a replacement body, as lines (see the top).  A CR at the
 * end of a piece is held back until the next piece shows whether an LF
 * follows it.
 */
static int
repl_append(struct message *m, const uint8_t *p, size_t n)
{
	const uint8_t	*lf;
	size_t		 len, keep;

	while (n > 0) {
		lf = memchr(p, '\n', n);
		len = lf != NULL ? (size_t)(lf - p) : n;
		/* A held CR is data unless the LF comes right after it. */
		if (m->repl_cr && len > 0 &&
		    spool_append(&m->newbody, "\r", 1) == -1)
			return -1;
		m->repl_cr = 0;
		keep = len;
		if (len > 0 && p[len - 1] == '\r')
			keep--;
		if (keep > 0 && spool_append(&m->newbody, p, keep) == -1)
			return -1;
		if (lf == NULL) {
			m->repl_cr = keep < len;
			m->repl_open = 1;
			return 0;
		}
		if (spool_append(&m->newbody, "\r\n", 2) == -1)
			return -1;
		m->repl_open = 0;
		p += len + 1;
		n -= len + 1;
	}
	return 0;
}

/*
 * The end of one milter's edits: a replaced body takes effect, its last
 * line ended.  -1 if that line cannot be kept.
 */
int
message_edits_done(struct message *m)
{
	struct spool	tmp;
	int		rc = 0;

	if (m->replacing != 0 && m->repl_open &&
	    ((m->repl_cr && spool_append(&m->newbody, "\r", 1) == -1) ||
	    (!m->repl_keep_open && spool_append(&m->newbody, "\r\n", 2) ==
	    -1)))
		rc = -1;
	m->repl_cr = m->repl_open = 0;
	if (m->replacing != 0 && rc == 0) {
		tmp = m->body;
		m->body = m->newbody;
		m->newbody = tmp;
	}
	spool_free(&m->newbody);
	m->replacing = 0;
	return rc;
}

/*
 * A modification other than a body piece came from the milter whose
 * replacement body is being received: the body's run is over, and a
 * further piece is refused.  For a body applied as it arrives.
 */
void
message_edit_seen(struct message *m)
{
	if (m->replacing == 1)
		m->replacing = 2;
}

/* A milter's edits failed: drop a replacement body being received. */
void
message_edits_cancel(struct message *m)
{
	spool_free(&m->newbody);
	m->replacing = 0;
	m->repl_cr = m->repl_open = 0;
}

/*
 * Parsing a message file (LF or CRLF line ends) into headers and a
 * body with CRLF line ends, as an MTA would hand it to milters.
 */

static int
parse_headers(struct message *m, const char *p, size_t len, size_t *off)
{
	const char	*line, *eol, *colon;
	size_t		 llen;
	char		*name = NULL, *value = NULL, *nv;

	while (*off < len) {
		line = p + *off;
		eol = memchr(line, '\n', len - *off);
		llen = eol != NULL ? (size_t)(eol - line) : len - *off;
		*off += llen + (eol != NULL);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if ((line[0] == ' ' || line[0] == '\t') && llen > 0 &&
		    name != NULL) {
			if (asprintf(&nv, "%s\n%.*s", value, (int)llen,
			    line) == -1)
				goto fail;
			free(value);
			value = nv;
			continue;
		}
		if (name != NULL && message_add_header(m, name, value) == -1)
			goto fail;
		free(name);
		free(value);
		name = value = NULL;
		if (llen == 0)
			return 0;
		colon = memchr(line, ':', llen);
		if (colon == NULL || colon == line)
			return -1;
		name = strndup(line, (size_t)(colon - line));
		value = strndup(colon + 1, llen - (size_t)(colon - line) - 1);
		if (name == NULL || value == NULL)
			goto fail;
	}
	if (name != NULL && message_add_header(m, name, value) == -1)
		goto fail;
	free(name);
	free(value);
	return 0;
fail:
	free(name);
	free(value);
	return -1;
}

static int
append_crlf_body(struct spool *s, const char *p, size_t len)
{
	const char	*eol;
	size_t		 llen;

	while (len > 0) {
		eol = memchr(p, '\n', len);
		llen = eol != NULL ? (size_t)(eol - p) : len;
		if (eol != NULL && llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (spool_append(s, p, llen) == -1)
			return -1;
		if (eol != NULL && spool_append(s, "\r\n", 2) == -1)
			return -1;
		llen = eol != NULL ? (size_t)(eol - p) + 1 : len;
		p += llen;
		len -= llen;
	}
	return 0;
}

int
message_parse(struct message *m, const char *p, size_t len)
{
	size_t	off = 0;

	if (parse_headers(m, p, len, &off) == -1)
		return -1;
	return append_crlf_body(&m->body, p + off, len - off);
}

/*
 * Its size in bytes as message_write() writes it: what size
 * conditions look at.
 */
uint64_t
message_size(const struct message *m)
{
	const char	*v;
	uint64_t	 n = 2;		/* the blank line */
	size_t		 i;

	for (i = 0; i < m->nhdrs; i++) {
		n += strlen(m->hdrs[i].name) + 3;	/* ':', CR LF */
		for (v = m->hdrs[i].value; *v != '\0'; v++)
			n += *v == '\n' ? 2 : 1;
	}
	return n + m->body.len;
}

/* The message as it would be delivered, CRLF line ends. */
int
message_write(const struct message *m, FILE *fp)
{
	char		 buf[8192];
	const char	*v;
	size_t		 i, off = 0;
	ssize_t		 n;

	for (i = 0; i < m->nhdrs; i++) {
		fprintf(fp, "%s:", m->hdrs[i].name);
		for (v = m->hdrs[i].value; *v != '\0'; v++) {
			if (*v == '\n')
				fputc('\r', fp);
			fputc(*v, fp);
		}
		fputs("\r\n", fp);
	}
	fputs("\r\n", fp);
	while ((n = spool_read(&m->body, off, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, fp);
		off += (size_t)n;
	}
	return n == -1 || ferror(fp) ? -1 : 0;
}
