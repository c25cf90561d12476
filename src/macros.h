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
 * macros.h: the MTA's macros in a session, each D decoded once, and
 * what each child is sent of them: the lists it asked for or its MTA's
 * defaults, with macros_compat the other MTA's too.
 */

#ifndef MACROS_H
#define MACROS_H

#include "conf.h"
#include "milter.h"

/* A list of macro names, as in a negotiation ("j {daemon_name} v"). */
#define MACRO_LIST_MAX	1024
/* The largest macro packet taken from the MTA (its payload). */
#define MACRO_PACKET_MAX	(64 * 1024)

struct macros {
	struct mbuf	 pairs[NSTAGES];	/* each stage's last D */
	unsigned int	 sent;		/* 1 << stage: a D came */
	unsigned int	 asked;		/* 1 << SMFIM_: a list asked */
	enum mta	 mta;		/* in front, known at connect */
	char		 client_name[128];	/* of the connect command */
	char		 client_addr[64];
};

/* macros.c: the store */
void		 macros_free(struct macros *);
void		 macros_take(struct macros *, char, const struct milter_strv *);
void		 macros_connect(struct macros *, const struct milter_connect *,
		    enum mta);
const char	*macros_get(const struct macros *, char, const char *);
const char	*macros_latest(const struct macros *, char, const char *);
void		 macros_each(const struct macros *, char,
		    void (*)(void *, const char *, const char *), void *);
void		 macros_for_child(const struct macros *, struct mbuf *, char,
		    const char *const *, int);
void		 macros_extra(struct mbuf *, size_t, char, const char *,
		    const char *);

/* macros.c: lists */
int		 macros_listed(const char *, const char *);
void		 macros_add_names(char *, size_t, const char *);
void		 macros_own(const struct conf *,
		    char [SMFIM_COUNT][MACRO_LIST_MAX]);

#endif /* MACROS_H */
