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

enum cond_type {
	COND_NETWORK,		/* client address in CIDR lists */
	COND_AUTHENTICATED,	/* SMTP AUTH done */
	COND_S25R,		/* dynamic-looking client host name */
	COND_SENDER,		/* envelope sender in a list */
	COND_MACRO,		/* a macro matches a regex */
	COND_STRESS,		/* open sessions over a threshold */
	COND_RECIPIENT		/* a recipient in a list, each in turn */
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
};

/* cond.c */
int	 cond_stage(const struct cond *);
int	 cond_eval(const struct cond *, const struct cond_view *);
int	 cond_parse_cidr(const char *, struct cidr *);
int	 cond_add_nets(struct cond *, const char *, char *, size_t);
int	 cond_load_list(struct cond *, char *, size_t);
int	 cond_postfix_limit(const char *, uint64_t *, char *, size_t);
int	 cond_s25r_dynamic(const struct cond *, const char *);
void	 cond_free(struct cond *);
const char *cond_type_name(enum cond_type);
int	 cond_type_parse(const char *, enum cond_type *);

#endif /* COND_H */
