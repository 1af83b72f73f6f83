#!/bin/sh
# gen-options.sh - keeps the option lists of docs/jetgate.8,
# docs/jetgate.conf.5 and config/jetgate.conf equal to the option table
# (src/config.c), as `jetgate --help` prints it.
#
#   docs/gen-options.sh [--check|--write] JETGATE_BIN [SRCDIR]
#
# --check (the default) regenerates the three option lists into a temporary
# directory and compares them with the files in SRCDIR (default: the
# directory above this script); it prints the difference and exits 1 when
# they differ.  --write rewrites the files in place.  Only the generated
# parts change: in the man pages the lines between '.\" BEGIN OPTIONS' and
# '.\" END OPTIONS', in the config file everything after the line
# '# The values below are the defaults.'.
set -eu

mode=check
case ${1:-} in
--check) mode=check; shift ;;
--write) mode=write; shift ;;
esac
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 [--check|--write] JETGATE_BIN [SRCDIR]" >&2
	exit 2
fi
bin=$1
srcdir=${2:-$(cd "$(dirname "$0")/.." && pwd)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jetgate-options.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

"$bin" --help >"$tmp/help" || { echo "$0: '$bin --help' failed" >&2; exit 2; }

# --help lists each option as
#     --flag-name ARG
#         help text (default: VALUE)
# (-c/--config, -h/--help and -V/--version have their own forms).  The
# records: kind|flag|arg|name|default|help, kind = opt (a config option) or
# cmd (command line only).
awk '
function flush() {
	if (flag == "") return
	def = ""; hasdef = 0
	if (match(help, / *\(default: [^)]*\)/)) {
		def = substr(help, RSTART, RLENGTH)
		sub(/^ *\(default: /, "", def); sub(/\)$/, "", def)
		help = substr(help, 1, RSTART - 1) substr(help, RSTART + RLENGTH)
		hasdef = 1
	}
	name = flag; gsub(/-/, "_", name)
	printf "%s|%s|%s|%s|%s|%s|%s\n", kind, short, flag, arg, name, (hasdef ? def : ""), help
	flag = ""
}
/^  -[A-Za-z], --[a-z]/ {
	flush()
	short = substr($1, 2, 1); flag = $2; sub(/^--/, "", flag); arg = $3; help = ""
	kind = (flag == "config") ? "cfg" : "cmd"
	next
}
/^  --[a-z]/ {
	flush()
	short = ""; flag = $1; sub(/^--/, "", flag); arg = $2; help = ""; kind = "opt"
	next
}
/^      / && flag != "" {
	line = $0; sub(/^ +/, "", line)
	help = (help == "") ? line : help " " line
	next
}
{ flush() }
END { flush() }
' "$tmp/help" >"$tmp/options"

if ! grep -q '^opt|' "$tmp/options"; then
	echo "$0: no options found in '$bin --help'" >&2
	exit 2
fi

# roff: escape backslashes and minus signs; protect a leading dot or quote.
awk_roff='
function roff(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.'"'"']/) s = "\\&" s
	return s
}
function word(s) {
	return "\\%" roff(s)
}
function sentence(s) {
	if (s == "") return s
	s = toupper(substr(s, 1, 1)) substr(s, 2)
	if (s !~ /[.!?]$/) s = s "."
	return s
}'

# jetgate.8: the command line.
awk -F'|' "$awk_roff"'
{
	kind = $1; short = $2; flag = $3; arg = $4; name = $5; def = $6; help = $7
	print ".TP"
	lead = (short != "") ? "\\-" short ", " : ""
	if (arg != "")
		printf ".BI \"%s\\-\\-%s \" %s\n", lead, roff(flag), roff(arg)
	else
		printf ".B \"%s\\-\\-%s\"\n", lead, roff(flag)
	print roff(sentence(help))
	if (kind == "opt") {
		env = "JETGATE_" toupper(name)
		if (def != "") {
			print "Default:"
			printf ".BR %s .\n", word(def)
		}
		printf "Config file: \\fB%s\\fR; environment: \\fB%s\\fR.\n", word(name), word(env)
	} else if (kind == "cfg") {
		print "Also the environment variable \\fBJETGATE_CONFIG\\fR."
	}
}' "$tmp/options" >"$tmp/man8.options"

# jetgate.conf.5: the config file.
awk -F'|' "$awk_roff"'
$1 == "opt" {
	flag = $3; arg = $4; name = $5; def = $6; help = $7
	print ".TP"
	printf ".BI \"%s = \" %s\n", roff(name), roff(arg)
	print roff(sentence(help))
	if (def != "") {
		print "Default:"
		printf ".BR %s .\n", word(def)
	}
	printf "Flag: \\fB\\%%\\-\\-%s\\fR; environment: \\fB%s\\fR.\n", roff(flag), word("JETGATE_" toupper(name))
}' "$tmp/options" >"$tmp/man5.options"

# config/jetgate.conf: one commented-out default per option.
awk -F'|' '
$1 == "opt" {
	name = $5; def = $6; help = $7
	printf "\n# %s\n", help
	if (def != "") printf "#%s = %s\n", name, def
	else printf "#%s =\n", name
}' "$tmp/options" >"$tmp/conf.options"

# splice FILE BEGIN END GENERATED OUT: FILE with the lines strictly between
# the line BEGIN and the line END replaced by GENERATED (END empty: to the
# end of the file).
splice() {
	SPLICE_BEGIN=$2 SPLICE_END=$3 awk -v gen="$4" '
	BEGIN { state = 0; begin = ENVIRON["SPLICE_BEGIN"]; end = ENVIRON["SPLICE_END"] }
	state == 0 { print; if ($0 == begin) { state = 1; while ((getline l < gen) > 0) print l }; next }
	state == 1 && end != "" && $0 == end { print; state = 2; next }
	state == 1 { next }
	{ print }
	END { if (state == 0 || (end != "" && state == 1)) exit 3 }
	' "$1" >"$5" || { echo "$0: $1: the marker lines of the generated part are missing" >&2; exit 2; }
}

man_begin='.\" BEGIN OPTIONS'
man_end='.\" END OPTIONS'
rc=0
for spec in "docs/jetgate.8|man8.options" "docs/jetgate.conf.5|man5.options" \
	"config/jetgate.conf|conf.options"; do
	file=${spec%%|*}
	gen=${spec#*|}
	out=$tmp/$(basename "$file").new
	case $file in
	config/*) splice "$srcdir/$file" '# The values below are the defaults.' '' "$tmp/$gen" "$out" ;;
	*) splice "$srcdir/$file" "$man_begin" "$man_end" "$tmp/$gen" "$out" ;;
	esac
	if cmp -s "$srcdir/$file" "$out"; then
		continue
	fi
	if [ "$mode" = write ]; then
		cat "$out" >"$srcdir/$file"
		echo "updated $file"
	else
		echo "$file does not list the options of '$bin --help':" >&2
		diff -u "$srcdir/$file" "$out" >&2 || :
		rc=1
	fi
done
if [ $rc -ne 0 ]; then
	echo "run 'make update-options' (or docs/gen-options.sh --write $bin) and commit the result" >&2
fi
exit $rc
