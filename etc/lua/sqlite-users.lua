-- sqlite-users.lua: a milter on or off per recipient, from an SQLite
-- table (a lua condition for milterd.conf(5)).
--
--   condition "spam_wanted" {
--           type = "lua"
--           script = "/usr/local/etc/milterd/lua/sqlite-users.lua"
--           args = { "/var/lib/milterd/users.sqlite", "spamcheck", "on" }
--   }
--   milter "spamass" { socket = "..." conditions = { "spam_wanted" } }
--
-- args: the database, the column that says on (1) or off (0), and what
-- a recipient without a row gets ("on" or "off"; default "on").  The
-- table has one row per address, or per domain written "@domain":
--
--   CREATE TABLE users (address TEXT PRIMARY KEY, spamcheck INTEGER);
--   INSERT INTO users VALUES ('ann@example.com', 0), ('@example.org', 1);
--
-- The address's row wins over its domain's.  Each worker opens the
-- database once, as milterd's user (it must be able to read it), read
-- only.  Needs Debian's lua-sql-sqlite3.

local path, column, default = ...
assert(path and column, "args: database, column [, on|off]")
assert(column:match("^[%a_][%w_]*$"), "column: a plain SQL name")
default = (default or "on") == "on"

-- Never create the file: a mistyped path is an error at start.
assert(io.open(path, "r"), path .. ": cannot read it"):close()
local driver = require("luasql.sqlite3")
local env = assert(driver.sqlite3())
local con = assert(env:connect(path))

local function lookup(key)
	local cur = assert(con:execute(string.format(
	    "SELECT %s FROM users WHERE address = '%s'", column,
	    con:escape(key))))
	local row = cur:fetch({}, "n")
	cur:close()
	if row == nil then
		return nil
	end
	return tonumber(row[1]) == 1
end

-- Each recipient in turn (milterd.conf(5): recipients = any|all).
function rcpt(s)
	local addr = s.rcpt:gsub("^<", ""):gsub(">$", ""):lower()
	local on = lookup(addr)
	if on == nil then
		on = lookup(addr:match("(@.*)$") or "")
	end
	if on == nil then
		return default
	end
	return on
end
