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
 * cond.h: applicable conditions, which decide per session and message
 * whether a child milter applies.  Pure logic: what a condition sees
 * comes in a struct cond_view.
 */

#ifndef COND_H
#define COND_H

#include <sys/types.h>

#include <regex.h>
#include <stdint.h>
#include <string.h>

#include "milter.h"
#include "table.h"

enum cond_type {
	COND_NETWORK,		/* client address in CIDR lists */
	COND_AUTHENTICATED,	/* SMTP AUTH done */
	COND_S25R,		/* dynamic-looking client host name */
	COND_SENDER,		/* envelope sender in a list */
	COND_MACRO,		/* a macro matches a regex */
	COND_STRESS,		/* open sessions over a threshold */
	COND_RECIPIENT,		/* a recipient in a list, each in turn */
	COND_DNSBL,		/* the client listed in a DNS zone */
	COND_LUA,		/* a script's functions, per stage */
	COND_SIZE,		/* the message's size (end of message) */
	COND_HEADER,		/* a header's value matches a regex (eom) */
	COND_VERDICT,		/* an earlier child's verdict (eom) */
	COND_TABLE,		/* a Postfix lookup table (table.c) */
	COND_ANY,		/* one of its members holds */
	COND_ALL		/* every member holds */
};

/* A condition named in a milter's conditions or a group's of. */
struct cond_ref {
	size_t	idx;		/* in conf->conds */
	int	negate;		/* "!name" */
};

/*
 * Conditions are decided at the stages from connect to DATA; a
 * stage's bit in struct cond's stages is COND_BIT(stage), cond_at()
 * gives a command's.
 */
#define COND_FIRST	STAGE_CONNECT
#define COND_LAST	STAGE_DATA
#define COND_BIT(st)	(1U << ((st) - COND_FIRST))
/*
 * Conditions on the message (size, header, verdict, a lua eom()) are
 * decided at end of message, for each child just before its replay:
 * the chain asks (ACT_DECIDE), apply.c answers (chain_eom_decided()).
 */
#define COND_EOM	COND_BIT(STAGE_EOM)

/* What verdict conditions name: is = { ... }, a bit each. */
enum cond_verdict {
	CV_ACCEPT,
	CV_REJECT,
	CV_TEMPFAIL,
	CV_DISCARD,
	CV_QUARANTINE,
	CV_MODIFIED,		/* continue or accept, with modifications */
	NCV
};
/* The others are verdict_name()'s words; chain.c has no cond.c. */
#define CV_MODIFIED_NAME	"modified"

/*
 * A DNSBL zone and the answers that list a client: "zone" (any answer),
 * or "zone=127.0.0.[2..11]" (Postfix's form: each octet a number, or
 * [n..m] and [n;m;...] sets).
 */
struct dnsbl_zone {
	char		*zone;
	int		 any;		/* no pattern */
	uint8_t		 octets[4][32];	/* a bit for each value */
};

/* What a DNS name resolved to (A records), for dnsbl conditions. */
struct dns_answer {
	int		naddr;		/* -1: no answer (timeout, error) */
	uint8_t		addr[8][4];
};

struct cidr {
	int	family;		/* AF_INET, AF_INET6 */
	uint8_t	addr[16];
	int	bits;
};

struct cond {
	char		*name;
	char		*source;	/* its keys, as milterd.conf reads them */
	enum cond_type	 type;
	struct cidr	*nets;		/* network */
	size_t		 nnets;
	regex_t		*allow;		/* s25r: never dynamic */
	size_t		 nallow;
	regex_t		*deny;		/* s25r: always dynamic */
	size_t		 ndeny;
	int		 ipv6_dynamic;	/* s25r: an IPv6 client is dynamic */
	char		**list;		/* sender, recipient: @domain, user@, */
					/* or a whole address */
	size_t		 nlist;
	char		*file;		/* sender: more of the list */
	char		*macro;		/* macro: its name */
	regex_t		 re;		/* macro: what it must match */
	int		 has_re;
	uint64_t	 threshold;	/* stress */
	struct dnsbl_zone *zones;	/* dnsbl */
	size_t		 nzones;
	int		 timeout;	/* dnsbl: seconds */
	char		*script;	/* lua: its path */
	char		**args;		/* lua: the script's arguments (...) */
	size_t		 nargs;
	char		**macros;	/* lua: to ask the MTA for */
	size_t		 nmacros;
	char		*code;		/* lua: its text, read at load */
	size_t		 codelen;
	int		 time_limit;	/* lua: milliseconds a call */
	size_t		 memory_limit;	/* lua: bytes a call may add */
	int		 lua_ref;	/* lua: its environment (worker) */
	struct table	*table;		/* table: read at load */
	enum table_key	 key;		/* table: what is looked up */
	char		**values;	/* table: results that hold */
	size_t		 nvalues;
	char		**of;		/* any, all: "[!]name" as written */
	size_t		 nof;
	struct cond_ref	*members;	/* any, all: of, resolved */
	size_t		 nmembers;
	int		 grouped;	/* a member of a group */
	int		 lua_member;	/* a group: a lua one in it, deep */
	unsigned int	 stages;	/* COND_BIT()s: decided at */
	uint64_t	 size_min;	/* size: over + 1 (0: no over) */
	uint64_t	 size_max;	/* size: under - 1 (UINT64_MAX: none) */
	char		*header;	/* header: its name; re: match */
	char		*child;		/* verdict: whose */
	unsigned int	 verdicts;	/* verdict: 1U << enum cond_verdict */
};

/* What the session knows, for a condition. */
struct cond_view {
	char		  family;	/* '4', '6', 'L', 'U': connect's */
	const char	 *client_addr;
	const char	 *client_name;
	const char	 *sender;	/* NULL before MAIL */
	const char	 *rcpt;		/* at RCPT: this recipient */
	uint64_t	  open_sessions;
	const char	*(*macro)(void *, const char *);
	void		 *arg;
	/* For dnsbl and lua: */
	char		  stage;	/* the command (COND_FIRST..LAST) */
	const char	 *id;		/* the session's */
	const char	 *helo;
	const char	 *recipients;	/* so far, each NUL-terminated */
	size_t		  recipients_len;
	const struct dns_answer *(*dns)(void *, const char *);
	/* Call fn for each macro sent so far, each child's verdict. */
	void		(*each_macro)(void *, void (*)(void *, const char *,
			    const char *), void *);
	void		(*each_child)(void *, void (*)(void *, const char *,
			    const char *), void *);
	/*
	 * At end of message (stage SMFIC_BODYEOB), the message as the
	 * child would get it: its size, each header (name, value without
	 * its leading blanks) of the copy, and each child's verdict in
	 * this message (cond_verdict_name()'s words), those with one.
	 */
	uint64_t	  size;
	void		(*each_header)(void *, void (*)(void *, const char *,
			    const char *), void *);
	void		(*each_verdict)(void *, void (*)(void *, const char *,
			    const char *), void *);
};

#define DNSBL_NAME_MAX	256

/* cond.c */
unsigned int cond_default_stages(enum cond_type);
unsigned int cond_at(char);
int	 cond_any(const struct cond *, size_t, enum cond_type);
int	 cond_eval(const struct cond *, const struct cond_view *);
int	 cond_dnsbl_zone(const char *, struct dnsbl_zone *);
int	 cond_dnsbl_name(const char *, const char *, char *, size_t);
int	 cond_parse_cidr(const char *, struct cidr *);
int	 cidr_match(const struct cidr *, int, const uint8_t *);
int	 cond_is_group(const struct cond *);
int	 cond_group_eval(const struct cond *, int (*)(void *,
	    const struct cond_ref *), void *);
int	 cond_resolve_groups(struct cond *, size_t, char *, size_t);
void	 cond_group_stages(struct cond *, size_t);
int	 cond_reaches(const struct cond *, size_t, size_t);
int	 cond_add_nets(struct cond *, const char *, char *, size_t);
int	 cond_load_list(struct cond *, char *, size_t);
int	 cond_postfix_limit(const char *, uint64_t *, char *, size_t);
int	 cond_s25r_dynamic(const struct cond *, const char *);
void	 cond_free(struct cond *);
const char *cond_type_name(enum cond_type);
int	 cond_type_parse(const char *, enum cond_type *);
const char *cond_verdict_name(enum cond_verdict);
int	 cond_verdict_parse(const char *, enum cond_verdict *);

/* luacond.c: the lua type (one Lua state per thread: lookup.c). */
int	 luacond_check(const struct cond *, char *, size_t);
void	 luacond_open(struct cond *, size_t);
void	 luacond_quiet(int);
void	 luacond_close(void);
int	 luacond_eval(const struct cond *, const struct cond_view *);

#endif /* COND_H */
