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
 * milterd.h: the daemon's processes (master, control, launcher,
 * worker).  Prototypes are grouped by the file that defines them; a
 * session and its children have session.h and child.h.
 */

#ifndef MILTERD_H
#define MILTERD_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <event2/event.h>

#include "conf.h"
#include "log.h"

/* milterd.c */
struct master_info {
	const struct conf	*conf;
	const char		*conf_path;
	time_t			 started;
	time_t			 loaded;
	int			 generation;
	pid_t			 launcher;
	time_t			 launcher_started;
};
void		 master_info(struct master_info *);
int		 master_reload(FILE *);

/* control.c */
int		 control_prepare(const struct conf *, char *, size_t);
void		 control_abort(void);
void		 control_commit(const struct conf *);
void		 control_start(struct event_base *, const struct conf *);
void		 control_stop(const struct conf *);
void		 control_forget(void);

/* statuspage.c */
void		 status_page(FILE *, const struct conf *,
		    const struct master_info *, int);

/* proc.c */
int		 proc_drop(uid_t, gid_t, const char *, const char *, char *,
		    size_t);
void		 proc_drop_worker(const struct conf *);
int		 proc_forbid_listen(void);
int		 fd_send(int, int, const void *, size_t);
ssize_t		 fd_recv(int, int *, void *, size_t);

/* launcher.c */
const struct milter_conf *launcher_check(const struct conf *, const void *,
		    size_t, uid_t *, gid_t *, char *, size_t);
__dead void	 launcher_main(struct conf *, const char *, int, const int *,
		    size_t);

/* worker.c */
__dead void	 worker_main(struct conf *, int *, size_t, int, int, int);
int		 worker_max_sessions(const struct conf *);

#endif /* MILTERD_H */
