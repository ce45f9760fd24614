#!/bin/sh
# gen_flags.sh — write the flag reference docs/flags.md from the binary's own
# help: `cpcrl help` (the commands) and `cpcrl help CMD` for each of them,
# which main.c prints from the flag tables (agent/config.c: the run settings;
# cli/options.c: the commands' own). Every flag line of
# the help becomes a table row (flag, default, meaning); the text a command's
# help has after its flags (compare's notes, the window keys) is kept verbatim.
# The page holds nothing but what the help prints: no date, no host, no path.
# The help itself has no machine-dependent value (--jobs says "number of
# cores", --threads "0 = all cores", --precision auto is resolved at run
# time, not in the help); tests/test_docs.sh checks the page is current.
#
#   sh scripts/gen_flags.sh [CPCRL] > docs/flags.md      the page (CPCRL: ./cpcrl)
#   sh scripts/gen_flags.sh --list [CPCRL]              one line per flag,
#       CMD<TAB>--FLAG<TAB>SECTION, and a line CMD alone for each command
#       (tests/test_docs.sh checks the docs' command lines against it)
#
# A help line this script cannot parse is an error (exit 1, the line on
# stderr), not a silently wrong page.
set -eu
MODE=page
if [ "${1:-}" = "--list" ]; then MODE=list; shift; fi
CPCRL=${1:-./cpcrl}
[ -x "$CPCRL" ] || { echo "gen_flags: $CPCRL is not an executable (run make)" >&2; exit 1; }
LC_ALL=C
export LC_ALL
TMP=$(mktemp /tmp/cpcrl-flags.XXXXXX)
trap 'rm -f "$TMP" "$TMP.top" "$TMP.out"' EXIT

# `cpcrl help`: the command names and summaries, "  NAME  summary" after "commands:"
"$CPCRL" help >"$TMP.top" || { echo "gen_flags: '$CPCRL help' failed" >&2; exit 1; }
CMDS=$(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' "$TMP.top")
[ -n "$CMDS" ] || { echo "gen_flags: no commands in '$CPCRL help'" >&2; exit 1; }
{
    # one stream: the top-level help, then each command's help after a marker line
    printf '\001top\n'
    cat "$TMP.top"
    for c in $CMDS; do
        printf '\001cmd %s\n' "$c"
        "$CPCRL" help "$c" || { echo "gen_flags: '$CPCRL help $c' failed" >&2; exit 1; }
    done
} >"$TMP"

awk -v mode="$MODE" '
function fail(msg) { print "gen_flags: " msg > "/dev/stderr"; bad = 1; exit 1 }
# Markdown-escape text for a table cell (no HTML, no emphasis, no pipes)
function rep(s, from, to,    out, i) {   # every "from" in s by "to", literally
    out = ""
    while ((i = index(s, from)) > 0) { out = out substr(s, 1, i - 1) to; s = substr(s, i + length(from)) }
    return out s
}
function esc(s) {
    s = rep(s, "\\", "\\\\"); s = rep(s, "`", "\\`"); s = rep(s, "*", "\\*"); s = rep(s, "_", "\\_")
    s = rep(s, "[", "\\["); s = rep(s, "]", "\\]"); s = rep(s, "~", "\\~"); s = rep(s, "|", "\\|")
    s = rep(s, "&", "&amp;"); s = rep(s, "<", "&lt;"); s = rep(s, ">", "&gt;")
    return s
}
# a value in a code span when it is one word, else escaped text
function val(s) { return (s ~ /^[^ `]+$/) ? code(s) : esc(s) }
# a code span in a table cell: a pipe is \| there (GFM), shown as |
function code(s) { return "`" rep(s, "|", "\\|") "`" }
/^\001top$/ { where = "top"; next }
/^\001cmd / { where = "cmd"; c = substr($0, 6); cmds[++ncmd] = c; nl[c] = 0; next }
where == "top" {
    if ($0 ~ /^commands:/) { incmds = 1; next }
    if (incmds && $0 == "") incmds = 0
    if (incmds && match($0, /^  [a-z][a-z0-9-]* +/)) {
        n = $0; sub(/^  /, "", n); sub(/ .*/, "", n)
        summary[n] = substr($0, RSTART + RLENGTH)
    }
    next
}
where == "cmd" { line[c, ++nl[c]] = $0; next }
END {
    if (bad) exit 1
    if (mode == "page") {
        print "# cpcrl flag reference"
        print ""
        print "Every flag of every `cpcrl` command with its default, generated from `cpcrl help` by"
        print "`scripts/gen_flags.sh`: do not edit this page by hand, regenerate it with"
        print "`sh scripts/gen_flags.sh ./cpcrl > docs/flags.md` (tests/test_docs.sh fails while it is stale)."
        print ""
        print "Flags are `--name value` or `--name=value`; a flag without a value (\"takes no value\") is"
        print "switched on by its name alone. `cpcrl CMD --help` prints the same as `cpcrl help CMD`."
        print ""
        for (i = 1; i <= ncmd; i++)
            print "- [`cpcrl " cmds[i] "`](#cpcrl-" cmds[i] ") — " esc(summary[cmds[i]])
    }
    for (i = 1; i <= ncmd; i++) {
        c = cmds[i]; n = nl[c]
        if (n < 2 || line[c, 1] !~ /^usage: cpcrl /) fail("help " c ": no usage line")
        usage = substr(line[c, 1], 8)
        about = line[c, 2]; sub(/^ +/, "", about)
        if (mode == "list") print c
        else {
            print ""
            print "## `cpcrl " c "`"
            print ""
            print esc(about)
            print ""
            print "```text"
            print usage
            print "```"
        }
        # flag sections: "  TITLE:" followed by "    --flag ..." lines; the first
        # other line starts the notes (kept verbatim)
        k = 3
        while (k <= n && line[c, k] == "") k++
        nflags = 0; section = ""; intable = 0
        for (; k <= n; k++) {
            l = line[c, k]
            if (l ~ /^  [^ ].*:$/ && k < n && line[c, k + 1] ~ /^    --/) {
                section = substr(l, 3, length(l) - 3)
                if (mode == "page") { print ""; print "**" esc(section) "**"; print "" }
                intable = 0
                continue
            }
            if (l !~ /^    --/) break
            # "    %-20s %s (%s)": the flag (and its value name) padded to 20
            # columns, or longer and then one space; then the meaning and, in
            # the last parentheses, "default X", "CHOICES; default X" or "flag"
            if (substr(l, 25, 1) == " " && substr(l, 26, 1) != " " && substr(l, 5, 20) !~ /^--[^ ]*( [^ ]+)? *$/)
                fail("help " c ": cannot parse: " l)
            if (substr(l, 25, 1) == " " && substr(l, 26, 1) != " ") {
                fl = substr(l, 5, 20); sub(/ +$/, "", fl); rest = substr(l, 26)
                if (length(fl) == 20 && rest ~ /^[A-Z0-9|]+ /) fail("help " c ": a 20-column flag and then a value name or the meaning?: " l)
            } else if (match(l, /^    --[^ ]+ [A-Z0-9|]+ +/) || match(l, /^    --[^ ]+ +/)) {
                fl = substr(l, 5, RLENGTH - 4); sub(/ +$/, "", fl); rest = substr(l, RSTART + RLENGTH)
            } else fail("help " c ": cannot parse: " l)
            name = fl; sub(/ .*/, "", name)
            if (name !~ /^--[a-z0-9][a-z0-9-]*$/) fail("help " c ": odd flag name: " l)
            if (match(rest, / \(flag\)$/)) { meaning = substr(rest, 1, RSTART - 1); def = ""; choices = ""; isflag = 1 }
            else if (match(rest, / \([^();]*; default [^()]*\)$/)) {
                meaning = substr(rest, 1, RSTART - 1); d = substr(rest, RSTART + 2, RLENGTH - 3)
                choices = d; sub(/; default .*/, "", choices)
                def = d; sub(/^[^;]*; default /, "", def); isflag = 0
            } else if (match(rest, / \(default [^()]*\)$/)) {
                meaning = substr(rest, 1, RSTART - 1); def = substr(rest, RSTART + 10, RLENGTH - 11)
                choices = ""; isflag = 0
            } else fail("help " c ": no (default ...) or (flag) at the end: " l)
            if (meaning == "") fail("help " c ": no meaning: " l)
            nflags++
            if (mode == "list") { print c "\t" name "\t" section; continue }
            if (!intable) {
                print "| flag | default | meaning |"
                print "|------|---------|---------|"
                intable = 1
            }
            m = esc(meaning)
            if (choices != "") {
                nch = split(choices, ch, "|"); cs = ""
                for (j = 1; j <= nch; j++) cs = cs (j > 1 ? ", " : "") "`" ch[j] "`"
                m = m "; one of " cs
            }
            print "| " code(fl) " | " (isflag ? "off (takes no value)" : val(def)) " | " m " |"
        }
        if (mode == "list") continue
        if (nflags == 0) { print ""; print "No flags." }
        # the notes: the rest of the help verbatim (trailing blank lines dropped)
        last = n
        while (last >= k && line[c, last] == "") last--
        while (k <= last && line[c, k] == "") k++
        if (k <= last) {
            print ""
            print "```text"
            for (; k <= last; k++) print line[c, k]
            print "```"
        }
    }
}' "$TMP" >"$TMP.out"
cat "$TMP.out"   # all or nothing: no half page when a help line does not parse
