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
 * milter.h: the milter wire protocol, versions 2, 3, 4 and 6, both
 * directions (see MILTER-PROTOCOL.md in the project's shared notes).
 *
 * The codec does no I/O.  milter_frame() cuts one packet out of a byte
 * buffer; the milter_decode_*() functions turn a packet into a struct
 * whose strings point into the packet (nothing is copied, nothing is
 * allocated); the milter_put_*() functions append encoded packets to a
 * growable struct mbuf.  Negotiation helpers implement the flag rules of
 * both sides.
 */

#ifndef MILTER_H
#define MILTER_H

#include <stddef.h>
#include <stdint.h>

/* Commands, MTA -> milter. */
#define SMFIC_ABORT	'A'
#define SMFIC_BODY	'B'
#define SMFIC_CONNECT	'C'
#define SMFIC_MACRO	'D'
#define SMFIC_BODYEOB	'E'
#define SMFIC_HELO	'H'
#define SMFIC_QUIT_NC	'K'
#define SMFIC_HEADER	'L'
#define SMFIC_MAIL	'M'
#define SMFIC_EOH	'N'
#define SMFIC_OPTNEG	'O'
#define SMFIC_QUIT	'Q'
#define SMFIC_RCPT	'R'
#define SMFIC_DATA	'T'
#define SMFIC_UNKNOWN	'U'

/* Replies, milter -> MTA. */
#define SMFIR_ADDRCPT		'+'
#define SMFIR_DELRCPT		'-'
#define SMFIR_ADDRCPT_PAR	'2'
#define SMFIR_SHUTDOWN		'4'
#define SMFIR_ACCEPT		'a'
#define SMFIR_REPLBODY		'b'
#define SMFIR_CONTINUE		'c'
#define SMFIR_DISCARD		'd'
#define SMFIR_CHGFROM		'e'
#define SMFIR_CONN_FAIL		'f'
#define SMFIR_ADDHEADER		'h'
#define SMFIR_INSHEADER		'i'
#define SMFIR_SETSYMLIST	'l'
#define SMFIR_CHGHEADER		'm'
#define SMFIR_PROGRESS		'p'
#define SMFIR_QUARANTINE	'q'
#define SMFIR_REJECT		'r'
#define SMFIR_SKIP		's'
#define SMFIR_TEMPFAIL		't'
#define SMFIR_REPLYCODE		'y'
#define SMFIR_OPTNEG		'O'

/* Connect families. */
#define SMFIA_UNKNOWN	'U'
#define SMFIA_UNIX	'L'
#define SMFIA_INET	'4'
#define SMFIA_INET6	'6'

/* Action flags. */
#define SMFIF_ADDHDRS		0x00000001
#define SMFIF_CHGBODY		0x00000002
#define SMFIF_ADDRCPT		0x00000004
#define SMFIF_DELRCPT		0x00000008
#define SMFIF_CHGHDRS		0x00000010
#define SMFIF_QUARANTINE	0x00000020
#define SMFIF_CHGFROM		0x00000040
#define SMFIF_ADDRCPT_PAR	0x00000080
#define SMFIF_SETSYMLIST	0x00000100
#define SMFI_V2_ACTS		0x0000003f
#define SMFI_CURR_ACTS		0x000001ff

/* Protocol flags. */
#define SMFIP_NOCONNECT		0x00000001
#define SMFIP_NOHELO		0x00000002
#define SMFIP_NOMAIL		0x00000004
#define SMFIP_NORCPT		0x00000008
#define SMFIP_NOBODY		0x00000010
#define SMFIP_NOHDRS		0x00000020
#define SMFIP_NOEOH		0x00000040
#define SMFIP_NR_HDR		0x00000080
#define SMFIP_NOUNKNOWN		0x00000100
#define SMFIP_NODATA		0x00000200
#define SMFIP_SKIP		0x00000400
#define SMFIP_RCPT_REJ		0x00000800
#define SMFIP_NR_CONN		0x00001000
#define SMFIP_NR_HELO		0x00002000
#define SMFIP_NR_MAIL		0x00004000
#define SMFIP_NR_RCPT		0x00008000
#define SMFIP_NR_DATA		0x00010000
#define SMFIP_NR_UNKN		0x00020000
#define SMFIP_NR_EOH		0x00040000
#define SMFIP_NR_BODY		0x00080000
#define SMFIP_HDR_LEADSPC	0x00100000
#define SMFIP_MDS_256K		0x10000000
#define SMFIP_MDS_1M		0x20000000
#define SMFI_V1_PROT		0x0000003f
#define SMFI_V2_PROT		0x0000007f
#define SMFI_CURR_PROT		0x001fffff
#define SMFI_INTERNAL		0x70000000

/* Suppress and no-reply bits together. */
#define SMFIP_NR_MASK	(SMFIP_NR_HDR | SMFIP_NR_CONN | SMFIP_NR_HELO | \
	SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | \
	SMFIP_NR_EOH | SMFIP_NR_BODY)
#define SMFIP_NO_MASK	(SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | \
	SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | \
	SMFIP_NOUNKNOWN | SMFIP_NODATA)

/* Macro stages of the symbol-list extension (note EOM before EOH). */
enum smfim_stage {
	SMFIM_CONNECT = 0,
	SMFIM_HELO,
	SMFIM_ENVFROM,
	SMFIM_ENVRCPT,
	SMFIM_DATA,
	SMFIM_EOM,
	SMFIM_EOH,
	SMFIM_COUNT
};

/*
 * The commands a milter answers, in protocol order: the stages of a
 * session.  One table (milter_stages[]) says each one's command, its
 * name in logs, counters and scripts, and its macro list; the index is
 * the stage's number everywhere.
 */
enum stage {
	STAGE_NEGOTIATE,
	STAGE_CONNECT,
	STAGE_HELO,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_HEADER,
	STAGE_EOH,
	STAGE_BODY,
	STAGE_EOM,
	STAGE_UNKNOWN,
	NSTAGES
};

struct milter_stage {
	char		 cmd;		/* SMFIC_ */
	const char	*name;
	int		 list;		/* its SMFIM_ macro list, or -1 */
};

extern const struct milter_stage milter_stages[NSTAGES];

#define MILTER_VERSION		6	/* highest version spoken */
#define MILTER_CHUNK_SIZE	65535	/* largest body piece */
#define MILTER_MDS_64K		65535
#define MILTER_MDS_256K		262143
#define MILTER_MDS_1M		1048575

/* milter_frame() results; errors are negative. */
#define MILTER_FRAME_OK		1
#define MILTER_FRAME_SHORT	0
#define MILTER_FRAME_ZERO	(-1)	/* length field 0 */
#define MILTER_FRAME_BIG	(-2)	/* length over the limit */

/* One packet: its code and payload (pointing into the caller's buffer). */
struct milter_pkt {
	char		 code;
	const uint8_t	*data;
	size_t		 len;
};

/* A run of NUL-terminated strings, as in M, R, D payloads. */
struct milter_strv {
	const char	*buf;
	size_t		 len;	/* bytes, the last NUL included */
	size_t		 count;
};

struct milter_optneg {
	uint32_t	 version;
	uint32_t	 actions;
	uint32_t	 protocol;
	const char	*macros[SMFIM_COUNT];	/* NULL: not requested */
};

struct milter_connect {
	const char	*host;
	char		 family;
	uint16_t	 port;
	const char	*addr;		/* NULL for SMFIA_UNKNOWN */
};

struct milter_header {
	uint32_t	 index;		/* 'i' and 'm' only */
	const char	*name;
	const char	*value;
};

/* A decoded command (MTA -> milter). */
struct milter_cmd {
	char	code;
	union {
		struct milter_optneg	optneg;		/* O */
		struct milter_connect	connect;	/* C */
		struct {
			char			stage;
			struct milter_strv	pairs;
		} macro;				/* D */
		const char		*str;		/* H U */
		struct milter_strv	 args;		/* M R */
		struct milter_header	 header;	/* L */
		struct {
			const uint8_t	*data;
			size_t		 len;
		} body;					/* B */
	} u;
};

/* A decoded reply (milter -> MTA). */
struct milter_reply {
	char	code;
	union {
		struct milter_optneg	optneg;		/* O */
		const char		*str;		/* y q + - */
		struct {
			const char	*addr;
			const char	*args;		/* NULL if absent */
		} addr;					/* e 2 */
		struct milter_header	 header;	/* h i m */
		struct {
			const uint8_t	*data;
			size_t		 len;
		} body;					/* b */
	} u;
};

/* A growable output buffer; reused between packets. */
struct mbuf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
	int	 err;		/* set when an append failed */
};

/* milter.c: framing */
int	 milter_frame(const void *, size_t, size_t, struct milter_pkt *,
	    size_t *);
const char *milter_frame_strerror(int);

/* milter.c: decoding */
int	 milter_decode_cmd(const struct milter_pkt *, struct milter_cmd *,
	    const char **);
int	 milter_decode_reply(const struct milter_pkt *, struct milter_reply *,
	    const char **);
int	 milter_strv_next(const struct milter_strv *, size_t *,
	    const char **);
const char *milter_strv_get(const struct milter_strv *, size_t);

/* milter.c: encoding */
void	 mbuf_init(struct mbuf *);
void	 mbuf_free(struct mbuf *);
void	 mbuf_reset(struct mbuf *);
int	 mbuf_append(struct mbuf *, const void *, size_t);
size_t	 milter_begin(struct mbuf *, char);
void	 milter_add_u8(struct mbuf *, uint8_t);
void	 milter_add_u16(struct mbuf *, uint16_t);
void	 milter_add_u32(struct mbuf *, uint32_t);
void	 milter_add_str(struct mbuf *, const char *);
void	 milter_add_bytes(struct mbuf *, const void *, size_t);
int	 milter_end(struct mbuf *, size_t);
int	 milter_put_empty(struct mbuf *, char);
int	 milter_put_str(struct mbuf *, char, const char *);
int	 milter_put_strs(struct mbuf *, char, const char *const *, size_t);
int	 milter_put_optneg(struct mbuf *, const struct milter_optneg *);
int	 milter_put_connect(struct mbuf *, const struct milter_connect *);
int	 milter_put_macros(struct mbuf *, char, const char *const *, size_t);
int	 milter_put_header(struct mbuf *, char, const struct milter_header *);
int	 milter_put_addr(struct mbuf *, char, const char *, const char *);
int	 milter_put_body(struct mbuf *, char, const void *, size_t, size_t);
int	 milter_put_cmd(struct mbuf *, const struct milter_cmd *);
int	 milter_put_reply(struct mbuf *, const struct milter_reply *);

/* milter.c: negotiation and stage rules */
int	 milter_negotiate_mta(const struct milter_optneg *,
	    const struct milter_optneg *, struct milter_optneg *,
	    const char **);
int	 milter_negotiate_milter(const struct milter_optneg *,
	    const struct milter_optneg *, struct milter_optneg *,
	    const char **);
int	 milter_cmd_sent(const struct milter_optneg *, char);
int	 milter_cmd_replied(const struct milter_optneg *, char);
int	 milter_reply_is_final(char);
int	 milter_reply_is_edit(char);
int	 milter_stage(char);
int	 milter_stage_named(const char *);
int	 milter_macro_list(char);
const char *milter_code_name(char);

#endif /* MILTER_H */
