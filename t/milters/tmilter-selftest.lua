-- tmilter-selftest.lua -- exercise t/milters/tmilter with Debian's miltertest.
--
--   miltertest -D tmilter=/path/to/tmilter -D dir=/scratch/dir \
--       -s t/milters/tmilter-selftest.lua
--
-- Each scenario starts its own tmilter on a unix socket in DIR, talks to it
-- over the milter protocol, checks the replies, the end-of-message actions
-- and the -l log, then stops it with SIGTERM and checks that it exited 0
-- with nothing on stderr (so ASan/UBSan builds are checked too).
-- DIR must exist; files in it named after the scenarios are overwritten.
-- miltertest reads milter replies into a small fixed buffer and crashes on
-- a replacement body of more than a few KiB, so the chunking of large -b
-- files is not tested here.

assert(tmilter ~= nil, "use -D tmilter=PATH")
assert(dir ~= nil, "use -D dir=SCRATCHDIR")

local failures = 0

local function q(s)
	return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

local function readfile(path)
	local f = io.open(path, "rb")
	if f == nil then
		return nil
	end
	local s = f:read("a")
	f:close()
	return s
end

local function writefile(path, data)
	local f = assert(io.open(path, "wb"))
	f:write(data)
	f:close()
end

local function check(cond, what)
	if cond then
		mt.echo("ok - " .. what)
	else
		mt.echo("not ok - " .. what)
		failures = failures + 1
	end
end

-- Start tmilter with the given extra arguments; returns a scenario table.
local function start(name, args)
	local sc = { name = name, base = dir .. "/" .. name }
	sc.sock = sc.base .. ".sock"
	sc.log = sc.base .. ".log"
	sc.err = sc.base .. ".err"
	sc.pidf = sc.base .. ".pid"
	sc.rcf = sc.base .. ".rc"
	os.remove(sc.log)
	os.remove(sc.pidf)
	os.remove(sc.rcf)
	local cmd = q(tmilter) .. " -p " .. q("unix:" .. sc.sock) ..
	    " -l " .. q(sc.log)
	for _, a in ipairs(args) do
		cmd = cmd .. " " .. q(a)
	end
	os.execute("( ulimit -c 0; " .. cmd .. " 2>" .. q(sc.err) ..
	    " & echo $! >" .. q(sc.pidf) .. "; wait $!; echo $? >" ..
	    q(sc.rcf) .. " ) 2>/dev/null &")
	sc.conn = mt.connect("unix:" .. sc.sock, 50, 0.1)
	assert(sc.conn ~= nil, name .. ": cannot connect")
	return sc
end

-- Stop tmilter (unless it is gone already) and check how it ended.
local function stop(sc, want_rc)
	local pid
	for _ = 1, 50 do
		pid = readfile(sc.pidf)
		if pid ~= nil and pid ~= "" then
			break
		end
		mt.sleep(0.1)
	end
	os.execute("kill -TERM " .. string.gsub(pid, "%s", "") ..
	    " 2>/dev/null")
	-- libmilter notices smfi_stop() only when its 5 s select() in
	-- the listener returns; a connection makes that happen at once.
	mt.sleep(0.2)
	local ok, poke = pcall(mt.connect, "unix:" .. sc.sock, 1, 0)
	if ok and poke ~= nil then
		mt.disconnect(poke, false)
	end
	local rc
	for _ = 1, 100 do
		rc = readfile(sc.rcf)
		if rc ~= nil and rc ~= "" then
			break
		end
		mt.sleep(0.1)
	end
	rc = tonumber(rc)
	want_rc = want_rc or 0
	check(rc == want_rc, sc.name .. ": exit status " .. tostring(rc) ..
	    " (want " .. want_rc .. ")")
	local err = readfile(sc.err) or ""
	check(err == "", sc.name .. ": stderr empty")
	if err ~= "" then
		mt.echo(err)
	end
end

-- True if the log contains these lines, in this order, back to back.
local function log_has(sc, lines)
	local log = readfile(sc.log) or ""
	return string.find(log, table.concat(lines, "\n") .. "\n", 1,
	    true) ~= nil
end

local function reply_is(sc, code, what)
	local r = mt.getreply(sc.conn)
	check(r == code, sc.name .. ": " .. what .. " reply '" ..
	    string.char(math.tointeger(r) or 63) .. "'")
end

-- Scenario 1: eom changes, recipient refusal, macros, log contents.
local function t_modify()
	local body = "New body line 1\r\nline 2\r\n"
	writefile(dir .. "/modify.body", body)
	local sc = start("modify", {
	    "-M", "i", "-M", "{auth_authen}",
	    "-h", "X-Tmilter: added",
	    "-i", "0:X-First: first",
	    "-c", "Subject:1:changed subj",
	    "-c", "X-Drop:1:",
	    "-b", dir .. "/modify.body",
	    "-a", "new@example.com",
	    "-d", "old@example.com",
	    "-f", "<from2@example.com>",
	    "-q", "held by test",
	    "-R", "<Blocked@Example.COM>" })
	local c = sc.conn

	assert(mt.conninfo(c, "client.example", "192.0.2.7") == nil)
	reply_is(sc, SMFIR_CONTINUE, "connect")
	assert(mt.helo(c, "helo.example") == nil)
	reply_is(sc, SMFIR_CONTINUE, "helo")
	mt.macro(c, SMFIC_MAIL, "i", "QID1", "{auth_authen}", "alice")
	assert(mt.mailfrom(c, "<a@example.com>", "BODY=8BITMIME") == nil)
	reply_is(sc, SMFIR_CONTINUE, "mail")
	assert(mt.rcptto(c, "<ok@example.com>") == nil)
	reply_is(sc, SMFIR_CONTINUE, "rcpt ok")
	assert(mt.rcptto(c, "blocked@example.com") == nil)
	reply_is(sc, SMFIR_REPLYCODE, "rcpt blocked")
	assert(mt.data(c) == nil)
	reply_is(sc, SMFIR_CONTINUE, "data")
	assert(mt.header(c, "Subject", "hello world") == nil)
	assert(mt.header(c, "X-Drop", "x") == nil)
	assert(mt.eoh(c) == nil)
	assert(mt.bodystring(c, "original body\r\n") == nil)
	reply_is(sc, SMFIR_CONTINUE, "body")
	assert(mt.eom(c) == nil)
	reply_is(sc, SMFIR_CONTINUE, "eom")
	check(mt.eom_check(c, MT_HDRADD, "X-Tmilter", "added"),
	    "modify: -h adds header")
	check(mt.eom_check(c, MT_HDRINSERT, "X-First", "first", 0),
	    "modify: -i inserts header at 0")
	check(mt.eom_check(c, MT_HDRCHANGE, "Subject", "changed subj"),
	    "modify: -c changes header")
	check(mt.eom_check(c, MT_HDRDELETE, "X-Drop"),
	    "modify: -c with empty value deletes header")
	check(mt.eom_check(c, MT_BODYCHANGE, body), "modify: -b body")
	check(mt.eom_check(c, MT_RCPTADD, "new@example.com"),
	    "modify: -a adds recipient")
	check(mt.eom_check(c, MT_RCPTDELETE, "old@example.com"),
	    "modify: -d deletes recipient")
	check(mt.eom_check(c, MT_QUARANTINE, "held by test"),
	    "modify: -q quarantines")
	mt.disconnect(c)
	stop(sc)

	check(log_has(sc, {
	    "connect host=client.example family=4 port=12345 addr=192.0.2.7",
	    "helo helo.example",
	    "mail <a@example.com> BODY=8BITMIME",
	    "macro i=QID1",
	    "macro {auth_authen}=alice",
	    "rcpt <ok@example.com>",
	    "macro i=QID1",
	    "macro {auth_authen}=alice",
	    "rcpt blocked@example.com" }), "modify: log envelope and macros")
	check(log_has(sc, {
	    "header Subject: hello world",
	    "macro i=QID1",
	    "macro {auth_authen}=alice",
	    "header X-Drop: x" }), "modify: log headers")
	check(log_has(sc, { "body 15 bytes" }), "modify: log body size")
	check(log_has(sc, { "eom", "macro i=QID1",
	    "macro {auth_authen}=alice", "close" }),
	    "modify: log eom and close")
end

-- Scenario 2: tempfail at MAIL; nothing after it reaches the milter.
local function t_tempfail_mail()
	local sc = start("tempfail", { "-T", "mail" })
	local c = sc.conn

	assert(mt.mailfrom(c, "<a@example.com>") == nil)
	reply_is(sc, SMFIR_REPLYCODE, "mail")
	mt.disconnect(c)
	stop(sc)
	check(log_has(sc, { "mail <a@example.com>", "close" }),
	    "tempfail: log ends after mail")
end

-- Scenario 3: reject at eom carries the documented reply.
local function t_reject_eom()
	local sc = start("reject", { "-J", "eom", "-h", "X-Late: yes" })
	local c = sc.conn

	assert(mt.eom(c) == nil)
	reply_is(sc, SMFIR_REPLYCODE, "eom")
	check(mt.eom_check(c, MT_SMTPREPLY, "550", "5.7.1",
	    "rejected at eom by tmilter"), "reject: eom reply text")
	check(mt.eom_check(c, MT_HDRADD, "X-Late", "yes"),
	    "reject: eom actions still sent before the verdict")
	mt.disconnect(c)
	stop(sc)
end

-- Scenario 4: -N asks for SMFIP_HDR_LEADSPC.
local function t_leadspc()
	local sc = start("leadspc", { "-N", "-h", "X-Lead: v" })
	local c = sc.conn

	assert(mt.conninfo(c, "localhost", "127.0.0.1") == nil)
	check(mt.test_option(c, SMFIP_HDR_LEADSPC),
	    "leadspc: option negotiated")
	-- miltertest itself puts a blank before the value under LEADSPC
	assert(mt.header(c, "Subject", "spaced") == nil)
	assert(mt.eom(c) == nil)
	check(mt.eom_check(c, MT_HDRADD, "X-Lead", " v"),
	    "leadspc: added value keeps its blank")
	mt.disconnect(c)
	stop(sc)
	check(log_has(sc, { "header Subject:  spaced" }),
	    "leadspc: header value logged with leading blank")
end

-- Scenario 5: without -N no LEADSPC; -k answers SKIP to the body.
local function t_skip()
	local sc = start("skip", { "-k" })
	local c = sc.conn

	assert(mt.conninfo(c, "localhost", "127.0.0.1") == nil)
	check(not mt.test_option(c, SMFIP_HDR_LEADSPC),
	    "skip: no LEADSPC without -N")
	check(mt.test_option(c, SMFIP_SKIP), "skip: SMFIP_SKIP requested")
	assert(mt.bodystring(c, "x\r\n") == nil)
	reply_is(sc, SMFIR_SKIP, "body")
	mt.disconnect(c)
	stop(sc)
end

-- Scenario 6: sleeping at eom with progress, discard at data elsewhere.
local function t_sleep()
	local sc = start("sleep", { "-S", "eom:2200", "-P" })
	local c = sc.conn
	local t0 = os.time()

	assert(mt.eom(c) == nil)
	reply_is(sc, SMFIR_CONTINUE, "eom after sleep")
	check(os.time() - t0 >= 2, "sleep: eom took at least 2 s")
	mt.disconnect(c)
	stop(sc)
end

local function t_discard()
	local sc = start("discard", { "-D", "data", "-A", "helo" })
	local c = sc.conn

	assert(mt.helo(c, "h") == nil)
	reply_is(sc, SMFIR_ACCEPT, "helo")
	mt.disconnect(c)
	sc.conn = mt.connect("unix:" .. sc.sock, 10, 0.1)
	c = sc.conn
	assert(mt.data(c) == nil)
	reply_is(sc, SMFIR_DISCARD, "data")
	mt.disconnect(c)
	stop(sc)
end

-- Scenario 7: -X makes tmilter die with SIGABRT.
local function t_crash()
	local sc = start("crash", { "-X", "rcpt" })
	local c = sc.conn

	local r = mt.rcptto(c, "<x@example.com>")
	check(r ~= nil, "crash: rcpt fails (" .. tostring(r) .. ")")
	stop(sc, 134)
end

t_modify()
t_tempfail_mail()
t_reject_eom()
t_leadspc()
t_skip()
t_sleep()
t_discard()
t_crash()

if failures > 0 then
	error(failures .. " check(s) failed")
end
mt.echo("all checks passed")
