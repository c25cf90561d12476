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
 * milterd.h: the daemon's processes and sessions.  Prototypes are
 * grouped by the file that defines them.
 */

#ifndef MILTERD_H
#define MILTERD_H

#include <sys/queue.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/buffer.h>

#include "conf.h"
#include "conn.h"
#include "conncheck.h"
#include "log.h"
#include "merge.h"
#include "message.h"
#include "milter.h"
#include "stats.h"

/* Largest packet accepted from the MTA or a child (payload bytes). */
#define PACKET_MAX	MILTER_MDS_1M

/* Worker -> launcher: start this child.  One packet each way. */
#define LAUNCH_VERSION	1
struct launch_request {
	uint32_t	version;
	char		name[64];
};

#define LAUNCH_STARTED	1
#define LAUNCH_INFLIGHT	2	/* started already, not yet reaped */
#define LAUNCH_REFUSED	3	/* for good: not in the configuration */
#define LAUNCH_LATER	4	/* not now: ask again later */
struct launch_reply {
	uint32_t	status;
	char		name[64];
	char		reason[128];
};

/* Where a child is in its conversation. */
enum child_state {
	CHILD_IDLE,		/* not connected (before O, after K) */
	CHILD_CONNECTING,
	CHILD_NEGOTIATING,
	CHILD_READY,		/* nothing awaited */
	CHILD_WAITING,		/* a reply awaited */
	CHILD_FAILED		/* dropped for the session */
};

struct session;
struct dns_wait;

struct child {
	struct session			*sess;
	const struct milter_conf	*mc;
	size_t				 idx;
	enum child_state		 state;
	struct conn			*conn;
	struct event			*timer;
	struct stats_child		*stats;	/* its counters */
	int				 evaluation;	/* in effect */
	struct milter_optneg		 eff;	/* negotiated */
	int				 leadspc;
	int				 done;	/* 1 message, 2 connection */
	int				 owed;	/* failed between commands */
	time_t				 launch_until;	/* retrying until */
	int				 retrying;	/* timer is a retry */
	int				 stalled;	/* replay waits for a drain */
	int				 in_msg; /* got M since the last A */
	char				 cmd;	/* the command awaited */
	char				 reply;	/* its final reply, this round */
	struct mbuf			 replytext;	/* of a 'y' reply */
	struct mbuf			 edits;	/* at E, until final */
	int				 quarantined;
	int				 phase;	/* of the replay at E */
	size_t				 replay_hdr;	/* next header */
	size_t				 replay_off;	/* body offset */
	int				 timed_out;	/* the failure at hand */
	uint64_t			 sent_us;	/* awaited since */
	uint64_t			 wait_us;	/* for its replies, in all */
	enum verdict			 verdict;	/* its last, if any */
	int				 verdict_evaluated;
	int				 aborted;	/* client gone: 1 at work, 2 done */
	const struct cond_ref		*stopped;	/* by this condition */
	int				 skip;	/* not this recipient */
	int				 rcpt_counted;	/* this one, in the next */
	int				 rcpt_shown;	/* this message */
	int				 rcpt_hidden;
};

/* What a command waits for from the children. */
struct round {
	char		 cmd;
	size_t		 pos;		/* sequential: the current child */
	size_t		 waiting;	/* replies still awaited */
};

/* What is known of the SMTP client's connection (disconnect check). */
#define CLIENT_UNCHECKED	0	/* not checked: no tuple, off, remote */
#define CLIENT_UNSEEN		1	/* to be looked for */
#define CLIENT_SEEN		2	/* found once: its loss means gone */
#define CLIENT_UNVERIFIABLE	3	/* not found the first time */

struct session {
	char			 id[32];	/* worker.sequence */
	struct event_base	*base;
	const struct conf	*conf;
	struct conn		*mta;
	int			 busy;		/* children at work */
	int			 closing;	/* Q seen */
	int			 negotiated;	/* the MTA has its O */
	int			 msg_error;	/* the copy is incomplete */
	struct event		*resume;	/* take the next packets */
	struct milter_optneg	 offer;		/* from the MTA */
	struct milter_optneg	 upstream;	/* our answer */
	unsigned int		 asked_lists;	/* 1 << SMFIM_ stage: a list */
	int			 mta_leadspc;
	int			 mta_local;	/* the MTA is on this host */
	enum mta		 mta_kind;	/* postfix or sendmail */
	struct child		*kids;
	size_t			 nkids;
	struct round		 round;
	struct mbuf		 cur;		/* the MTA command at work */
	struct mbuf		 macros[8];	/* last D per stage, raw */
	struct mbuf		 out;		/* encoding scratch */
	struct mbuf		 edits;		/* net edits for the MTA */
	int			 body_replaced;
	int			 sending_body;	/* the replaced body, to the MTA */
	size_t			 body_off;
	struct message		 msg;
	struct event		*progress;
	char			 client[128];
	char			 client_name[128];
	char			 client_addr[64];
	char			 family;	/* of the connect command */
	char			 sender[512];
	char			 rcpt[512];	/* at RCPT */
	char			 helo[256];
	struct mbuf		 rcpts;		/* this message's, NUL after each */
	struct dns_wait		*dns;		/* dnsbl lookups at connect */
	int			 dns_waiting;	/* busy on them, no round */
	size_t			 rcpts_mark;	/* rcpts before this RCPT */
	int			*cond_result;	/* per condition, this command */
	int			 check;		/* CLIENT_*, below */
	struct conncheck_item	 checking;
	uint64_t		 wait_since;	/* on the children; 0: not */
	char			 gone;	/* the answer since the client left */
	char			 verdict[64];	/* the last, for the log */
	enum verdict		 final;		/* the same, counted */
	int			 quarantined;	/* this message */
	struct timeval		 start;
	TAILQ_ENTRY(session)	 entry;
};


/* milterd.c */
struct master_info {
	const struct conf	*conf;
	const char		*conf_path;
	time_t			 started;
	time_t			 loaded;
	int			 generation;
	pid_t			 launcher;
	time_t			 launcher_started;
};
void		 master_info(struct master_info *);
int		 master_reload(FILE *);

/* control.c */
int		 control_prepare(const struct conf *, char *, size_t);
void		 control_abort(void);
void		 control_commit(const struct conf *);
void		 control_start(struct event_base *, const struct conf *);
void		 control_stop(const struct conf *);
void		 control_forget(void);

/* proc.c */
int		 proc_drop(uid_t, gid_t, const char *, const char *, char *,
		    size_t);
void		 proc_drop_worker(const struct conf *);
int		 proc_forbid_listen(void);
int		 fd_send(int, int, const void *, size_t);
ssize_t		 fd_recv(int, int *, void *, size_t);

/* launcher.c */
const struct milter_conf *launcher_check(const struct conf *, const void *,
		    size_t, uid_t *, gid_t *, char *, size_t);
__dead void	 launcher_main(const struct conf *, int, const int *, size_t);

/* worker.c */
__dead void	 worker_main(struct conf *, int *, size_t, int, int, int);
void		 worker_session_done(struct session *);
int		 worker_launch(const struct milter_conf *);
const char	*worker_launch_refused(const struct milter_conf *);

/* session.c */
struct session	*session_new(struct event_base *, const struct conf *, int,
		    const char *, int);
void		 session_check_due(struct session *, uint64_t);
void		 session_free(struct session *);
int		 packet_peek(struct evbuffer *, struct milter_pkt *, size_t *,
		    const char **);
void		 session_child_replied(struct session *, struct child *);
void		 session_children_negotiated(struct session *);

/* child.c */
void		 child_start(struct child *);
void		 child_arm_command(struct child *);
void		 child_send(struct child *, char, const void *, size_t, int);
void		 child_send_mbuf(struct child *, const struct mbuf *, char,
		    int);
void		 child_abort(struct child *);
void		 child_close(struct child *, int);
void		 child_fail(struct child *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
char		 child_fallback_reply(const struct child *);
int		 child_live(const struct child *);
void		 child_set_text(struct child *, const char *);
const char	*child_text(const struct child *);

#endif /* MILTERD_H */
