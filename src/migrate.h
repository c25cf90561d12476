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
 * migrate.h: `milterd -M FILE', the milters an MTA lists (Postfix's
 * main.cf, Sendmail's sendmail.mc or sendmail.cf) as milterd.conf
 * sections.
 */

#ifndef MIGRATE_H
#define MIGRATE_H

#include <stdio.h>

#include "conf.h"

#define MIG_NOTES	4096

enum mig_source {
	MIG_POSTFIX,		/* main.cf */
	MIG_SENDMAIL_MC,	/* sendmail.mc */
	MIG_SENDMAIL_CF		/* sendmail.cf */
};

/* One child milter as the MTA had it; timeouts in seconds, -1: none. */
struct mig_child {
	char		 name[65];
	char		 socket[256];
	char		 fallback[16];	/* milterd's word for the MTA's */
	int		 connect_timeout;
	int		 command_timeout;
	int		 eom_timeout;
	char		 from[256];	/* the MTA's own text, for a comment */
	char		 notes[1024];	/* what did not carry over */
};

struct mig {
	enum mig_source	 source;
	struct mig_child children[CONF_MAX_MILTERS];
	size_t		 n;
	int		 smtpd, non_smtpd;	/* Postfix: lists not empty */
	int		 daemon_lists;	/* Sendmail: only per-daemon lists */
	int		 mta_command_timeout;	/* Postfix's, for milterd */
	int		 mta_connect_timeout;
	char		 chroot_dir[256];	/* Postfix's smtpd's; "" */
	char		 macros[512];	/* the macro settings left out */
	char		 notes[MIG_NOTES];	/* what did not carry over */
};

int	mig_source_of(const char *, const char *, enum mig_source *);
int	mig_parse(struct mig *, enum mig_source, const char *,
	    const char *, char *, size_t);
void	mig_print(FILE *, const struct mig *, const char *,
	    const struct sockspec *, const char *);
int	migrate_main(const char *, const char *);

#endif /* MIGRATE_H */
