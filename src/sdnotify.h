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
 * sdnotify.h: the master's side of a service manager (systemd): state
 * notifications and listening sockets passed by socket activation.
 */

#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <stddef.h>

#include "conf.h"

/* What the master tells the service manager (sd_notify(3)). */
enum sd_state {
	SD_READY,	/* the listeners are up, workers ready */
	SD_RELOADING,	/* a reload has begun */
	SD_STOPPING,	/* SIGTERM: sessions are finishing */
};

void	sd_state(enum sd_state, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
int	sd_adopt(char *, size_t);
int	sd_inherited(const struct sockspec *);
int	sd_check_listen(const struct conf *, const char *, char *, size_t);
size_t	sd_ninherited(void);

#endif /* SDNOTIFY_H */
