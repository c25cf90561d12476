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
 * table.h: Postfix lookup tables ("TYPE:PATH") for the table condition,
 * read whole into memory when the configuration is loaded, and looked
 * up in Postfix's access(5) key order.
 */

#ifndef TABLE_H
#define TABLE_H

#include <stddef.h>

enum map_type {
	MAP_TEXTHASH,		/* postmap's input, read by milterd */
	MAP_CIDR,		/* cidr_table(5), first match */
	MAP_PCRE,		/* pcre_table(5), first match */
	MAP_CDB,		/* PATH.cdb made by postmap (tinycdb) */
	MAP_LMDB		/* PATH.lmdb made by postmap (liblmdb) */
};

/* What a table condition looks up. */
enum table_key {
	TABLE_SENDER,
	TABLE_RECIPIENT,
	TABLE_CLIENT
};

struct table;

struct table	*table_open(const char *, char *, size_t);
void		 table_free(struct table *);
enum map_type	 table_type(const struct table *);
int		 table_key_parse(const char *, enum table_key *);
const char	*table_get(const struct table *, const char *);
const char	*table_address(const struct table *, const char *);
const char	*table_client(const struct table *, const char *,
		    const char *);
int		 table_value_in(const char *, char *const *, size_t);

#endif /* TABLE_H */
