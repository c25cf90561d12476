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
 * ctl.h: the control protocol, spoken by control.c (the master) and
 * milterctl.c, over a unix stream socket, one request and one reply
 * per connection:
 *
 *	request: a 4-byte big-endian length, then that many bytes of
 *	         NUL-terminated words: CTL_VERSION, the format ("text"
 *	         or "json"), the command and its arguments;
 *	reply:   a 4-byte big-endian length, then "ok\n" or "error\n"
 *	         followed by the output.
 */

#ifndef CTL_H
#define CTL_H

#define CTL_VERSION	"milterd-control/1"
#define CTL_SOCKET	"/var/run/milterd/control.sock"	/* the default */
#define CTL_MAX_REQUEST	4096	/* bytes, after the length */
#define CTL_MAX_ARGS	8	/* words, the version and format included */

#endif /* CTL_H */
