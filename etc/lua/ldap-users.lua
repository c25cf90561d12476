-- ldap-users.lua: a milter for the senders whose LDAP entry says so
-- (a lua condition for milterd.conf(5)).
--
--   condition "may_sign" {
--           type = "lua"
--           script = "/usr/local/etc/milterd/lua/ldap-users.lua"
--           args = { "ldap://ldap.example.org/", "ou=people,dc=example,dc=org",
--                    "employeeType", "sign" }
--   }
--   milter "opendkim" { socket = "..." conditions = { "may_sign" } }
--
-- args: the server's URI, the search base, an attribute and the value
-- it must have.  The sender's entry is the one whose uid is the SMTP
-- AUTH login ({auth_authen}: Postfix sends it at MAIL by default; with
-- Sendmail add macros = { "{auth_authen}" } to the condition), or else
-- whose mail is the envelope sender.
-- Binds anonymously; open_simple(uri, who, password) binds as a user.
-- The query blocks the worker: keep the server near and quick (the
-- condition's time_limit cannot interrupt it).  Needs Debian's lua-ldap.

local uri, base, attribute, value = ...
assert(uri and base and attribute and value,
    "args: uri, base, attribute, value")
local lualdap = require("lualdap")
local ld

-- RFC 4515: a value in a filter.
local function escape(v)
	return (v:gsub("[%*%(%)\\\0]", function(c)
		return string.format("\\%02x", c:byte())
	end))
end

local function has_value(filter)
	if ld == nil then
		ld = assert(lualdap.open_simple(uri))
	end
	local ok, found = pcall(function()
		for _, attrs in ld:search{ base = base, scope = "subtree",
		    filter = filter, attrs = { attribute } } do
			local v = attrs[attribute]
			if type(v) == "string" then
				v = { v }
			end
			for _, one in ipairs(v or {}) do
				if one == value then
					return true
				end
			end
		end
		return false
	end)
	if not ok then
		ld = nil	-- reconnect next time
		error(found, 0)
	end
	return found
end

function mail(s)
	local login = s.macros.auth_authen
	if login ~= nil and login ~= "" then
		return has_value("(uid=" .. escape(login) .. ")")
	end
	local addr = s.sender:gsub("^<", ""):gsub(">$", "")
	return addr ~= "" and has_value("(mail=" .. escape(addr) .. ")")
end
