#!/usr/bin/awk -f
#
# mdoc-quotes.awk: reads `mandoc -Ttree PAGE` and reports quotes that run
# on (make lint runs it on every page, with -v page=PAGE).  Qq, Dq and
# Sq enclose the rest of their input line; punctuation written apart
# (".Qq Ar user , Ic group ...") does not close them, and renders as
# "user, group = "group"".  Reported, as PAGE:LINE:COL:
#   - a quote inside a quote of the same macro ("a, "b"");
#   - inside a quote, a closing delimiter followed by "..." or Ic: a
#     list or a next key within the quote ({"cidr, ..."}).  Prose in a
#     quote ("reloaded file: generation N, N workers") is left alone.
# Exit 1 when anything is reported.

function indent(s) {
	match(s, /^ */)
	return RLENGTH
}

function where(s) {
	if (match(s, /\*?[0-9]+:[0-9]+\)?$/) == 0)
		return "?"
	s = substr(s, RSTART, RLENGTH)
	gsub(/[*)]/, "", s)
	return s
}

{
	ind = indent($0)
	# Leave the quotes this node is not inside of.
	while (n > 0 && ind <= qind[n])
		n--
	# The node after a delimiter in a quote: a list or a next key?
	for (i = 1; i <= n; i++) {
		if (qdelim[i] != "" && match($0, /^ *(\.\.\.|Ic) /))
			bad(qmac[i] " (opened at " qpos[i] ") runs on past \"" \
			    qdelim[i] "\": close it with Qo/Qc (Do/Dc), or put "\
			    "the punctuation at the end of the macro line",
			    qdpos[i])
		# ".Ar x , ..." puts the dots in an Ar of their own.
		if (!match($0, /^ *Ar \(elem\)/))
			qdelim[i] = ""
	}
	if (match($0, /^ *(Qq|Dq|Sq) \(block\)/)) {
		mac = $1
		for (i = 1; i <= n; i++)
			if (qmac[i] == mac)
				bad(mac " inside " mac " (opened at " qpos[i] \
				    "): the first runs on to the line's end",
				    where($0))
		next
	}
	if (match($0, /^ *(Qq|Dq|Sq) \(body\)/)) {
		n++
		qind[n] = ind
		qmac[n] = $1
		qpos[n] = where($0)
		qdelim[n] = ""
		next
	}
	# A closing delimiter: "X (text) L:C)".
	if (n > 0 && match($0, /^ *[,;:.?!)\]] \(text\) \*?[0-9]+:[0-9]+\)$/))
		for (i = 1; i <= n; i++) {
			qdelim[i] = substr($0, ind + 1, 1)
			qdpos[i] = where($0)
		}
}

function bad(msg, pos) {
	printf "%s:%s: %s\n", page, pos, msg
	nbad++
}

END {
	exit nbad > 0
}
