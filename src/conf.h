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
 * conf.h: milterd's configuration, parsed from a libconfuse file into
 * plain structs (no libconfuse types outside conf.c).
 */

#ifndef CONF_H
#define CONF_H

#include <sys/types.h>

#include <stdio.h>

#include "cond.h"
#include "util.h"

#define CONF_FILE	SYSCONFDIR "/milterd.conf"
#define CONF_MAX_LISTEN	8
#define CONF_MAX_MILTERS	64	/* fewer than STATS_MAX_CHILDREN */
#define CONF_MAX_ADDRS	8	/* a milter's sockets; STATS_MAX_ADDRS */

/*
 * Per-message bounds (milterd.conf(5)): above what real MTAs send
 * (Postfix keeps one header to 100 KiB and takes 1000 recipients,
 * Sendmail all headers to 32 KiB), so that only a hostile or broken
 * peer meets them.
 */
#define CONF_MAX_HEADERS	10000
#define CONF_MAX_HEADER_BYTES	(1024 * 1024)
#define CONF_MAX_RECIPIENTS	10000
/* Private to the workers: the master makes it (milterd.c). */
#define CONF_SPOOL_DIR		"/var/spool/milterd"
/* Above Sendmail's command timeout (1 h) and Postfix's (300 s). */
#define CONF_MTA_TIMEOUT	7200
/*
 * A worker's lookup threads for lua conditions (lookup.c): a slow query
 * holds one; and the lookups that may wait for a thread, past which one
 * is refused (condition_error decides).
 */
#define CONF_LUA_THREADS	4
#define CONF_LUA_THREADS_MAX	64
#define CONF_LUA_QUEUE		256
/* Shadow trials pending, per worker (evaluation_memory_limit). */
#define CONF_EVALUATION_MEMORY	(16 * 1024 * 1024)

/* The MTA in front: its default macro lists, how it treats edits. */
enum mta {
	MTA_AUTO,		/* configuration: tell by the `v' macro */
	MTA_POSTFIX,
	MTA_SENDMAIL
};

/* What a failed child, or a session without children, answers. */
enum fallback {
	FALLBACK_ACCEPT,
	FALLBACK_TEMPFAIL,
	FALLBACK_REJECT,
	FALLBACK_DISCARD,
	FALLBACK_QUARANTINE,	/* accepted, held by the MTA */
	FALLBACK_SHUTDOWN	/* 421: the MTA drops the client */
};

enum dispatch {
	DISPATCH_SEQUENTIAL,
	DISPATCH_PARALLEL
};

/* Which of a milter's sockets a session takes. */
enum balance {
	BALANCE_FAILOVER,	/* the first one up */
	BALANCE_ROUND_ROBIN	/* each in turn, of those up */
};

struct stats_child;

struct milter_conf {
	char		*name;
	struct sockspec	 sock[CONF_MAX_ADDRS];
	size_t		 nsock;
	enum balance	 balance;
	int		 failures_to_down;	/* 0: never down */
	int		 down_time;		/* seconds */
	char		*command;	/* for the launcher; NULL: none */
	char		*user;		/* the command runs as */
	int		 launchable;	/* has a command (workers' copy) */
	int		 enabled;
	int		 evaluation;
	int		 evaluation_sample;	/* percent of connections */
	int		 evaluation_wait;	/* 0: shadow, nothing waits */
	enum fallback	 fallback;
	int		 connect_timeout;	/* seconds */
	int		 command_timeout;
	int		 eom_timeout;
	struct stats_child *stats;	/* its counters (the master sets it) */
	char		*detected;	/* where detection found it; NULL */
	struct cond_ref	*conds;		/* all must hold */
	size_t		 nconds;
	int		 all_recipients;	/* recipients = all */
	int		 skip_on_error;		/* condition_error = skip */
	int		 macros_compat;	/* the other MTA's macros too */
	char		**macros_add;	/* "{name}=value", "{milterd_...}" */
	size_t		 nmacros_add;	/* the global ones, then its own */
	int		 reuse;		/* reuse_connections (pool.c) */
};

struct conf {
	char			*path;
	struct sockspec		 listen[CONF_MAX_LISTEN];
	size_t			 nlisten;
	mode_t			 socket_mode;
	char			*socket_group;
	char			*user;
	char			*group;
	char			*chroot;
	int			 workers;
	int			 max_sessions_per_worker;	/* 0: no limit */
	int			 grace_time;	/* seconds, at stop and reload */
	int			 lua_threads;	/* per worker (lookup.c) */
	int			 lua_queue;	/* lookups waiting, per worker */
	int			 allow_root_command;
	int			 launch_wait;	/* seconds */
	char			*pidfile;
	char			*control;	/* "": none */
	mode_t			 control_mode;
	int			 metrics;	/* metrics_listen is set */
	struct sockspec		 metrics_listen;
	char			*state_file;
	int			 history_hours;
	int			 detect;
	char			*detect_root;
	enum fallback		 fallback;
	enum dispatch		 dispatch;
	size_t			 body_memory_limit;
	char			*spool_dir;
	int			 progress_interval;	/* seconds */
	size_t			 max_headers;	/* per message */
	size_t			 max_header_bytes;
	size_t			 max_recipients;
	int			 max_sessions;	/* per worker; 0: derived */
	int			 mta_timeout;	/* seconds between commands */
	uint32_t		 evaluation_seed;	/* evaluation_sample's */
	size_t			 evaluation_memory_limit;	/* per worker */
	int			 disconnect_check;
	int			 disconnect_check_after;	/* seconds */
	int			 disconnect_check_interval;
	enum fallback		 fallback_on_disconnect;
	enum mta		 mta;
	char			**dns_servers;	/* none: /etc/resolv.conf */
	size_t			 ndns_servers;
	int			 log_facility;	/* syslog's LOG_MAIL... */
	int			 log_level;	/* the least severe logged */
	int			 log_format;	/* enum log_format */
	struct milter_conf	*milters;
	size_t			 nmilters;
	struct cond		*conds;
	size_t			 nconds;
};

/* conf.c */
struct conf	*conf_load(const char *, FILE *);
int		 conf_control(const char *, char *, size_t, FILE *);
void		 conf_free(struct conf *);
void		 conf_print(const struct conf *, FILE *);
void		 conf_forget_commands(struct conf *);
const struct milter_conf *conf_milter(const struct conf *, const char *);
int		 conf_has_names(const struct conf *);
const char	*fallback_name(enum fallback);
int		 conf_fallback_known(const char *);

#endif /* CONF_H */
