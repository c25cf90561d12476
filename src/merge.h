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
 * merge.h: pure functions that combine what the children said into
 * what milterd says to the MTA.
 */

#ifndef MERGE_H
#define MERGE_H

#include "conf.h"
#include "macros.h"
#include "milter.h"

/*
 * The protocol bits offered to children: everything the codec speaks
 * except RCPT_REJ (milterd does not ask the MTA for the recipients it
 * rejected itself) and the internal size bits.
 */
#define CHILD_OFFER_PROTOCOL	(SMFI_CURR_PROT & ~SMFIP_RCPT_REJ)

/* Room for the merged macro lists of the upstream negotiation reply. */
struct macro_lists {
	char	list[SMFIM_COUNT][MACRO_LIST_MAX];
};

/* merge.c */
void	 merge_optneg(const struct milter_optneg *,
	    const struct milter_optneg *, size_t, const char *const *,
	    struct milter_optneg *, struct macro_lists *);
int	 merge_decides(char, char);
int	 merge_ends_child(char, char);
uint32_t merge_action_needed(char);
const char *merge_header_value(const char *, int, int);
char	 merge_fallback_reply(enum fallback, char);
void	 merge_describe_edits(const void *, size_t, char *, size_t);

#endif /* MERGE_H */
