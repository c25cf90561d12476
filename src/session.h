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
 * session.h: one MTA connection and the children that serve it.
 */

#ifndef SESSION_H
#define SESSION_H

#include <sys/queue.h>
#include <sys/time.h>

#include <event2/event.h>

#include "chain.h"
#include "child.h"
#include "conf.h"
#include "conn.h"
#include "conncheck.h"
#include "macros.h"
#include "message.h"
#include "milter.h"
#include "stats.h"

struct dns_wait;
struct lookup;
struct lua_wait;
struct session;
struct pool;
struct shadow;

/* What a session is given of the process that runs it (worker.c). */
struct session_host {
	struct child_launcher	 launcher;	/* given to its children */
	/* The MTA's side is over: the session is to be freed. */
	void		 (*done)(struct session *);
	/*
	 * The MTA's side is over but a shadow still works (shadow.c):
	 * the session lingers, and yields its room (shadow_yield())
	 * when the worker needs it for a new session.
	 */
	void		 (*lingers)(struct session *);
	/* The worker's kept child connections (reuse_connections). */
	struct pool	*pool;
};

/* What is known of the SMTP client's connection (disconnect check). */
enum client_check {
	CLIENT_UNCHECKED,	/* not checked: no tuple, off, remote */
	CLIENT_UNSEEN,		/* to be looked for */
	CLIENT_SEEN,		/* found once: its loss means gone */
	CLIENT_UNVERIFIABLE	/* not found the first time */
};

struct session {
	char			 id[32];	/* worker.sequence */
	struct event_base	*base;
	const struct conf	*conf;
	const struct session_host *host;
	struct chain		 chain;		/* what is to be done */
	int			 acting;	/* carrying its actions out */
	struct child_link	 link;		/* given to its children */
	struct child		*kids;		/* as many as chain.kids */
	struct conn		*mta;
	int			 msg_error;	/* the copy is incomplete */
	int			 over;		/* a per-message bound passed */
	size_t			 nheaders;	/* this message's */
	size_t			 header_bytes;
	size_t			 nrcpts;	/* RCPT commands, this message */
	size_t			 repl_owner;	/* 1 + the child in msg.newbody */
	size_t			 repl_bytes;	/* its pieces' bytes */
	const char		*repl_err;	/* what the copy could not take */
	struct event		*idle;		/* mta_timeout */
	struct event		*resume;	/* take the next packets */
	int			 mta_leadspc;
	int			 mta_local;	/* the MTA is on this host */
	size_t			 listener;	/* conf->listen[] it came on */
	struct mbuf		 cur;		/* the MTA command at work */
	struct macros		 mac;		/* the MTA's, and the lists */
	struct mbuf		 out;		/* encoding scratch */
	struct mbuf		 edits;		/* net edits for the MTA */
	struct replay		 body;		/* the replaced, to the MTA */
	struct message		 msg;
	struct event		*progress;
	char			 client[128];
	char			 queue_ids[256];	/* the log line's */
	char			 family;	/* of the connect command */
	char			 sender[512];
	char			 rcpt[512];	/* at RCPT */
	char			 helo[256];
	struct mbuf		 rcpts;		/* this message's, NUL after each */
	struct dns_wait		*dns;		/* dnsbl lookups at connect */
	struct lua_wait		*lua;		/* lua lookups, this command */
	size_t			 rcpts_mark;	/* rcpts before this RCPT */
	int			*cond_result;	/* per condition, this command */
	int			*cond_last;	/* its latest, for groups */
	enum client_check	 check;
	struct conncheck_item	 checking;
	uint64_t		 wait_since;	/* on the children; 0: not */
	char			 verdict[64];	/* the last, for the log */
	enum verdict		 final;		/* the same, counted */
	struct timeval		 start;
	struct shadow		**shadows;	/* per child; shadow.c */
	struct timeval		 ended;		/* the MTA's side, lingering */
	const char		*end_why;	/* while shadows finish */
	int			 end_error;
	TAILQ_ENTRY(session)	 entry;
	TAILQ_ENTRY(session)	 linger_entry;	/* the worker's, lingering */
};

/* session.c */
struct session	*session_new(struct event_base *, const struct conf *,
		    const struct session_host *, int, const char *, int);
void		 session_run(struct session *);
void		 session_free(struct session *);
void		 session_reply(struct session *, char, const char *);
void		 session_verdict(struct session *, char, const char *, char);

/* sessionlog.c */
void		 session_queue_id(struct session *, const char *);
void		 session_client_label(struct session *,
		    const struct milter_connect *);
void		 session_log(const struct session *, const char *, int);
void		 session_log_action(struct session *,
		    const struct chain_action *);

/* intake.c */
int		 intake_rcpt(struct session *);
void		 intake(struct session *, const struct milter_cmd *);
void		 intake_forget(struct session *);

/* disconnect.c */
void		 client_tuple(struct session *, const struct milter_connect *);
void		 session_check_due(struct session *, uint64_t);

/* replay.c */
void		 replay_child(struct session *, struct child *,
		    struct replay *);
void		 replay_body(struct session *);
int		 take_edits(struct session *, struct child *, int *);
const char	*keep_edit(struct session *, struct child *, char, const void *,
		    size_t);
int		 replay_packet(struct session *, struct child *,
		    struct replay *);

/* shadow.c */
void		 shadow_command(struct session *, struct child *, char);
void		 shadow_eom(struct session *, struct child *);
void		 shadow_message_over(struct session *);
void		 shadow_answered(struct session *, enum verdict);
extern const struct child_ops shadow_ops;
int		 shadow_role(const struct conf *, const struct milter_conf *,
		    const char *);
void		 shadow_quit(struct session *, struct child *);
int		 shadow_pending(const struct session *);
void		 shadow_linger(struct session *, const char *, int);
const char	*shadow_verdict(const struct session *, size_t);
void		 shadow_free(struct session *);
void		 shadow_yield(struct session *);

/* apply.c */
void		 apply_conditions(struct session *, char);
void		 apply_wait(struct session *, void (*)(struct session *));
void		 apply_eom(struct session *, size_t);
void		 apply_macros(struct session *, size_t, char, struct mbuf *,
		    size_t);
void		 apply_view(struct session *, char, struct cond_view *);
int		 apply_holds(struct session *, const struct child *,
		    const struct cond_ref *, const struct cond_view *);
void		 dnsbl_free(struct dns_wait *);

/* luawait.c */
int		 luawait_prepare(struct session *,
		    void (*)(struct session *));
void		 luawait_command(struct session *);
void		 luawait_eom(struct session *, size_t);
void		 luawait_answered(void *, struct lookup *);
void		 luawait_free(struct lua_wait *);

#endif /* SESSION_H */
