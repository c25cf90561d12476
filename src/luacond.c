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
 * luacond.c: conditions written in Lua 5.4.  The master only compiles
 * a script (a syntax error is a configuration error); each of a
 * worker's lookup threads, as its unprivileged user, runs every script
 * once in its Lua state,
 * each in an environment of its own and with the condition's args as
 * its arguments (...), and then calls the functions the
 * script defined (connect, helo, mail, rcpt, data) at those commands,
 * with the session as a table; eom at end of message, for each child
 * just before its replay, with the message too (push_message()).
 * Every run and call has a time limit and a memory limit.  A call runs
 * in a coroutine of its own, whose
 * instruction-count hook looks at the clock and, past the limit, yields:
 * a yield goes through the script's own pcall(), where an error would
 * be caught.  Where the script cannot yield (inside a C function that
 * calls back into Lua: a table.sort comparator, a gsub function), the
 * hook raises an error at every instruction from then on, so that no
 * pcall can go on past the deadline; it ends where a yield is possible.
 * The debug library is not opened (debug.sethook would take the hook
 * away), and setmetatable() refuses a __gc metamethod (Lua runs
 * finalizers with hooks off).  The state's allocator refuses what a
 * call would add beyond the memory limit, and what would take the
 * state past the sum of the conditions' limits (data kept in globals).
 * Neither interrupts a C function that blocks (an LDAP query, say).
 * The state is the calling thread's: a worker's lookup threads
 * (lookup.c) each open and use one of their own, off the event loop,
 * so such a query holds only that thread (the session bounds its wait).
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "cond.h"
#include "log.h"

/* Instructions between two looks at the clock. */
#define HOOK_COUNT	1000
/* What the state takes before any script (the libraries): 256 KiB. */
#define LUA_BASE_MEMORY	(256 * 1024)

/* One state per thread (lookup.c), so each of these is the thread's. */
static _Thread_local lua_State		*L;
static _Thread_local size_t		 mem_used;	/* by the state */
static _Thread_local size_t		 mem_cap;	/* 0: no limit */
static _Thread_local size_t		 mem_total;	/* the cap in calls */
static _Thread_local struct timespec	 deadline;
static _Thread_local int		 expired;	/* past, not yieldable */
static _Thread_local int		 quiet;		/* luacond_open() */

static void	*lalloc(void *, void *, size_t, size_t);
static int	 panic(lua_State *);
static void	 open_libs(lua_State *);
static int	 safe_setmetatable(lua_State *);
static void	 hook(lua_State *, lua_Debug *);
static int	 limited_call(const struct cond *, int, int, const char **);
static void	 set_field(const char *, const char *);
static void	 add_pair(void *, const char *, const char *);
static void	 add_header(void *, const char *, const char *);
static void	 push_message(const struct cond_view *);

/* The state's allocator: counts, and refuses beyond mem_cap. */
static void *
lalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	void	*p;

	(void)ud;
	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		mem_used -= osize;
		return NULL;
	}
	if (mem_cap != 0 && nsize > osize && mem_used + nsize - osize >
	    mem_cap)
		return NULL;
	if ((p = realloc(ptr, nsize)) == NULL)
		return NULL;
	mem_used = mem_used - osize + nsize;
	return p;
}

/* An error outside a protected call: the worker cannot go on. */
static int
panic(lua_State *l)
{
	fatalx("Lua: %s", lua_isstring(l, -1) ? lua_tostring(l, -1) : "panic");
}

static void
hook(lua_State *l, lua_Debug *ar)
{
	struct timespec	now;

	(void)ar;
	if (!expired) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < deadline.tv_sec ||
		    (now.tv_sec == deadline.tv_sec &&
		    now.tv_nsec <= deadline.tv_nsec))
			return;
	}
	if (lua_isyieldable(l))
		(void)lua_yield(l, 0);
	/* From now on every instruction fails, until one can yield. */
	if (!expired) {
		expired = 1;
		lua_sethook(l, hook, LUA_MASKCOUNT, 1);
	}
	(void)luaL_error(l, "time limit exceeded");
}

/* The libraries a script gets: all of luaL_openlibs() but debug. */
static void
open_libs(lua_State *l)
{
	static const luaL_Reg	 libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_LOADLIBNAME, luaopen_package },
		{ LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_IOLIBNAME, luaopen_io },
		{ LUA_OSLIBNAME, luaopen_os },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
	};
	size_t			 i;

	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(l, libs[i].name, libs[i].func, 1);
		lua_pop(l, 1);
	}
	lua_getglobal(l, "setmetatable");
	lua_pushcclosure(l, safe_setmetatable, 1);
	lua_setglobal(l, "setmetatable");
}

/*
 * setmetatable() without __gc: Lua runs finalizers with hooks off, out
 * of the time limit's reach.  An object is marked for finalization only
 * when its metatable has the field at setmetatable() time.
 */
static int
safe_setmetatable(lua_State *l)
{
	if (lua_type(l, 2) == LUA_TTABLE) {
		lua_pushliteral(l, "__gc");
		if (lua_rawget(l, 2) != LUA_TNIL)
			return luaL_error(l, "setmetatable: __gc is not "
			    "allowed in a condition (a finalizer runs out of "
			    "the time limit's reach)");
		lua_pop(l, 1);
	}
	lua_pushvalue(l, lua_upvalueindex(1));
	lua_insert(l, 1);
	lua_call(l, lua_gettop(l) - 1, LUA_MULTRET);
	return lua_gettop(l);
}

/*
 * Call the function under nargs arguments on the stack, in a coroutine,
 * within the condition's limits; nres results are left on the stack.
 * 0, or -1 with *err set (valid until the next call).
 */
static int
limited_call(const struct cond *c, int nargs, int nres, const char **err)
{
	static _Thread_local char	 msg[512];
	lua_State			*co;
	int				 rc, got;

	co = lua_newthread(L);
	lua_insert(L, -(nargs + 2));		/* under the function */
	lua_xmove(L, co, nargs + 1);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->time_limit / 1000;
	deadline.tv_nsec += (long)(c->time_limit % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	/* Garbage first, before refusing for the state's total. */
	if (mem_used + c->memory_limit > mem_total)
		lua_gc(L, LUA_GCCOLLECT);
	mem_cap = mem_used + c->memory_limit;
	if (mem_cap > mem_total)
		mem_cap = mem_total > mem_used ? mem_total : mem_used + 1;
	expired = 0;
	lua_sethook(co, hook, LUA_MASKCOUNT, HOOK_COUNT);
	rc = lua_resume(co, L, nargs, &got);
	mem_cap = 0;
	if (rc == LUA_OK) {
		lua_settop(co, nres);		/* nil for what is missing */
		lua_xmove(co, L, nres);
		lua_remove(L, -(nres + 1));	/* the coroutine */
		return 0;
	}
	if (rc == LUA_YIELD || expired)
		snprintf(msg, sizeof(msg), "time limit of %d ms exceeded",
		    c->time_limit);
	else
		snprintf(msg, sizeof(msg), "%s", rc == LUA_ERRMEM ?
		    "memory limit exceeded" : lua_isstring(co, -1) ?
		    lua_tostring(co, -1) : "error");
	*err = msg;
	lua_resetthread(co);
	lua_pop(L, 1);
	return -1;
}

/* Master: does the script compile?  Errors as "path:line: what". */
int
luacond_check(const struct cond *c, char *err, size_t errlen)
{
	lua_State	*l;
	char		 chunk[1100];
	int		 rc;

	if ((l = luaL_newstate()) == NULL) {
		snprintf(err, errlen, "cannot make a Lua state");
		return -1;
	}
	snprintf(chunk, sizeof(chunk), "@%s", c->script);
	if ((rc = luaL_loadbufferx(l, c->code, c->codelen, chunk, "t")) !=
	    LUA_OK)
		snprintf(err, errlen, "%s", lua_tostring(l, -1));
	lua_close(l);
	return rc == LUA_OK ? 0 : -1;
}

/*
 * Worker: one state, every lua condition's script run in an
 * environment of its own (globals are read through to _G); a
 * condition's stages become the functions its script defined.  A
 * script that fails here is logged, and each of its calls then fails
 * (condition_error decides).
 */
void
luacond_open(struct cond *conds, size_t n)
{
	struct cond	*c;
	const char	*err;
	char		 chunk[1100];
	size_t		 i, j;
	int		 st;

	/* The state's total: each condition's limit, and the libraries. */
	mem_total = LUA_BASE_MEMORY;
	for (i = 0; i < n; i++)
		if (conds[i].type == COND_LUA)
			mem_total += (size_t)conds[i].memory_limit;
	for (i = 0; i < n; i++) {
		c = &conds[i];
		if (c->type != COND_LUA)
			continue;
		c->lua_ref = LUA_NOREF;
		if (L == NULL) {
			if ((L = lua_newstate(lalloc, NULL)) == NULL)
				fatalx("cannot make a Lua state");
			lua_atpanic(L, panic);
			open_libs(L);
		}
		lua_newtable(L);			/* env */
		lua_newtable(L);			/* its metatable */
		lua_pushglobaltable(L);
		lua_setfield(L, -2, "__index");
		lua_setmetatable(L, -2);
		snprintf(chunk, sizeof(chunk), "@%s", c->script);
		if (luaL_loadbufferx(L, c->code, c->codelen, chunk, "t") !=
		    LUA_OK) {
			err = lua_tostring(L, -1);
			goto fail;
		}
		lua_pushvalue(L, -2);
		lua_setupvalue(L, -2, 1);		/* its _ENV */
		for (j = 0; j < c->nargs; j++)
			lua_pushstring(L, c->args[j]);
		if (limited_call(c, (int)c->nargs, 0, &err) == -1)
			goto fail;
		c->stages = 0;
		for (st = COND_FIRST; st <= COND_LAST; st++) {
			lua_pushstring(L, milter_stages[st].name);
			if (lua_rawget(L, -2) == LUA_TFUNCTION)
				c->stages |= COND_BIT(st);
			lua_pop(L, 1);
		}
		lua_pushstring(L, milter_stages[STAGE_EOM].name);
		if (lua_rawget(L, -2) == LUA_TFUNCTION)
			c->stages |= COND_EOM;
		lua_pop(L, 1);
		if (c->stages == 0 && !quiet)
			log_warnx("condition \"%s\": %s defines none of "
			    "connect, helo, mail, rcpt, data, eom: it always "
			    "holds", c->name, c->script);
		c->lua_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_settop(L, 0);
		continue;
fail:
		/* Said once here; its calls fail without a word. */
		if (!quiet)
			log_warnx("condition \"%s\": %s: its calls will "
			    "fail (condition_error applies) until the next "
			    "reload", c->name, err);
		lua_settop(L, 0);
	}
}

/*
 * A worker's lookup threads all open the same scripts: the first says
 * what failed, the others (quiet) do not say it again.
 */
void
luacond_quiet(int q)
{
	quiet = q;
}

void
luacond_close(void)
{
	if (L != NULL)
		lua_close(L);
	L = NULL;
	mem_used = 0;
}

/* t[name] = value, t on the top of the stack; NULL values left out. */
static void
set_field(const char *name, const char *value)
{
	if (value == NULL)
		return;
	lua_pushstring(L, value);
	lua_setfield(L, -2, name);
}

/* t[name] = value, for each_macro() and each_child(). */
static void
add_pair(void *arg, const char *name, const char *value)
{
	(void)arg;
	set_field(name, value);
}

/* Headers as a list of { name = ..., value = ... }, the list on top. */
static void
add_header(void *arg, const char *name, const char *value)
{
	lua_Integer	*k = arg;

	lua_createtable(L, 0, 2);
	set_field("name", name);
	set_field("value", value);
	lua_rawseti(L, -2, (*k)++);
}

/*
 * eom()'s second argument: the message as the child would get it, its
 * size, headers (in order) and the children's verdicts in it.
 */
static void
push_message(const struct cond_view *v)
{
	lua_Integer	k = 1;

	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)v->size);
	lua_setfield(L, -2, "size");
	lua_newtable(L);
	if (v->each_header != NULL)
		v->each_header(v->arg, add_header, &k);
	lua_setfield(L, -2, "headers");
	lua_newtable(L);
	if (v->each_verdict != NULL)
		v->each_verdict(v->arg, add_pair, NULL);
	lua_setfield(L, -2, "verdicts");
}

/*
 * Call the script's function for v->stage with the session's table
 * (and at end of message the message's).
 */
int
luacond_eval(const struct cond *c, const struct cond_view *v)
{
	const char	*fname, *r, *err;
	char		 family[2] = { v->family, '\0' };
	lua_Integer	 k = 1;
	int		 holds, st = milter_stage(v->stage);

	/* One that did not load was logged by luacond_open(). */
	if (L == NULL || c->lua_ref == LUA_NOREF)
		return -1;
	if ((st < COND_FIRST || st > COND_LAST) && st != STAGE_EOM) {
		log_warnx("session %s: condition \"%s\": no function for "
		    "this command", v->id, c->name);
		return -1;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->lua_ref);
	fname = milter_stages[st].name;
	lua_pushstring(L, fname);
	if (lua_rawget(L, -2) != LUA_TFUNCTION) {
		lua_settop(L, 0);
		return 1;
	}
	lua_newtable(L);
	set_field("id", v->id);
	set_field("stage", fname);
	set_field("family", family);
	set_field("client_addr", v->client_addr);
	set_field("client_name", v->client_name);
	set_field("helo", v->helo);
	set_field("sender", v->sender);
	set_field("rcpt", v->rcpt);
	lua_pushinteger(L, (lua_Integer)v->open_sessions);
	lua_setfield(L, -2, "open_sessions");
	lua_newtable(L);
	for (r = v->recipients; r != NULL && r < v->recipients +
	    v->recipients_len; r += strlen(r) + 1) {
		lua_pushstring(L, r);
		lua_rawseti(L, -2, k++);
	}
	lua_setfield(L, -2, "recipients");
	lua_newtable(L);
	if (v->each_macro != NULL)
		v->each_macro(v->arg, add_pair, NULL);
	lua_setfield(L, -2, "macros");
	lua_newtable(L);
	if (v->each_child != NULL)
		v->each_child(v->arg, add_pair, NULL);
	lua_setfield(L, -2, "verdicts");
	if (st == STAGE_EOM)
		push_message(v);
	if (limited_call(c, st == STAGE_EOM ? 2 : 1, 1, &err) == -1) {
		log_warnx("session %s: condition \"%s\": %s", v->id, c->name,
		    err);
		lua_settop(L, 0);
		return -1;
	}
	if (!lua_isboolean(L, -1)) {
		log_warnx("session %s: condition \"%s\": %s() returned %s, "
		    "not true or false", v->id, c->name,
		    fname, luaL_typename(L, -1));
		lua_settop(L, 0);
		return -1;
	}
	holds = lua_toboolean(L, -1);
	lua_settop(L, 0);
	return holds;
}
