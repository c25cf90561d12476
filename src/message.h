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
 * message.h: a kept copy of one message (headers and body) and the
 * header and body modifications of the milter protocol applied to it.
 */

#ifndef MESSAGE_H
#define MESSAGE_H

#include <stdint.h>
#include <stdio.h>

#include "milter.h"
#include "spool.h"

struct mhdr {
	char	*name;
	char	*value;		/* as after the colon, folds joined by LF */
};

struct message {
	struct mhdr	*hdrs;
	size_t		 nhdrs;
	size_t		 caphdrs;
	struct spool	 body;
	struct spool	 newbody;	/* a replacement being received */
	int		 replacing;	/* 0 none, 1 receiving, 2 closed */
	int		 repl_cr;	/* a CR held back at a piece's end */
	int		 repl_open;	/* the last replacement line has no LF */
	int		 repl_keep_open;	/* and stays so (Sendmail) */
};

/* message.c */
void	 message_init(struct message *, size_t, const char *);
void	 message_free(struct message *);
void	 message_reset(struct message *);
int	 message_add_header(struct message *, const char *, const char *);
int	 message_parse(struct message *, const char *, size_t);
int	 message_apply(struct message *, const struct milter_reply *, int,
	    const char **);
int	 message_edits_done(struct message *);
void	 message_edits_cancel(struct message *);
void	 message_edit_seen(struct message *);
int	 message_write(const struct message *, FILE *);
uint64_t message_size(const struct message *);

#endif /* MESSAGE_H */
