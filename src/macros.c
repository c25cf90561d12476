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
 * macros.c: the MTA's macros in a session and the lists of names.
 *
 * Each D packet is decoded once, into the pairs of its stage (the
 * latest D of a stage replaces the one before).  Where milterd asked
 * the MTA for a list (the union of what the children and milterd
 * itself want), a child is sent what it would have had from the MTA
 * itself: the macros it asked for in its negotiation, or else its
 * MTA's default list; with macros_compat also the other MTA's
 * defaults, those this MTA did not send derived where they can be.
 */

#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "macros.h"

static const struct mbuf *stage_pairs(const struct macros *, char);
static const char *pairs_of(const struct mbuf *);
static const char *compat_value(const struct macros *, char, const char *);
static void	add_pair(struct mbuf *, const char *, const char *,
		    size_t *);

void
macros_free(struct macros *m)
{
	size_t	i;

	for (i = 0; i < NSTAGES; i++)
		mbuf_free(&m->pairs[i]);
}

/* A D packet: its pairs replace the stage's last ones. */
void
macros_take(struct macros *m, char cmd, const struct milter_strv *pairs)
{
	int	st = milter_stage(cmd);

	if (st == -1)
		return;
	mbuf_reset(&m->pairs[st]);
	mbuf_append(&m->pairs[st], pairs->buf, pairs->len);
	m->sent |= 1U << st;
}

/*
 * The connect command: the client as it names it, and the MTA in
 * front, as configured or told by its `v' macro ("Postfix 3.7.11";
 * Sendmail's is its version, "8.17.1.9"; milterd asks for v wherever
 * it asks for a connect list).  Without one, as Postfix.
 */
void
macros_connect(struct macros *m, const struct milter_connect *c,
    enum mta configured)
{
	const char	*v;

	strlcpy(m->client_name, c->host, sizeof(m->client_name));
	strlcpy(m->client_addr, c->addr != NULL ? c->addr : "",
	    sizeof(m->client_addr));
	if (configured != MTA_AUTO)
		m->mta = configured;
	else if ((v = macros_get(m, SMFIC_CONNECT, "v")) != NULL &&
	    v[0] >= '0' && v[0] <= '9')
		m->mta = MTA_SENDMAIL;
	else
		m->mta = MTA_POSTFIX;
}

/* The pairs of cmd's stage (name, value, ... each NUL-terminated). */
static const struct mbuf *
stage_pairs(const struct macros *m, char cmd)
{
	int	st = milter_stage(cmd);

	return st != -1 && (m->sent & (1U << st)) ? &m->pairs[st] : NULL;
}

/* The pairs of a D, "" for none (an empty D keeps no buffer). */
static const char *
pairs_of(const struct mbuf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

/*
 * A macro's value from the MTA's last D for cmd's stage, or NULL; "j",
 * "{j}", "daemon_addr" and "{daemon_addr}" alike.
 */
const char *
macros_get(const struct macros *m, char cmd, const char *name)
{
	const struct mbuf	*b = stage_pairs(m, cmd);
	const char		*p, *end, *val;

	if (b == NULL)
		return NULL;
	for (p = pairs_of(b), end = p + b->len; p < end &&
	    (val = p + strlen(p) + 1) < end; p = val + strlen(val) + 1)
		if (macros_listed(name, p))
			return val;
	return NULL;
}

/*
 * The latest value the MTA sent of a macro, from connect up to cmd's
 * stage (to DATA for a later one): what conditions look at, and what
 * an MTA that sends a macro once (the queue id) would still have.
 */
const char *
macros_latest(const struct macros *m, char cmd, const char *name)
{
	const char	*v;
	int		 st = milter_stage(cmd);

	if (st == -1 || st > STAGE_DATA)
		st = STAGE_DATA;
	for (; st >= STAGE_CONNECT; st--)
		if ((v = macros_get(m, milter_stages[st].cmd, name)) != NULL)
			return v;
	return NULL;
}

/*
 * fn(arg, name, value) for every macro sent from connect up to cmd's
 * stage, the names without braces; a later value comes after an
 * earlier one of the same name.
 */
void
macros_each(const struct macros *m, char cmd,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const struct mbuf	*b;
	const char		*p, *end, *val;
	char			 bare[64];
	size_t			 n;
	int			 st, last = milter_stage(cmd);

	if (last < STAGE_CONNECT || last > STAGE_DATA)
		return;
	for (st = STAGE_CONNECT; st <= last; st++) {
		if ((b = stage_pairs(m, milter_stages[st].cmd)) == NULL)
			continue;
		for (p = pairs_of(b), end = p + b->len; p < end &&
		    (val = p + strlen(p) + 1) < end;
		    p = val + strlen(val) + 1) {
			n = strlen(p);
			if (p[0] == '{' && n > 2 && p[n - 1] == '}' &&
			    n - 2 < sizeof(bare)) {
				memcpy(bare, p + 1, n - 2);
				bare[n - 2] = '\0';
				fn(arg, bare, val);
			} else
				fn(arg, p, val);
		}
	}
}

/*
 * A macro this MTA did not send at cmd, as the other would have: an
 * address under its other name, the client from the connect command,
 * or the value sent at an earlier stage (the queue id, say).  NULL
 * when it cannot be derived (`i' at MAIL from Postfix, `v').
 */
static const char *
compat_value(const struct macros *m, char cmd, const char *name)
{
	const char	*v;

	if (strcmp(name, "{daemon_addr}") == 0 &&
	    (v = macros_get(m, cmd, "if_addr")) != NULL)
		return v;
	if (strcmp(name, "{if_addr}") == 0 &&
	    (v = macros_get(m, cmd, "daemon_addr")) != NULL)
		return v;
	if (strcmp(name, "{client_addr}") == 0 && m->client_addr[0] != '\0')
		return m->client_addr;
	if (strcmp(name, "{client_name}") == 0 && m->client_name[0] != '\0')
		return m->client_name;
	if (strcmp(name, "v") == 0)
		return NULL;
	return macros_latest(m, cmd, name);
}

static void
add_pair(struct mbuf *b, const char *name, const char *value, size_t *n)
{
	milter_add_str(b, name);
	milter_add_str(b, value);
	(*n)++;
}

/*
 * One more macro in the D packet for cmd that begins at b + start (the
 * packet made when there is none yet).
 */
void
macros_extra(struct mbuf *b, size_t start, char cmd, const char *name,
    const char *value)
{
	if (b->len == start) {
		(void)milter_begin(b, SMFIC_MACRO);
		milter_add_bytes(b, &cmd, 1);
	}
	milter_add_str(b, name);
	milter_add_str(b, value);
	milter_end(b, start);
}

/*
 * The D packet for a child about to get cmd, onto b: the MTA's own
 * where milterd asked for no list at cmd's stage; else the macros in
 * the child's lists (want, by SMFIM_ stage, from its negotiation) or,
 * where it asked for none, in its MTA's default list; with compat also
 * the other MTA's.  No packet where the MTA sent none and the child is
 * given nothing, as from an MTA with none.
 */
void
macros_for_child(const struct macros *m, struct mbuf *b, char cmd,
    const char *const *want, int compat)
{
	const struct mbuf	*pairs = stage_pairs(m, cmd);
	const char		*list, *other, *p, *end, *val, *name;
	char			 tok[64];
	size_t			 start, len, n = 0;
	int			 sl = milter_macro_list(cmd);

	if (milter_stage(cmd) == -1)
		return;
	start = milter_begin(b, SMFIC_MACRO);
	milter_add_bytes(b, &cmd, 1);
	if (sl == -1 || !(m->asked & (1U << sl))) {
		if (pairs == NULL)
			b->len = start;
		else {
			milter_add_bytes(b, pairs->data, pairs->len);
			milter_end(b, start);
		}
		return;
	}
	list = want[sl] != NULL && want[sl][0] != '\0' ? want[sl] :
	    chain_profile(m->mta)->macro_lists[sl];
	other = compat ? chain_profile(m->mta == MTA_POSTFIX ?
	    MTA_SENDMAIL : MTA_POSTFIX)->macro_lists[sl] : "";
	if (pairs != NULL)
		for (p = pairs_of(pairs), end = p + pairs->len;
		    p < end && (val = p + strlen(p) + 1) < end;
		    p = val + strlen(val) + 1)
			if (macros_listed(list, p) || macros_listed(other, p))
				add_pair(b, p, val, &n);
	/* What the other MTA would have sent that this one did not. */
	for (name = other; *(name += strspn(name, " ")) != '\0';
	    name += len) {
		len = strcspn(name, " ");
		if (len >= sizeof(tok))
			continue;
		memcpy(tok, name, len);
		tok[len] = '\0';
		if (macros_get(m, cmd, tok) == NULL &&
		    (val = compat_value(m, cmd, tok)) != NULL)
			add_pair(b, tok, val, &n);
	}
	if (n == 0 && pairs == NULL)
		b->len = start;
	else
		milter_end(b, start);
}

/*
 * Is the macro (as the MTA names it: "j", "{daemon_name}") in the list
 * (blanks or commas between names)?  "{j}" and "j" are the same name.
 */
int
macros_listed(const char *list, const char *name)
{
	const char	*p = list;
	size_t		 n, len;

	if (name[0] == '{' && (n = strlen(name)) > 2 && name[n - 1] == '}') {
		name++;
		n -= 2;
	} else
		n = strlen(name);
	while (*p != '\0') {
		p += strspn(p, " ,");
		len = strcspn(p, " ,");
		if (len > 2 && p[0] == '{' && p[len - 1] == '}' &&
		    len - 2 == n && strncmp(p + 1, name, n) == 0)
			return 1;
		if (len == n && n > 0 && strncmp(p, name, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/* Append the names of list to dst that it does not hold yet. */
void
macros_add_names(char *dst, size_t len, const char *list)
{
	char	 buf[MACRO_LIST_MAX], *tok, *save;
	size_t	 n;
	int	 found;
	char	*p;

	strlcpy(buf, list, sizeof(buf));
	for (tok = strtok_r(buf, " ,", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,", &save)) {
		found = 0;
		n = strlen(tok);
		for (p = dst; (p = strstr(p, tok)) != NULL; p += n)
			if ((p == dst || p[-1] == ' ') &&
			    (p[n] == '\0' || p[n] == ' '))
				found = 1;
		if (found)
			continue;
		if (dst[0] != '\0')
			strlcat(dst, " ", len);
		strlcat(dst, tok, len);
	}
}

/*
 * What milterd asks of the MTA for itself, by SMFIM_ stage (empty
 * where nothing): the MTA's end of the client connection (disconnect
 * check), the macros its conditions look at (a lua condition's
 * `macros', at each stage its script has a function for).
 */
void
macros_own(const struct conf *conf, char lists[SMFIM_COUNT][MACRO_LIST_MAX])
{
	const struct cond	*c;
	size_t			 i, k;
	int			 st;

	for (i = 0; i < SMFIM_COUNT; i++)
		lists[i][0] = '\0';
	if (conf->disconnect_check)
		macros_add_names(lists[SMFIM_CONNECT], MACRO_LIST_MAX,
		    "{daemon_addr} {daemon_port} {if_addr}");
	for (i = 0; i < conf->nconds; i++) {
		c = &conf->conds[i];
		if (c->type == COND_AUTHENTICATED)
			macros_add_names(lists[SMFIM_ENVFROM], MACRO_LIST_MAX,
			    "{auth_authen} {auth_type}");
		else if (c->type == COND_MACRO)
			macros_add_names(lists[SMFIM_ENVFROM], MACRO_LIST_MAX,
			    c->macro);
		/* A lua condition's macros, at its functions' commands. */
		for (st = COND_FIRST; st <= STAGE_EOM; st++)
			for (k = 0; (c->stages & COND_BIT(st)) &&
			    k < c->nmacros; k++)
				macros_add_names(lists[milter_stages[st].list],
				    MACRO_LIST_MAX, c->macros[k]);
	}
}
