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
 * mtasim: the MTA side of the milter protocol, as a tool.  It drives one
 * milter through a whole SMTP session the way Postfix does (same offer,
 * same default macros, same command order, A after the message, then Q),
 * prints every reply and modification, and exits with the verdict:
 * 0 accept/continue, 1 reject, 2 tempfail, 3 discard, 4 error.  With -n
 * it runs many sessions over -c parallel connections and reports the
 * rate and latency percentiles instead; with -n and -w it opens that
 * many sessions one after another, holds them all open after DATA until
 * its standard input ends, then finishes them.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "message.h"
#include "milter.h"
#include "util.h"

#define EX_ACCEPT	0
#define EX_REJECT	1
#define EX_TEMPFAIL	2
#define EX_DISCARD	3
#define EX_ERROR	4
#define RBUF_MAX	(16 * 1024 * 1024)

struct macro {
	char	 stage;		/* command letter; 0: wherever it is listed */
	char	*name;
	char	*value;
};

struct sim {
	struct sockspec	 sock;
	const char	*from;
	const char	**rcpts;
	size_t		 nrcpts;
	const char	*helo;
	const char	*client_addr;
	const char	*client_name;
	struct macro	*macros;
	size_t		 nmacros;
	uint32_t	 version;
	int		 timeout_ms;
	char		*msgtext;
	size_t		 msglen;
	struct message	 msg;		/* parsed once, read by all sessions */
	const char	*outfile;
	int		 verbose;
	int		 messages;	/* per connection */
	int		 connections;	/* joined by quit-new-connection */
};

struct sess {
	const struct sim	*sim;
	FILE			*out;		/* NULL: quiet (load mode) */
	int			 fd;
	uint8_t			*rbuf;
	size_t			 rlen;
	size_t			 rcap;
	size_t			 rdone;		/* bytes of the last packet */
	struct mbuf		 wbuf;
	struct milter_optneg	 offer;
	struct milter_optneg	 eff;
	const char		*rcpt;		/* for {rcpt_addr} */
	int			 have_qid;
	int			 nmsg;		/* this message's, from 1 */
	struct message		 msg;		/* the copy edits apply to */
	int			 edited;
};

/* Postfix's default macro lists (3.5 and later). */
static const struct {
	char		 stage;
	const char	*names;
} default_lists[] = {
	{ SMFIC_CONNECT, "j {daemon_name} {daemon_addr} v _" },
	{ SMFIC_HELO, "{tls_version} {cipher} {cipher_bits} {cert_subject} "
	    "{cert_issuer}" },
	{ SMFIC_MAIL, "i {auth_type} {auth_authen} {auth_author} {mail_addr} "
	    "{mail_host} {mail_mailer}" },
	{ SMFIC_RCPT, "i {rcpt_addr} {rcpt_host} {rcpt_mailer}" },
	{ SMFIC_DATA, "i" },
	{ SMFIC_EOH, "i" },
	{ SMFIC_BODYEOB, "i" },
};

static const char default_message[] =
    "From: <%s>\n"
    "To: <%s>\n"
    "Subject: mtasim test message\n"
    "Date: Thu, 1 Jan 2026 00:00:00 +0000\n"
    "Message-ID: <mtasim.1@mtasim.example>\n"
    "\n"
    "This is a test message from mtasim.\n";

__dead static void usage(void);
static void	load_message(struct sim *, const char *);
static void	add_macro(struct sim *, const char *);
static const char *macro_value(struct sess *, const char *, char *, size_t);
static int	send_macros(struct sess *, char);
static int	flush_out(struct sess *);
static int	next_packet(struct sess *, struct milter_pkt *);
static int	await_reply(struct sess *, char, struct milter_reply *);
static int	command(struct sess *, char, struct milter_reply *);
static int	verdict_of(const struct milter_reply *);
static void	print_reply(struct sess *, const char *,
		    const struct milter_reply *);
static int	handle_edit(struct sess *, const struct milter_reply *);
static int	negotiate(struct sess *);
static int	step(struct sess *, char, const struct milter_cmd *,
		    struct milter_reply *, const char *, int);
static int	greet(struct sess *);
static int	transaction(struct sess *);
static int	one_message(struct sess *);
static void	print_result(struct sess *, int);
static int	content(struct sess *);
static int	run_session(const struct sim *, FILE *);
static int	run_load(const struct sim *, long, long);
static int	run_hold(const struct sim *, long);
static void	sim_free(struct sim *);

extern const char	*__progname;

__dead static void
usage(void)
{
	fprintf(stderr, "usage: %s -s socket [-v] [-a client-addr] "
	    "[-c concurrency] [-f from]\n"
	    "\t[-H helo] [-K connections] [-M messages] "
	    "[-m [stage:]name=value]\n\t[-N client-name] [-n sessions] "
	    "[-o outfile] [-P version] [-r rcpt] [-t seconds]\n"
	    "\t[-w] [message-file]\n", __progname);
	exit(EX_ERROR);
}

/*
 * Setup.
 */

static void
load_message(struct sim *sim, const char *path)
{
	struct stat	 st;
	int		 fd;
	ssize_t		 n;

	if (path == NULL) {
		if (asprintf(&sim->msgtext, default_message, sim->from,
		    sim->rcpts[0]) == -1)
			fatal("asprintf");
		sim->msglen = strlen(sim->msgtext);
	} else {
		if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
			fatal("%s", path);
		if ((sim->msgtext = malloc((size_t)st.st_size + 1)) == NULL)
			fatal("malloc");
		n = read(fd, sim->msgtext, (size_t)st.st_size);
		if (n != st.st_size)
			fatal("%s: short read", path);
		sim->msglen = (size_t)n;
		close(fd);
	}
	/* The whole message stays in memory: no spool file per session. */
	message_init(&sim->msg, SIZE_MAX, NULL);
	if (message_parse(&sim->msg, sim->msgtext, sim->msglen) == -1)
		fatalx("%s: malformed header section",
		    path != NULL ? path : "built-in message");
}

/* -m [stage:]name=value; the stage is a command name (connect, mail...). */
static void
add_macro(struct sim *sim, const char *arg)
{
	struct macro		*m;
	const char		*eq, *colon;
	char			 name[16];
	int			 st;

	if ((eq = strchr(arg, '=')) == NULL || eq == arg)
		fatalx("-m %s: expected name=value", arg);
	m = reallocarray(sim->macros, sim->nmacros + 1, sizeof(*m));
	if (m == NULL)
		fatal("reallocarray");
	sim->macros = m;
	m = &sim->macros[sim->nmacros++];
	m->stage = 0;
	colon = memchr(arg, ':', (size_t)(eq - arg));
	if (colon != NULL && arg[0] != '{') {
		if ((size_t)(colon - arg) < sizeof(name)) {
			memcpy(name, arg, (size_t)(colon - arg));
			name[colon - arg] = '\0';
			if ((st = milter_stage_named(name)) != -1 &&
			    milter_stages[st].list != -1)
				m->stage = milter_stages[st].cmd;
		}
		if (m->stage == 0)
			fatalx("-m %s: unknown stage", arg);
		arg = colon + 1;
	}
	if ((m->name = strndup(arg, (size_t)(eq - arg))) == NULL ||
	    (m->value = strdup(eq + 1)) == NULL)
		fatal("strdup");
}

/*
 * Macros.
 */

/* The value of a macro as the MTA would know it now, or NULL. */
static const char *
macro_value(struct sess *s, const char *name, char *buf, size_t len)
{
	const struct sim	*sim = s->sim;
	size_t			 i, n;

	for (i = 0; i < sim->nmacros; i++)
		if (strcmp(sim->macros[i].name, name) == 0)
			return sim->macros[i].value;
	if (strcmp(name, "j") == 0 || strcmp(name, "{daemon_name}") == 0)
		return "mtasim.example";
	if (strcmp(name, "{daemon_addr}") == 0)
		return "127.0.0.1";
	if (strcmp(name, "{daemon_port}") == 0)
		return "25";
	if (strcmp(name, "v") == 0)
		return "mtasim";
	if (strcmp(name, "{client_addr}") == 0)
		return sim->client_addr;
	if (strcmp(name, "{client_name}") == 0 ||
	    strcmp(name, "{client_ptr}") == 0)
		return sim->client_name;
	if (strcmp(name, "_") == 0) {
		snprintf(buf, len, "%s [%s]", sim->client_name,
		    sim->client_addr);
		return buf;
	}
	if (strcmp(name, "i") == 0 && s->have_qid) {
		/* One per message, as the MTA's queue ids. */
		snprintf(buf, len, "4MTASIM%04d", s->nmsg % 10000);
		return buf;
	}
	if (strcmp(name, "i") == 0)
		return NULL;
	if (strcmp(name, "{mail_addr}") == 0 ||
	    strcmp(name, "{rcpt_addr}") == 0) {
		snprintf(buf, len, "%s", name[1] == 'm' ? sim->from : s->rcpt);
		return buf;
	}
	if (strcmp(name, "{mail_mailer}") == 0 ||
	    strcmp(name, "{rcpt_mailer}") == 0)
		return "smtp";
	if (strcmp(name, "{mail_host}") == 0 ||
	    strcmp(name, "{rcpt_host}") == 0) {
		n = strcspn(name[1] == 'm' ? sim->from : s->rcpt, "@");
		snprintf(buf, len, "%s", (name[1] == 'm' ? sim->from :
		    s->rcpt) + n + ((name[1] == 'm' ? sim->from :
		    s->rcpt)[n] == '@'));
		return buf[0] != '\0' ? buf : NULL;
	}
	return NULL;
}

/*
 * The D packet before a command: the list the milter asked for at this
 * stage, else Postfix's default list plus -m macros of this stage (an
 * -m macro without stage not in any list goes with connect).
 */
static int
send_macros(struct sess *s, char cmd)
{
	const char	*list = NULL, *pairs[128], *v;
	char		 names[2048], vals[64][512], *tok, *save;
	size_t		 i, j, n = 0, nv = 0, len;
	int		 stage = milter_macro_list(cmd), listed;

	if (stage >= 0 && s->eff.macros[stage] != NULL &&
	    s->eff.macros[stage][0] != '\0')
		list = s->eff.macros[stage];
	names[0] = '\0';
	for (i = 0; list == NULL && i < sizeof(default_lists) /
	    sizeof(default_lists[0]); i++)
		if (default_lists[i].stage == cmd)
			strlcpy(names, default_lists[i].names, sizeof(names));
	for (i = 0; list == NULL && i < s->sim->nmacros; i++) {
		listed = strstr(names, s->sim->macros[i].name) != NULL;
		for (j = 0; !listed && j < sizeof(default_lists) /
		    sizeof(default_lists[0]); j++)
			listed = strstr(default_lists[j].names,
			    s->sim->macros[i].name) != NULL;
		if (s->sim->macros[i].stage == cmd || (cmd == SMFIC_CONNECT &&
		    s->sim->macros[i].stage == 0 && !listed)) {
			strlcat(names, " ", sizeof(names));
			strlcat(names, s->sim->macros[i].name, sizeof(names));
		}
	}
	if (list != NULL)
		strlcpy(names, list, sizeof(names));
	for (tok = strtok_r(names, " ,", &save); tok != NULL &&
	    n + 2 <= sizeof(pairs) / sizeof(pairs[0]) &&
	    nv < sizeof(vals) / sizeof(vals[0]);
	    tok = strtok_r(NULL, " ,", &save)) {
		len = sizeof(vals[nv]);
		if ((v = macro_value(s, tok, vals[nv], len)) == NULL)
			continue;
		if (v == vals[nv])
			nv++;
		pairs[n++] = tok;
		pairs[n++] = v;
	}
	if (n == 0)
		return 0;
	return milter_put_macros(&s->wbuf, cmd, pairs, n);
}

/*
 * I/O.
 */

static int
flush_out(struct sess *s)
{
	size_t	off = 0;
	ssize_t	n;

	if (s->wbuf.err) {
		if (s->out != NULL)
			fprintf(s->out, "error: cannot encode packet\n");
		return -1;
	}
	while (off < s->wbuf.len) {
		n = write(s->fd, s->wbuf.data + off, s->wbuf.len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (s->out != NULL)
				fprintf(s->out, "error: write: %s\n",
				    strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	mbuf_reset(&s->wbuf);
	return 0;
}

/* The next whole packet from the milter, waiting up to the timeout. */
static int
next_packet(struct sess *s, struct milter_pkt *pkt)
{
	struct pollfd	 pfd;
	size_t		 used;
	ssize_t		 n;
	uint8_t		*nb;
	int		 rc;

	if (s->rdone > 0) {
		memmove(s->rbuf, s->rbuf + s->rdone, s->rlen - s->rdone);
		s->rlen -= s->rdone;
		s->rdone = 0;
	}
	for (;;) {
		rc = milter_frame(s->rbuf, s->rlen, RBUF_MAX, pkt, &used);
		if (rc == MILTER_FRAME_OK) {
			s->rdone = used;
			return 0;
		}
		if (rc < 0) {
			if (s->out != NULL)
				fprintf(s->out, "error: %s\n",
				    milter_frame_strerror(rc));
			return -1;
		}
		if (s->rcap - s->rlen < 65536) {
			if ((nb = realloc(s->rbuf, s->rcap * 2 + 65536)) ==
			    NULL)
				fatal("realloc");
			s->rbuf = nb;
			s->rcap = s->rcap * 2 + 65536;
		}
		pfd.fd = s->fd;
		pfd.events = POLLIN;
		if ((rc = poll(&pfd, 1, s->sim->timeout_ms)) == 0) {
			if (s->out != NULL)
				fprintf(s->out, "error: timeout waiting for "
				    "the milter\n");
			return -1;
		}
		n = rc == -1 ? -1 : read(s->fd, s->rbuf + s->rlen,
		    s->rcap - s->rlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (s->out != NULL)
				fprintf(s->out, "error: %s\n", n == 0 ?
				    "milter closed the connection" :
				    strerror(errno));
			return -1;
		}
		s->rlen += (size_t)n;
	}
}

/*
 * Read replies to cmd until a final one: progress restarts the wait,
 * modifications are legal after E only (quarantine anywhere, as
 * Postfix allows).
 */
static int
await_reply(struct sess *s, char cmd, struct milter_reply *r)
{
	struct milter_pkt	 pkt;
	const char		*err;

	for (;;) {
		if (next_packet(s, &pkt) == -1)
			return -1;
		if (milter_decode_reply(&pkt, r, &err) == -1) {
			if (s->out != NULL)
				fprintf(s->out, "error: %s reply '%c': %s\n",
				    milter_code_name(cmd), pkt.code, err);
			return -1;
		}
		if (cmd == SMFIC_OPTNEG)
			return r->code == SMFIR_OPTNEG ? 0 : -1;
		if (r->code == SMFIR_PROGRESS) {
			if (s->out != NULL && s->sim->verbose)
				fprintf(s->out, "  progress\n");
			continue;
		}
		if (milter_reply_is_edit(r->code)) {
			if (cmd != SMFIC_BODYEOB &&
			    r->code != SMFIR_QUARANTINE) {
				if (s->out != NULL)
					fprintf(s->out, "error: %s at %s\n",
					    milter_code_name(r->code),
					    milter_code_name(cmd));
				return -1;
			}
			if (handle_edit(s, r) == -1)
				return -1;
			continue;
		}
		if (!milter_reply_is_final(r->code) ||
		    (r->code == SMFIR_SKIP && cmd != SMFIC_BODY)) {
			if (s->out != NULL)
				fprintf(s->out, "error: unexpected %s at %s\n",
				    milter_code_name(r->code),
				    milter_code_name(cmd));
			return -1;
		}
		return 0;
	}
}

/*
 * Send what is queued plus the command's own packet (already in wbuf)
 * and, if the milter answers this command, wait for the reply.  A
 * command not answered counts as continue.
 */
static int
command(struct sess *s, char cmd, struct milter_reply *r)
{
	if (flush_out(s) == -1)
		return -1;
	if (!milter_cmd_replied(&s->eff, cmd)) {
		memset(r, 0, sizeof(*r));
		r->code = SMFIR_CONTINUE;
		return 0;
	}
	return await_reply(s, cmd, r);
}

static int
verdict_of(const struct milter_reply *r)
{
	switch (r->code) {
	case SMFIR_REJECT:
		return EX_REJECT;
	case SMFIR_TEMPFAIL:
	case SMFIR_SHUTDOWN:
		return EX_TEMPFAIL;
	case SMFIR_DISCARD:
		return EX_DISCARD;
	case SMFIR_REPLYCODE:
		return r->u.str[0] == '5' ? EX_REJECT : EX_TEMPFAIL;
	default:
		return EX_ACCEPT;
	}
}

static void
print_reply(struct sess *s, const char *what, const struct milter_reply *r)
{
	if (s->out == NULL)
		return;
	if (r->code == SMFIR_REPLYCODE)
		fprintf(s->out, "%s: replycode %s\n", what, r->u.str);
	else
		fprintf(s->out, "%s: %s\n", what, milter_code_name(r->code));
}

/* One modification at end of message: print it, apply it to the copy. */
static int
handle_edit(struct sess *s, const struct milter_reply *r)
{
	const struct milter_header	*h = &r->u.header;
	const char			*err;
	FILE				*o = s->out;

	if (o != NULL) {
		switch (r->code) {
		case SMFIR_ADDHEADER:
			fprintf(o, "  add header: %s:%s\n", h->name, h->value);
			break;
		case SMFIR_INSHEADER:
			fprintf(o, "  insert header at %u: %s:%s\n", h->index,
			    h->name, h->value);
			break;
		case SMFIR_CHGHEADER:
			if (h->value[0] == '\0')
				fprintf(o, "  delete header: %s[%u]\n",
				    h->name, h->index);
			else
				fprintf(o, "  change header: %s[%u]:%s\n",
				    h->name, h->index, h->value);
			break;
		case SMFIR_REPLBODY:
			if (s->sim->verbose)
				fprintf(o, "  replace body: %zu bytes\n",
				    r->u.body.len);
			break;
		case SMFIR_ADDRCPT:
			fprintf(o, "  add recipient: %s\n", r->u.str);
			break;
		case SMFIR_ADDRCPT_PAR:
			fprintf(o, "  add recipient: %s %s\n",
			    r->u.addr.addr, r->u.addr.args ? r->u.addr.args :
			    "");
			break;
		case SMFIR_DELRCPT:
			fprintf(o, "  delete recipient: %s\n", r->u.str);
			break;
		case SMFIR_CHGFROM:
			fprintf(o, "  change sender: %s %s\n",
			    r->u.addr.addr, r->u.addr.args ? r->u.addr.args :
			    "");
			break;
		case SMFIR_QUARANTINE:
			fprintf(o, "  quarantine: %s\n", r->u.str);
			break;
		}
	}
	if (o == NULL)
		return 0;
	s->edited = 1;
	if (message_apply(&s->msg, r, (s->eff.protocol &
	    SMFIP_HDR_LEADSPC) != 0, &err) == -1) {
		fprintf(o, "error: %s: %s\n", milter_code_name(r->code), err);
		return -1;
	}
	return 0;
}

/*
 * The session.
 */

static int
negotiate(struct sess *s)
{
	struct milter_reply	 r;
	const char		*err;
	int			 stage;

	s->offer.version = s->sim->version;
	s->offer.actions = SMFI_CURR_ACTS;
	switch (s->sim->version) {
	case 2:
		s->offer.protocol = SMFI_V2_PROT;
		break;
	case 3:
		s->offer.protocol = SMFI_V2_PROT | SMFIP_NOUNKNOWN;
		break;
	case 4:
		s->offer.protocol = SMFI_V2_PROT | SMFIP_NOUNKNOWN |
		    SMFIP_NODATA;
		break;
	default:
		s->offer.protocol = SMFI_CURR_PROT;
		break;
	}
	if (milter_put_optneg(&s->wbuf, &s->offer) == -1 ||
	    command(s, SMFIC_OPTNEG, &r) == -1)
		return -1;
	if (r.code != SMFIR_OPTNEG ||
	    milter_negotiate_mta(&s->offer, &r.u.optneg, &s->eff, &err) == -1) {
		if (s->out != NULL)
			fprintf(s->out, "error: negotiation: %s\n",
			    r.code != SMFIR_OPTNEG ? "not an O reply" : err);
		return -1;
	}
	if (s->out != NULL) {
		fprintf(s->out, "negotiate: version %u actions 0x%x "
		    "protocol 0x%x\n", s->eff.version, s->eff.actions,
		    s->eff.protocol);
		for (stage = 0; stage < SMFIM_COUNT; stage++)
			if (s->eff.macros[stage] != NULL)
				fprintf(s->out, "  macros %d: %s\n", stage,
				    s->eff.macros[stage]);
	}
	return 0;
}

/*
 * Send cmd (macros first) if the milter wants it and print the reply as
 * "label: reply" (if quiet, only a reply other than continue, unless
 * -v); -1 on error, else 0.
 */
static int
step(struct sess *s, char cmd, const struct milter_cmd *c,
    struct milter_reply *r, const char *label, int quiet)
{
	memset(r, 0, sizeof(*r));
	r->code = SMFIR_CONTINUE;
	if (!milter_cmd_sent(&s->eff, cmd))
		return 0;
	if (send_macros(s, cmd) == -1 || milter_put_cmd(&s->wbuf, c) == -1 ||
	    command(s, cmd, r) == -1)
		return -1;
	if (!quiet || r->code != SMFIR_CONTINUE || s->sim->verbose)
		print_reply(s, label, r);
	return 0;
}

/*
 * Connect and HELO: -1 error, 1 + verdict if the connection is
 * decided, 0 go on.
 */
static int
greet(struct sess *s)
{
	const struct sim	*sim = s->sim;
	struct milter_cmd	 c;
	struct milter_reply	 r;

	memset(&c, 0, sizeof(c));
	c.code = SMFIC_CONNECT;
	c.u.connect.host = sim->client_name;
	c.u.connect.addr = sim->client_addr;
	c.u.connect.port = 54321;
	c.u.connect.family = sim->client_addr[0] == '/' ? SMFIA_UNIX :
	    strchr(sim->client_addr, ':') != NULL ? SMFIA_INET6 : SMFIA_INET;
	if (step(s, SMFIC_CONNECT, &c, &r, "connect", 0) == -1)
		return -1;
	if (r.code != SMFIR_CONTINUE)
		return 1 + verdict_of(&r);

	c.code = SMFIC_HELO;
	c.u.str = sim->helo;
	if (step(s, SMFIC_HELO, &c, &r, "helo", 0) == -1)
		return -1;
	return r.code == SMFIR_CONTINUE ? 0 : 1 + verdict_of(&r);
}

/* MAIL, RCPT, DATA: -1 error, 1 + verdict if decided, 0 go on. */
static int
transaction(struct sess *s)
{
	const struct sim	*sim = s->sim;
	struct milter_cmd	 c;
	struct milter_reply	 r;
	char			 what[600], arg[512];
	size_t			 i, ok = 0, tmp = 0;

	memset(&c, 0, sizeof(c));
	snprintf(arg, sizeof(arg), "<%s>", sim->from);
	c.code = SMFIC_MAIL;
	c.u.args.buf = arg;
	c.u.args.len = strlen(arg) + 1;
	c.u.args.count = 1;
	snprintf(what, sizeof(what), "mail %s", arg);
	if (step(s, SMFIC_MAIL, &c, &r, what, 0) == -1)
		return -1;
	if (r.code != SMFIR_CONTINUE)
		return 1 + verdict_of(&r);

	for (i = 0; i < sim->nrcpts; i++) {
		s->rcpt = sim->rcpts[i];
		snprintf(arg, sizeof(arg), "<%s>", sim->rcpts[i]);
		c.code = SMFIC_RCPT;
		c.u.args.buf = arg;
		c.u.args.len = strlen(arg) + 1;
		snprintf(what, sizeof(what), "rcpt %s", arg);
		if (step(s, SMFIC_RCPT, &c, &r, what, 0) == -1)
			return -1;
		if (r.code == SMFIR_ACCEPT || r.code == SMFIR_DISCARD)
			return 1 + verdict_of(&r);
		if (r.code == SMFIR_CONTINUE) {
			ok++;
			/* Postfix assigns the queue id at the first
			 * accepted recipient. */
			s->have_qid = 1;
		} else if (verdict_of(&r) == EX_TEMPFAIL)
			tmp++;
	}
	if (ok == 0) {
		if (s->out != NULL)
			fprintf(s->out, "result: no recipient accepted\n");
		return 1 + (tmp > 0 ? EX_TEMPFAIL : EX_REJECT);
	}
	c.code = SMFIC_DATA;
	if (step(s, SMFIC_DATA, &c, &r, "data", 0) == -1)
		return -1;
	return r.code == SMFIR_CONTINUE ? 0 : 1 + verdict_of(&r);
}

/* Headers, end of headers, body, end of message. */
static int
content(struct sess *s)
{
	const struct message	*m = &s->sim->msg;
	struct milter_cmd	 c;
	struct milter_reply	 r;
	uint8_t			 chunk[MILTER_CHUNK_SIZE];
	size_t			 i, off = 0;
	ssize_t			 n;
	int			 leadspc = s->eff.protocol & SMFIP_HDR_LEADSPC;
	int			 replaced;
	char			 what[600];

	memset(&c, 0, sizeof(c));
	for (i = 0; i < m->nhdrs; i++) {
		c.code = SMFIC_HEADER;
		c.u.header.name = m->hdrs[i].name;
		c.u.header.value = m->hdrs[i].value;
		if (!leadspc && c.u.header.value[0] == ' ')
			c.u.header.value++;
		snprintf(what, sizeof(what), "header %s", m->hdrs[i].name);
		if (step(s, SMFIC_HEADER, &c, &r, what, 1) == -1)
			return -1;
		if (r.code != SMFIR_CONTINUE)
			return 1 + verdict_of(&r);
	}
	c.code = SMFIC_EOH;
	if (step(s, SMFIC_EOH, &c, &r, "eoh", 0) == -1)
		return -1;
	if (r.code != SMFIR_CONTINUE)
		return 1 + verdict_of(&r);
	c.code = SMFIC_BODY;
	while ((n = spool_read(&m->body, off, chunk, sizeof(chunk))) > 0) {
		off += (size_t)n;
		c.u.body.data = chunk;
		c.u.body.len = (size_t)n;
		if (step(s, SMFIC_BODY, &c, &r, "body", 1) == -1)
			return -1;
		if (r.code == SMFIR_SKIP)
			break;
		if (r.code != SMFIR_CONTINUE)
			return 1 + verdict_of(&r);
	}
	if (s->out != NULL)
		fprintf(s->out, "body: %zu bytes sent\n", off);
	c.code = SMFIC_BODYEOB;
	send_macros(s, SMFIC_BODYEOB);
	if (milter_put_cmd(&s->wbuf, &c) == -1 ||
	    command(s, SMFIC_BODYEOB, &r) == -1)
		return -1;
	replaced = s->msg.replacing != 0;
	if (message_edits_done(&s->msg) == -1)
		return -1;
	if (s->out != NULL && replaced)
		fprintf(s->out, "  replace body: %zu bytes\n",
		    s->msg.body.len);
	print_reply(s, "eom", &r);
	return 1 + verdict_of(&r);
}

static void
print_result(struct sess *s, int rc)
{
	if (s->out != NULL)
		fprintf(s->out, "result: %s\n", rc == EX_ACCEPT ? "accept" :
		    rc == EX_REJECT ? "reject" : rc == EX_TEMPFAIL ?
		    "tempfail" : rc == EX_DISCARD ? "discard" : "error");
}

/* One transaction. */
static int
one_message(struct sess *s)
{
	int	rc;

	if (s->out != NULL) {
		message_reset(&s->msg);
		if (message_parse(&s->msg, s->sim->msgtext,
		    s->sim->msglen) == -1)
			fatalx("message: malformed header section");
	}
	s->have_qid = 0;
	s->nmsg++;
	if ((rc = transaction(s)) == 0)
		rc = content(s);
	if (rc == -1)
		return EX_ERROR;
	print_result(s, rc - 1);
	return rc - 1;
}

/*
 * The whole session: -K connections over the one milter connection,
 * separated by quit-new-connection, -M messages in each.  The verdict
 * is the last message's.
 */
static int
run_session(const struct sim *sim, FILE *out)
{
	struct sess	 s;
	FILE		*fp;
	int		 rc = EX_ERROR, conn, msg;

	memset(&s, 0, sizeof(s));
	s.sim = sim;
	s.out = out;
	mbuf_init(&s.wbuf);
	message_init(&s.msg, SIZE_MAX, NULL);
	if ((s.fd = sockspec_connect(&sim->sock, 0)) == -1) {
		if (out != NULL)
			fprintf(out, "error: connect %s: %s\n", sim->sock.text,
			    strerror(errno));
		goto done;
	}
	if (negotiate(&s) == -1)
		goto quit;
	for (conn = 0; conn < sim->connections; conn++) {
		if (conn > 0) {
			if (!milter_cmd_sent(&s.eff, SMFIC_QUIT_NC)) {
				if (out != NULL)
					fprintf(out, "error: quit-new-connection"
					    " needs protocol version 6\n");
				rc = EX_ERROR;
				goto quit;
			}
			milter_put_empty(&s.wbuf, SMFIC_QUIT_NC);
			if (out != NULL)
				fprintf(out, "quit-new-connection\n");
		}
		if ((rc = greet(&s)) == -1) {
			rc = EX_ERROR;
			goto quit;
		}
		if (rc > 0) {
			print_result(&s, --rc);
			continue;
		}
		for (msg = 0; msg < sim->messages; msg++) {
			/*
			 * Abort between transactions, as Postfix does; not
			 * before K, which libmilter takes only right after
			 * the end of a message.
			 */
			if (msg > 0)
				milter_put_empty(&s.wbuf, SMFIC_ABORT);
			if ((rc = one_message(&s)) == EX_ERROR)
				goto quit;
		}
	}
quit:
	if (rc == EX_ERROR)
		print_result(&s, rc);
	milter_put_empty(&s.wbuf, SMFIC_ABORT);
	milter_put_empty(&s.wbuf, SMFIC_QUIT);
	(void)flush_out(&s);
	close(s.fd);
	if (out != NULL && sim->outfile != NULL) {
		fp = strcmp(sim->outfile, "-") == 0 ? stdout :
		    fopen(sim->outfile, "w");
		if (fp == NULL || message_write(&s.msg, fp) == -1)
			fatal("%s", sim->outfile);
		if (fp != stdout)
			fclose(fp);
	}
done:
	message_free(&s.msg);
	mbuf_free(&s.wbuf);
	free(s.rbuf);
	return rc;
}

/*
 * Load mode.
 */

struct load {
	const struct sim	*sim;
	long			 total;
	atomic_long		 next;
	atomic_long		 results[EX_ERROR + 1];
	double			*latency;	/* milliseconds, per session */
};

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *
load_thread(void *arg)
{
	struct load	*l = arg;
	long		 i;
	double		 t0;
	int		 rc;

	while ((i = atomic_fetch_add(&l->next, 1)) < l->total) {
		t0 = now_ms();
		rc = run_session(l->sim, NULL);
		l->latency[i] = now_ms() - t0;
		atomic_fetch_add(&l->results[rc], 1);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
run_load(const struct sim *sim, long sessions, long concurrency)
{
	struct load	 l;
	pthread_t	*tids;
	double		 t0, secs;
	long		 i;

	memset(&l, 0, sizeof(l));
	l.sim = sim;
	l.total = sessions;
	if ((l.latency = calloc((size_t)sessions, sizeof(double))) == NULL ||
	    (tids = calloc((size_t)concurrency, sizeof(*tids))) == NULL)
		fatal("calloc");
	t0 = now_ms();
	for (i = 0; i < concurrency; i++)
		if (pthread_create(&tids[i], NULL, load_thread, &l) != 0)
			fatalx("pthread_create failed");
	for (i = 0; i < concurrency; i++)
		pthread_join(tids[i], NULL);
	secs = (now_ms() - t0) / 1e3;
	qsort(l.latency, (size_t)sessions, sizeof(double), cmp_double);
	printf("sessions: %ld concurrency: %ld elapsed: %.3f s\n", sessions,
	    concurrency, secs);
	printf("sessions/s: %.1f\n", sessions / secs);
	printf("latency ms: p50 %.3f p90 %.3f p99 %.3f\n",
	    l.latency[sessions * 50 / 100], l.latency[sessions * 90 / 100],
	    l.latency[sessions * 99 / 100]);
	printf("results: accept %ld reject %ld tempfail %ld discard %ld "
	    "error %ld\n", atomic_load(&l.results[EX_ACCEPT]),
	    atomic_load(&l.results[EX_REJECT]),
	    atomic_load(&l.results[EX_TEMPFAIL]),
	    atomic_load(&l.results[EX_DISCARD]),
	    atomic_load(&l.results[EX_ERROR]));
	free(l.latency);
	free(tids);
	return atomic_load(&l.results[EX_ERROR]) ? EX_ERROR : 0;
}

/*
 * Hold mode: open the sessions one after another, each as far as DATA,
 * hold them all open until the standard input ends, then finish them
 * one after another.  The sessions are never in flight together, so
 * one thread does: what is measured is what the other side keeps per
 * open session.
 */
static int
run_hold(const struct sim *sim, long sessions)
{
	struct sess	*ss;
	struct rlimit	 rl;
	long		 i, held = 0, results[EX_ERROR + 1];
	char		 buf[512];
	double		 t0;
	int		 rc;

	/* One descriptor per session: as many as this process may have. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(results, 0, sizeof(results));
	if ((ss = calloc((size_t)sessions, sizeof(*ss))) == NULL)
		fatal("calloc");
	t0 = now_ms();
	for (i = 0; i < sessions; i++) {
		ss[i].sim = sim;
		mbuf_init(&ss[i].wbuf);
		message_init(&ss[i].msg, SIZE_MAX, NULL);
		if ((ss[i].fd = sockspec_connect(&sim->sock, 0)) == -1) {
			log_warn("session %ld: connect %s", i, sim->sock.text);
			rc = -1;
		} else if ((rc = negotiate(&ss[i])) == 0 &&
		    (rc = greet(&ss[i])) == 0)
			rc = transaction(&ss[i]);
		if (rc == 0) {
			held++;
			continue;
		}
		/* Decided (or failed) before DATA: not held. */
		results[rc == -1 ? EX_ERROR : rc - 1]++;
		if (ss[i].fd != -1) {
			milter_put_empty(&ss[i].wbuf, SMFIC_ABORT);
			milter_put_empty(&ss[i].wbuf, SMFIC_QUIT);
			(void)flush_out(&ss[i]);
			close(ss[i].fd);
			ss[i].fd = -1;
		}
	}
	printf("held: %ld of %ld sessions, opened in %.3f s\n", held,
	    sessions, (now_ms() - t0) / 1e3);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	t0 = now_ms();
	for (i = 0; i < sessions; i++) {
		if (ss[i].fd != -1) {
			rc = content(&ss[i]);
			results[rc == -1 ? EX_ERROR : rc - 1]++;
			milter_put_empty(&ss[i].wbuf, SMFIC_ABORT);
			milter_put_empty(&ss[i].wbuf, SMFIC_QUIT);
			(void)flush_out(&ss[i]);
			close(ss[i].fd);
		}
		message_free(&ss[i].msg);
		mbuf_free(&ss[i].wbuf);
		free(ss[i].rbuf);
	}
	printf("finished in %.3f s\n", (now_ms() - t0) / 1e3);
	printf("results: accept %ld reject %ld tempfail %ld discard %ld "
	    "error %ld\n", results[EX_ACCEPT], results[EX_REJECT],
	    results[EX_TEMPFAIL], results[EX_DISCARD], results[EX_ERROR]);
	free(ss);
	return results[EX_ERROR] ? EX_ERROR : 0;
}

static void
sim_free(struct sim *sim)
{
	size_t	i;

	for (i = 0; i < sim->nmacros; i++) {
		free(sim->macros[i].name);
		free(sim->macros[i].value);
	}
	free(sim->macros);
	free(sim->msgtext);
	message_free(&sim->msg);
}

int
main(int argc, char *argv[])
{
	struct sim	 sim;
	const char	*errstr, *socket = NULL;
	char		 err[256];
	long		 sessions = 0, concurrency = 1;
	int		 ch, rc, hold = 0;

	memset(&sim, 0, sizeof(sim));
	sim.from = "sender@example.com";
	sim.helo = "client.example";
	sim.client_addr = "192.0.2.1";
	sim.client_name = "client.example";
	sim.version = MILTER_VERSION;
	sim.timeout_ms = 30000;
	sim.messages = 1;
	sim.connections = 1;
	log_init(1, 0);

	while ((ch = getopt(argc, argv, "a:c:f:H:K:M:m:N:n:o:P:r:s:t:vw")) != -1) {
		switch (ch) {
		case 'a':
			sim.client_addr = optarg;
			break;
		case 'c':
			concurrency = strtonum(optarg, 1, 100000, &errstr);
			if (errstr != NULL)
				fatalx("-c %s: %s", optarg, errstr);
			break;
		case 'f':
			sim.from = optarg;
			break;
		case 'H':
			sim.helo = optarg;
			break;
		case 'K':
			sim.connections = (int)strtonum(optarg, 1, 1000,
			    &errstr);
			if (errstr != NULL)
				fatalx("-K %s: %s", optarg, errstr);
			break;
		case 'M':
			sim.messages = (int)strtonum(optarg, 1, 1000, &errstr);
			if (errstr != NULL)
				fatalx("-M %s: %s", optarg, errstr);
			break;
		case 'm':
			add_macro(&sim, optarg);
			break;
		case 'N':
			sim.client_name = optarg;
			break;
		case 'n':
			sessions = strtonum(optarg, 1, 100000000, &errstr);
			if (errstr != NULL)
				fatalx("-n %s: %s", optarg, errstr);
			break;
		case 'o':
			sim.outfile = optarg;
			break;
		case 'P':
			sim.version = (uint32_t)strtonum(optarg, 2, 6, &errstr);
			if (errstr != NULL || sim.version == 5)
				fatalx("-P %s: version must be 2, 3, 4 or 6",
				    optarg);
			break;
		case 'r':
			sim.rcpts = reallocarray(sim.rcpts, sim.nrcpts + 1,
			    sizeof(*sim.rcpts));
			if (sim.rcpts == NULL)
				fatal("reallocarray");
			sim.rcpts[sim.nrcpts++] = optarg;
			break;
		case 's':
			socket = optarg;
			break;
		case 't':
			sim.timeout_ms = (int)strtonum(optarg, 1, 86400,
			    &errstr) * 1000;
			if (errstr != NULL)
				fatalx("-t %s: %s", optarg, errstr);
			break;
		case 'v':
			sim.verbose = 1;
			break;
		case 'w':
			hold = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (socket == NULL || argc > 1)
		usage();
	if (hold && (sessions == 0 || sim.outfile != NULL ||
	    sim.messages > 1 || sim.connections > 1))
		fatalx("-w needs -n and goes with neither -o, -M nor -K");
	if (sockspec_parse(socket, &sim.sock, err, sizeof(err)) == -1)
		fatalx("%s: %s", socket, err);
	if (sim.nrcpts == 0) {
		sim.rcpts = reallocarray(NULL, 1, sizeof(*sim.rcpts));
		if (sim.rcpts == NULL)
			fatal("reallocarray");
		sim.rcpts[sim.nrcpts++] = "recipient@example.com";
	}
	load_message(&sim, argc == 1 ? argv[0] : NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A milter that hangs up is reported, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	if (hold)
		rc = run_hold(&sim, sessions);
	else if (sessions > 0)
		rc = run_load(&sim, sessions, concurrency);
	else
		rc = run_session(&sim, stdout);
	sim_free(&sim);
	free(sim.rcpts);
	return rc;
}
