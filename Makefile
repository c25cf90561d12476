# milterd: a milter manager.  Works with GNU make and BSD make.
#
#   make            build into build/
#   make run        set up, build, run milterd in the foreground on
#                   CONF (default etc/milterd.conf); PORT=N moves it to
#                   127.0.0.1 port N (bin/run, which prints how to try it)
#   make test       set up, build as `make' does (its warnings differ
#                   at -O2), build with ASan/UBSan into build/asan/,
#                   run every test (t/run)
#   make test-sendmail  the ASan build as make test makes it, then
#                   t/sendmail.sh: milterd
#                   against Debian's Sendmail in a cached Debian tree
#                   (made the first time: network, a few minutes)
#   make fuzz       run each fuzz target for FUZZ_SECONDS
#   make bench      throughput and cost figures (bin/bench)
#   make soak       10 000 messages through Postfix and milterd while it
#                   is reloaded and workers are killed (bin/soak)
#   make lint       mandoc -Tlint on the man pages, and quotes that run on
#                   (t/tools/mdoc-quotes.awk)
#   make install    PREFIX and DESTDIR honoured; SYSTEMDUNITDIR (e.g.
#                   /lib/systemd/system) installs the systemd units too
#   make deb        a Debian package in build/deb/ (dpkg-buildpackage in
#                   a copy of the tree), checked by lintian
#   make test-deb   make deb, then install it in a fresh Debian 12 tree
#                   (cached under /var/tmp), run it there, purge it
#                   (t/deb.sh)

PREFIX		?= /usr/local
DESTDIR		?=
SBINDIR		?= $(PREFIX)/sbin
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man
SYSCONFDIR	?= $(PREFIX)/etc
SYSTEMDUNITDIR	?=
FUZZ_SECONDS	?= 60
CONF		?= etc/milterd.conf
PORT		?=

CC		?= cc
B		?= build
OPT		?= -O2 -g
PKGS		 = libconfuse libbsd-overlay libevent
PKG_CFLAGS	!= pkg-config --cflags $(PKGS) 2>/dev/null || echo
PKG_LIBS	!= pkg-config --libs $(PKGS) 2>/dev/null || echo
LUA_CFLAGS	!= pkg-config --cflags lua5.4 2>/dev/null || echo
LUA_LIBS	!= pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4
# The table condition's map types: tinycdb, LMDB and PCRE2 all ship a
# .pc file.
TABLE_PKGS	 = libcdb lmdb libpcre2-8
TABLE_CFLAGS	!= pkg-config --cflags $(TABLE_PKGS) 2>/dev/null || echo
TABLE_LIBS	!= pkg-config --libs $(TABLE_PKGS) 2>/dev/null || \
		   echo -lcdb -llmdb -lpcre2-8
CRIT_LIBS	!= pkg-config --libs criterion 2>/dev/null || echo -lcriterion
# libsystemd (sd_notify, socket activation) when pkg-config finds it;
# HAVE_SYSTEMD=no builds without it, as on the BSDs.
HAVE_SYSTEMD	!= pkg-config --exists libsystemd 2>/dev/null && echo yes || echo no
SD_CFLAGS	!= [ "$(HAVE_SYSTEMD)" = yes ] && \
		   echo "-DHAVE_SYSTEMD $$(pkg-config --cflags libsystemd)" || echo
SD_LIBS		!= [ "$(HAVE_SYSTEMD)" = yes ] && \
		   pkg-config --libs libsystemd || echo
WARN		 = -Wall -Wextra -Werror -Wstrict-prototypes \
		   -Wmissing-prototypes -Wmissing-declarations -Wshadow \
		   -Wpointer-arith -Wcast-qual -Wsign-compare
CFLAGS		+= -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(PKG_CFLAGS) \
		   -DSYSCONFDIR=\"$(SYSCONFDIR)\"
SAN		 = -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all

CODEC_SRCS	 = src/milter.c src/message.c src/spool.c
COMMON_SRCS	 = $(CODEC_SRCS) src/log.c src/util.c
HDRS		 = src/milter.h src/message.h src/spool.h src/log.h \
		   src/util.h src/conf.h src/conn.h src/ctl.h src/macros.h \
		   src/chain.h src/milterd.h src/launch.h src/session.h \
		   src/child.h src/stats.h src/history.h src/conncheck.h \
		   src/detect.h src/cond.h src/dns.h src/sdnotify.h \
		   src/live.h src/trace.h src/migrate.h src/lookup.h \
		   src/health.h src/table.h src/pool.h
MILTERD_SRCS	 = src/milterd.c src/worker.c src/launcher.c src/launch.c \
		   src/proc.c src/session.c src/sessionlog.c src/intake.c \
		   src/replay.c src/disconnect.c src/apply.c src/luawait.c \
		   src/child.c src/conn.c src/conf.c src/macros.c \
		   src/chain.c src/pool.c src/shadow.c \
		   src/control.c src/stats.c src/history.c src/conncheck.c \
		   src/detect.c src/cond.c src/table.c src/luacond.c \
		   src/lookup.c src/dns.c \
		   src/sdnotify.c src/statuspage.c src/graph.c src/live.c \
		   src/trace.c src/migrate.c src/health.c $(COMMON_SRCS)
# conf.c (and what it links) for the control key of milterd.conf.
MILTERCTL_SRCS	 = src/milterctl.c src/history.c src/graph.c src/conf.c \
		   src/cond.c src/table.c src/luacond.c src/detect.c \
		   $(COMMON_SRCS)
MTASIM_SRCS	 = src/mtasim.c $(COMMON_SRCS)
UNIT_SRCS	 = t/unit/test_milter.c t/unit/test_message.c \
		   t/unit/test_util.c t/unit/test_conf.c t/unit/test_chain.c \
		   t/unit/test_macros.c \
		   t/unit/test_launcher.c t/unit/test_stats.c \
		   t/unit/test_history.c t/unit/test_graph.c \
		   t/unit/test_conncheck.c t/unit/test_cond.c t/unit/test_log.c \
		   t/unit/test_migrate.c t/unit/test_health.c \
		   t/unit/test_lookup.c t/unit/test_table.c
FUZZ_TARGETS	 = fuzz_frame fuzz_cmd fuzz_reply fuzz_chain fuzz_session \
		   fuzz_history

PROGS		 = $(B)/milterd $(B)/milterctl $(B)/mtasim
TEST_PROGS	 = $(B)/unit $(B)/tmilter $(B)/conncheck-bench \
		   $(B)/sample-milter

all: $(PROGS)

$(B)/.dir:
	mkdir -p $(B)
	touch $@

$(B)/milterd: $(B)/.dir $(MILTERD_SRCS) $(HDRS)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(TABLE_CFLAGS) $(SD_CFLAGS) -o $@ \
	    $(MILTERD_SRCS) $(PKG_LIBS) $(LUA_LIBS) $(TABLE_LIBS) $(SD_LIBS) \
	    $(LDFLAGS)

$(B)/milterctl: $(B)/.dir $(MILTERCTL_SRCS) $(HDRS)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(TABLE_CFLAGS) -o $@ $(MILTERCTL_SRCS) \
	    $(PKG_LIBS) $(LUA_LIBS) $(TABLE_LIBS) $(LDFLAGS)

$(B)/mtasim: $(B)/.dir $(MTASIM_SRCS) $(HDRS)
	$(CC) $(CFLAGS) -o $@ $(MTASIM_SRCS) $(PKG_LIBS) -lpthread $(LDFLAGS)

UNIT_LIB_SRCS	 = src/conf.c src/macros.c src/chain.c src/launcher.c \
		   src/launch.c src/proc.c src/stats.c src/history.c \
		   src/graph.c src/conncheck.c src/detect.c src/cond.c \
		   src/table.c src/luacond.c src/lookup.c src/migrate.c \
		   src/health.c \
		   $(COMMON_SRCS)

$(B)/unit: $(B)/.dir $(UNIT_SRCS) $(UNIT_LIB_SRCS) $(HDRS)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(TABLE_CFLAGS) -Isrc -o $@ $(UNIT_SRCS) \
	    $(UNIT_LIB_SRCS) $(PKG_LIBS) $(LUA_LIBS) $(TABLE_LIBS) $(CRIT_LIBS) \
	    $(LDFLAGS)

# The child milter make run ships (bin/run), on Debian's libmilter.
$(B)/sample-milter: $(B)/.dir src/sample-milter.c
	$(CC) $(CFLAGS) -o $@ src/sample-milter.c -lmilter -lpthread \
	    $(PKG_LIBS) $(LDFLAGS)

# A configurable child milter built on Debian's libmilter, for tests.
$(B)/tmilter: $(B)/.dir t/milters/tmilter.c
	$(CC) $(CFLAGS) -o $@ t/milters/tmilter.c -lmilter -lpthread $(PKG_LIBS) \
	    $(LDFLAGS)

# The disconnect check's cost over many connections (make bench).
$(B)/conncheck-bench: $(B)/.dir t/bench/conncheck-bench.c src/conncheck.c \
    src/log.c src/util.c src/milter.c src/conncheck.h
	$(CC) $(CFLAGS) -Isrc -o $@ t/bench/conncheck-bench.c src/conncheck.c \
	    src/log.c src/util.c src/milter.c $(PKG_LIBS) $(LDFLAGS)

tests: $(PROGS) $(TEST_PROGS)

setup:
	@sh bin/setup

run: setup all $(B)/sample-milter
	@sh bin/run $(B) "$(CONF)" "$(PORT)"

bench: setup all $(B)/tmilter $(B)/conncheck-bench
	sh bin/bench $(B)

soak: setup all $(B)/tmilter
	sh bin/soak $(B)

test: setup
	$(MAKE) all
	$(MAKE) B=build/asan OPT="-O1 -g $(SAN)" LDFLAGS="$(SAN)" tests
	$(MAKE) lint
	sh t/run build/asan

test-sendmail: setup
	$(MAKE) B=build/asan OPT="-O1 -g $(SAN)" LDFLAGS="$(SAN)" tests
	MILTERD_TEST_SENDMAIL=1 BUILD=build/asan sh t/sendmail.sh
	MILTERD_TEST_REUSE=1 MILTERD_TEST_SENDMAIL=1 BUILD=build/asan \
	    sh t/sendmail.sh

lint:
	mandoc -Tlint -Wwarning man/*.[0-9]
	for m in man/*.[0-9]; do mandoc -Ttree $$m | \
	    awk -v page=$$m -f t/tools/mdoc-quotes.awk || exit 1; done

# libFuzzer targets: the frame reader and the decoders of both
# directions, seeded with the captured fixtures; the session state
# machine (in-memory connections, --wrap for the child's connect),
# seeded from the captured sessions by t/fuzz/session-seeds.py; the
# chain engine alone, its invariants checked after every event; what is
# read back (the history's text form within its bounds) and a log
# line's escaping.
CHAIN_FUZZ_SRCS	 = src/chain.c src/macros.c src/stats.c $(COMMON_SRCS)
SESSION_FUZZ_SRCS = src/session.c src/sessionlog.c src/intake.c \
		   src/replay.c src/disconnect.c src/apply.c src/luawait.c \
		   src/child.c src/macros.c src/trace.c \
		   src/health.c src/pool.c src/shadow.c \
		   src/chain.c src/cond.c src/table.c src/luacond.c \
		   src/lookup.c src/stats.c \
		   src/conf.c src/detect.c $(COMMON_SRCS)
fuzz: setup
	mkdir -p build/fuzz/seeds-fuzz_session
	/usr/bin/python3 t/fuzz/session-seeds.py t/fixtures \
	    build/fuzz/seeds-fuzz_session
	for t in $(FUZZ_TARGETS); do \
	    srcs="$(CODEC_SRCS)" seeds=t/fixtures/seeds libs=; \
	    if [ $$t = fuzz_chain ]; then \
	        srcs="$(CHAIN_FUZZ_SRCS)" libs="$(PKG_LIBS)"; \
	    fi; \
	    if [ $$t = fuzz_history ]; then \
	        srcs="src/history.c $(COMMON_SRCS)" libs="$(PKG_LIBS)"; \
	        seeds=t/fuzz/seeds-history; \
	    fi; \
	    if [ $$t = fuzz_session ]; then \
	        srcs="$(SESSION_FUZZ_SRCS)"; \
	        seeds=build/fuzz/seeds-fuzz_session; \
	        libs="$(PKG_LIBS) $(LUA_LIBS) $(TABLE_LIBS) \
	            -Wl,--wrap=sockspec_connect"; \
	    fi; \
	    clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc $(PKG_CFLAGS) \
	        $(LUA_CFLAGS) -fsanitize=fuzzer,address,undefined \
	        -o build/fuzz/$$t t/fuzz/$$t.c $$srcs $$libs || exit 1; \
	    mkdir -p build/fuzz/corpus-$$t; \
	    build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        build/fuzz/corpus-$$t $$seeds || exit 1; \
	done

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(B)/milterd $(DESTDIR)$(SBINDIR)/milterd
	install -m 0755 $(B)/milterctl $(DESTDIR)$(SBINDIR)/milterctl
	install -m 0755 $(B)/mtasim $(DESTDIR)$(BINDIR)/mtasim
	install -m 0644 man/mtasim.1 $(DESTDIR)$(MANDIR)/man1/mtasim.1
	install -m 0644 man/milterd.8 $(DESTDIR)$(MANDIR)/man8/milterd.8
	install -m 0644 man/milterctl.8 $(DESTDIR)$(MANDIR)/man8/milterctl.8
	install -m 0644 man/milterd.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/milterd.conf.5
	mkdir -p $(DESTDIR)$(PREFIX)/share/milterd
	install -m 0755 bin/milterd-munin \
	    $(DESTDIR)$(PREFIX)/share/milterd/milterd-munin
	mkdir -p $(DESTDIR)$(PREFIX)/share/milterd/lua
	install -m 0644 etc/lua/sqlite-users.lua etc/lua/ldap-users.lua \
	    $(DESTDIR)$(PREFIX)/share/milterd/lua
	install -m 0644 etc/milterd.conf \
	    $(DESTDIR)$(SYSCONFDIR)/milterd.conf.sample
	if [ -n "$(SYSTEMDUNITDIR)" ]; then \
	    mkdir -p $(DESTDIR)$(SYSTEMDUNITDIR) && \
	    sed 's|/usr/local/sbin/|$(SBINDIR)/|g' rc/milterd.service \
	        >$(DESTDIR)$(SYSTEMDUNITDIR)/milterd.service && \
	    install -m 0644 rc/milterd.socket \
	        $(DESTDIR)$(SYSTEMDUNITDIR)/milterd.socket && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/milterd.service; \
	fi

# The package is built in a copy of the tree (what git would not ignore
# is not needed: build/ is left out), so that dpkg-buildpackage writes
# its files into build/deb, not beside the tree.
deb: setup
	rm -rf build/deb
	mkdir -p build/deb/milterd
	tar --exclude=./build --exclude=./.git -cf - . | \
	    tar -C build/deb/milterd -xf -
	cd build/deb/milterd && dpkg-buildpackage -b -us -uc \
	    >../dpkg-buildpackage.log 2>&1 || \
	    { tail -n 30 ../dpkg-buildpackage.log; exit 1; }
	lintian --fail-on error,warning --info build/deb/milterd_*.deb
	@ls build/deb/milterd_*.deb

test-deb: deb
	MILTERD_TEST_DEB=1 sh t/deb.sh build/deb

clean:
	rm -rf build

.PHONY: all tests setup run bench soak test test-sendmail lint fuzz install \
	deb test-deb clean
