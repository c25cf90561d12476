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
 * sessionlog.c: the session's log line, one per MTA connection, and
 * what it gathers on the way (the client's label, the queue ids).  Its
 * form is documented in milterd(8): keep it stable.  The fields are
 * written as text or JSON by log.c's log_fields().  Also the lines and
 * counters of the chain's verdicts as they come (session_log_action()).
 */

#include <sys/types.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "log.h"
#include "session.h"

static char	*child_outcome(const struct session *, size_t);

/*
 * A queue id the MTA sent (macro i): each message's once, in order, for
 * the session's log line.  Sendmail sends it at every stage from MAIL,
 * Postfix from the first accepted RCPT; a value like the last one is
 * the same message's.  Ids that no longer fit are left out, said by
 * a trailing ",...".
 */
void
session_queue_id(struct session *s, const char *id)
{
	const char	*last;
	size_t		 len = strlen(s->queue_ids);

	if (id == NULL || *id == '\0')
		return;
	last = strrchr(s->queue_ids, ',');
	last = last != NULL ? last + 1 : s->queue_ids;
	if (strcmp(last, id) == 0 || strcmp(last, "...") == 0)
		return;
	if (len + 1 + strlen(id) + 4 >= sizeof(s->queue_ids))
		id = "...";
	snprintf(s->queue_ids + len, sizeof(s->queue_ids) - len, "%s%s",
	    len > 0 ? "," : "", id);
}

/*
 * The client as the log line shows it: NAME[ADDR], and as Postfix
 * logs it, unknown[ADDR] when the MTA has no name for it (it sends
 * the address in brackets in place of the name, or nothing).
 */
void
session_client_label(struct session *s, const struct milter_connect *c)
{
	const char	*addr = c->addr != NULL ? c->addr : "";
	const char	*host = c->host, *h = host + (host[0] == '[');
	size_t		 n = strlen(addr);

	/* Sendmail: [IPv6:2001:db8::1]. */
	if (strncasecmp(h, "IPv6:", 5) == 0 && strncasecmp(addr, "IPv6:",
	    5) != 0)
		h += 5;
	if (host[0] == '\0' || (host[0] == '[' && strncmp(h, addr, n) == 0 &&
	    strcmp(h + n, "]") == 0))
		host = "unknown";
	snprintf(s->client, sizeof(s->client), "%s[%s]", host, addr);
}

/* A child's field: what it came to, and how long the session waited. */
static char *
child_outcome(const struct session *s, size_t i)
{
	const struct chain_child	*c = &s->chain.kids[i];
	double				 waited = s->kids[i].wait_us / 1e6;
	char				*text;
	int				 rc;

	if (c->stopped != NULL)
		rc = asprintf(&text, "stopped@%s%s:%.3f",
		    c->stopped->negate ? "!" : "",
		    s->conf->conds[c->stopped->idx].name, waited);
	else if (c->role == ROLE_SHADOW)
		rc = asprintf(&text, "shadow-%s:%.3f", shadow_verdict(s, i),
		    waited);
	else
		rc = asprintf(&text, "%s%s:%.3f",
		    c->verdict_evaluated ? "eval-" : "",
		    c->cut == CUT_AT_WORK ? "aborted" :
		    c->part == PART_FAILED && c->cut == CUT_NONE ?
		    (s->kids[i].skipped ? "down" : "failed") :
		    c->verdict == VERDICT_NONE ?
		    "continue" : verdict_name(c->verdict), waited);
	if (rc == -1)
		fatal("%s: asprintf", __func__);
	return text;
}

/*
 * The session's line at its end ("end" says why it ended; error: the
 * MTA's side failed), and the session counted.
 */
void
session_log(const struct session *s, const char *why, int error)
{
	struct timeval		 now, d;
	struct log_field	*f;
	char			*names = NULL, *trials = NULL, **own, when[32];
	size_t			 len = 0, i, n = 0;
	FILE			*fp;

	/* A session that waited for its shadows ended when the MTA's did. */
	if (s->mta != NULL)
		gettimeofday(&now, NULL);
	else
		now = s->ended;
	timersub(&now, &s->start, &d);
	if ((f = calloc(s->chain.nkids + 8, sizeof(*f))) == NULL ||
	    (own = calloc(s->chain.nkids * 2 + 1, sizeof(*own))) == NULL ||
	    (fp = open_memstream(&names, &len)) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < s->chain.nkids; i++)
		fprintf(fp, "%s%s", i > 0 ? "," : "", s->kids[i].mc->name);
	if (fclose(fp) != 0)
		fatal("%s: open_memstream", __func__);
	f[n++] = (struct log_field){ "session", s->id, LOG_F_WORD };
	f[n++] = (struct log_field){ "client", s->client, LOG_F_WORD };
	f[n++] = (struct log_field){ "children", s->chain.nkids > 0 ? names :
	    "-", LOG_F_WORD };
	for (i = 0; i < s->chain.nkids; i++) {
		own[2 * i] = child_outcome(s, i);
		if (asprintf(&own[2 * i + 1], "child.%s",
		    s->kids[i].mc->name) == -1)
			fatal("%s: asprintf", __func__);
		f[n++] = (struct log_field){ own[2 * i + 1], own[2 * i],
		    LOG_F_WORD };
	}
	snprintf(when, sizeof(when), "%ld.%03ld", (long)d.tv_sec,
	    (long)d.tv_usec / 1000);
	f[n++] = (struct log_field){ "verdict", s->verdict, LOG_F_WORD };
	/* The shadows' verdicts next to it: NAME:VERDICT,... */
	if ((fp = open_memstream(&trials, &len)) == NULL)
		fatal("%s: open_memstream", __func__);
	for (i = 0; i < s->chain.nkids; i++)
		if (s->chain.kids[i].role == ROLE_SHADOW)
			fprintf(fp, "%s%s:%s", ftell(fp) > 0 ? "," : "",
			    s->kids[i].mc->name, shadow_verdict(s, i));
	if (fclose(fp) != 0)
		fatal("%s: open_memstream", __func__);
	if (trials[0] != '\0')
		f[n++] = (struct log_field){ "trial", trials, LOG_F_WORD };
	f[n++] = (struct log_field){ "end", why, LOG_F_QUOTED };
	f[n++] = (struct log_field){ "time", when, LOG_F_NUMBER };
	f[n++] = (struct log_field){ "queue_id", s->queue_ids[0] != '\0' ?
	    s->queue_ids : "-", LOG_F_WORD };
	log_fields(LOG_INFO, f, n);
	for (i = 0; i < s->chain.nkids * 2; i++)
		free(own[i]);
	free(own);
	free(f);
	free(names);
	free(trials);
	stats_add(&stats->sessions, 1);
	stats_add(&stats->session_verdicts[s->final], 1);
	if (error)
		stats_add(&stats->mta_errors, 1);
}

/* The counters and log lines of the chain's verdicts. */
void
session_log_action(struct session *s, const struct chain_action *a)
{
	const struct chain_child	*cc = &s->chain.kids[a->child];
	struct child			*c = &s->kids[a->child];
	char				 what[512];

	switch (a->act) {
	case ACT_VERDICT:
		stats_add(cc->evaluation ? &c->stats->evaluated[cc->verdict] :
		    &c->stats->verdicts[cc->verdict], 1);
		break;
	case ACT_EVALUATED:
		log_info("session %s: child %s (evaluation): %s %s%s%s",
		    s->id, c->mc->name, milter_code_name(a->cmd),
		    milter_code_name(a->code), a->text[0] ? " " : "",
		    a->text);
		break;
	case ACT_EDITS_DROPPED:
		chain_describe_edits(cc->edits.data, cc->edits.len,
		    s->repl_owner == a->child + 1 ? s->repl_bytes : 0, what,
		    sizeof(what));
		log_info("session %s: child %s (evaluation): modifications "
		    "dropped: %s", s->id, c->mc->name, what);
		break;
	case ACT_STOPPED:
		stats_add(&c->stats->stopped, 1);
		/* At end of message apply_eom() said why. */
		if (a->cmd == SMFIC_BODYEOB)
			break;
		log_debug("session %s: child %s: %d of its recipients, %d "
		    "not: kept out of the message", s->id, c->mc->name,
		    cc->rcpt_shown, cc->rcpt_hidden);
		break;
	default:
		break;
	}
}
