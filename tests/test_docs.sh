#!/bin/bash
# test_docs.sh — the docs say only what the binary does, for flags:
#
#   page     docs/flags.md is exactly what `sh scripts/gen_flags.sh CPCRL`
#            writes now (the flag reference, from `cpcrl help` and
#            `cpcrl help CMD`); when not, the diff and the command that
#            regenerates it.
#   flags    every `cpcrl CMD ... --flag` in README.md and docs/*.md (also
#            ./cpcrl, any/path/cpcrl, cpcrl-mpi), in fenced code blocks and in
#            inline code spans (a span may wrap onto the next line, a command
#            in a block may continue after a trailing backslash), as
#            `--flag value` or `--flag=value`, names a flag that CMD accepts
#            per `cpcrl help CMD` (`gen_flags.sh --list`). A line holding
#            several commands is split on ; && || | & ( ) $( ) and backticks,
#            so flags of mpirun, make, ffprobe, python3 ... before or after a
#            cpcrl command are not its flags; a | between two words
#            (random|oracle) is the docs' "or", not a pipe. compare also takes
#            every training flag (its help says so: train's flags but those of
#            train's "this command" section and those its help says compare
#            sets per run); in an arm spec 'NAME=--flag ...' the flags are
#            checked as compare's. --help (and _ for -) is accepted everywhere,
#            as main.c and agent/config.c do. `C="./cpcrl train ..."` and then
#            `$C --flag` checks --flag as train's. A line holding the words
#            "docs-check: ignore" (e.g. in a # comment) is not checked: for
#            docs showing a wrong flag on purpose. `./cpcrl WORD` where WORD is
#            no command is reported too.
#   self     the checks can fail: a synthetic markdown file with bogus flags
#            in every form above (and other programs' flags that must not be
#            reported) gives exactly the expected findings; a binary whose
#            `help train` lacks a flag (a wrapper dropping that line) makes
#            the page stale and the docs' use of that flag a finding.
#
# usage: tests/test_docs.sh [CPCRL]   (default ./cpcrl)
set -u
CPCRL=${1:-./cpcrl}
[ -x "$CPCRL" ] || { echo "test_docs: $CPCRL not built (run make)"; echo "0 passed, 1 failed"; exit 1; }
CPCRL=$(cd "$(dirname "$CPCRL")" && pwd)/$(basename "$CPCRL")
cd "$(dirname "$0")/.." || exit 1
TMP=$(mktemp -d /tmp/cpcrl-docs.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export LC_ALL=C

pass=0
fail=0
ok() { echo "test_docs: $1 ok"; pass=$((pass + 1)); }
bad() { echo "test_docs: $1 FAILED"; [ $# -gt 1 ] && printf '%s\n' "$2" | head -60 | sed 's/^/  | /'; fail=$((fail + 1)); }

REGEN="sh scripts/gen_flags.sh ./cpcrl > docs/flags.md"

# page_diff BIN: the diff of docs/flags.md against the page BIN's help gives (empty: current)
page_diff() {
    if ! sh scripts/gen_flags.sh "$1" >"$TMP/page.md" 2>"$TMP/page.err"; then
        cat "$TMP/page.err"; echo "(gen_flags.sh failed)"; return
    fi
    [ -f docs/flags.md ] || { echo "docs/flags.md does not exist"; return; }
    diff -u docs/flags.md "$TMP/page.md" | sed '1,2d'
}

# allowed BIN OUT: CMD<TAB>--FLAG lines of what each command accepts (a line
# CMD alone for each command); 1 (and a message) when the help is not as expected
allowed() {
    sh scripts/gen_flags.sh --list "$1" >"$TMP/list" 2>"$TMP/list.err" || { cat "$TMP/list.err"; return 1; }
    local ch percmd
    ch=$("$1" help compare) || { echo "'help compare' failed"; return 1; }
    grep -q "every other flag is a training flag" <<<"$ch" || {
        echo "compare's help no longer says it takes every other flag as a training flag: update test_docs.sh"; return 1; }
    percmd=$(grep "set per run by compare" <<<"$ch" | grep -o -- '--[a-z0-9-]*' | tr '\n' ' ')
    [ -n "$percmd" ] || { echo "compare's help no longer lists the flags it sets per run: update test_docs.sh"; return 1; }
    awk -F'\t' '$1 == "train" && $3 ~ /^this command/ { n++ } END { exit n == 0 }' "$TMP/list" || {
        echo "train's help has no \"this command\" section (its flags compare does not take): update test_docs.sh"; return 1; }
    {
        cut -f1,2 "$TMP/list"
        # compare: train's flags stored in the run, but those compare sets per run
        awk -F'\t' -v skip=" $percmd" '$1 == "train" && NF >= 3 && $3 !~ /^this command/ && index(skip, " " $2 " ") == 0 {
            print "compare\t" $2 }' "$TMP/list"
    } | sort -u >"$2"
}

# the checker: markdown files in, one line per finding out
# (FILE:LINE<TAB>CMD<TAB>FLAG, CMD "?" for an unknown command), then "#checked C F"
cat >"$TMP/scan.awk" <<'AWK'
function push(w, ln, quoted) { if (w != "") { nt++; T[nt] = w; L[nt] = ln; Q[nt] = quoted } }
# lex: s (one physical line, or a piece of a code span) into T/L/Q; 1 when a
# fenced line continues (trailing backslash); q, the open quote, carries over
function lex(s, ln, fenced,    n, i, j, ch, w, cont) {
    cont = 0
    if (fenced && s ~ /\\[ \t]*$/) { cont = 1; sub(/\\[ \t]*$/, "", s) }
    n = length(s); w = ""
    for (i = 1; i <= n; i++) {
        ch = substr(s, i, 1)
        if (q != "") {
            if (ch == q) { push(w, ln, 1); w = ""; q = ""; continue }
            if (ch == "\\" && q == "\"" && i < n) { i++; w = w substr(s, i, 1); continue }
            if (ch == " " || ch == "\t" || ch == ";") { push(w, ln, 1); w = ""; continue }
            w = w ch; continue
        }
        if (ch == " " || ch == "\t") { push(w, ln, 0); w = ""; continue }
        if (ch == "'" || ch == "\"") { push(w, ln, 0); w = ""; q = ch; continue }
        if (ch == "#" && w == "" && fenced) { cmt = substr(s, i + 1); cont = 0; break } # a comment
        if (ch == "\\") { if (i < n) { i++; w = w substr(s, i, 1) } continue }
        if (substr(s, i, 3) == "$((") {                                   # arithmetic: a word
            j = index(substr(s, i), "))")
            if (j > 0) { w = w substr(s, i, j + 1); i += j; continue }
        }
        if (substr(s, i, 2) == "$(") { push(w, ln, 0); w = ""; push("\001(", ln, 0); i++; continue }
        if (ch == "(" || ch == ")") { push(w, ln, 0); w = ""; push("\001" ch, ln, 0); continue }
        if (ch == "`") { push(w, ln, 0); w = ""; push("\001`", ln, 0); continue }
        if (ch == ">" || ch == "<") { push(w, ln, 0); w = ""; if (substr(s, i + 1, 1) == "&") i++; continue }
        if (ch == "&") {
            push(w, ln, 0); w = ""
            if (substr(s, i + 1, 1) == ">") { i++; continue }
            if (substr(s, i + 1, 1) == "&") i++
            push("\001;", ln, 0); continue
        }
        if (ch == ";") { push(w, ln, 0); w = ""; push("\001;", ln, 0); continue }
        if (ch == "|") {
            if (w != "" && i < n && substr(s, i + 1, 1) !~ /[ \t|]/) { w = w ch; continue } # random|oracle
            push(w, ln, 0); w = ""
            if (substr(s, i + 1, 1) == "|") i++
            push("\001;", ln, 0); continue
        }
        w = w ch
    }
    push(w, ln, q != "")
    return cont
}
function report(ln, cmd, flag) {
    if ((FILENAME SUBSEP ln) in ign) return
    print FILENAME ":" ln "\t" cmd "\t" flag
}
# analyze the tokens of one logical unit (a fenced line and its continuations,
# or one code span): which command each --flag belongs to
function analyze(    i, t, b, cmd, sp, bt, nm, stk) {
    cmd = ""; sp = 0; bt = 0
    for (i = 1; i <= nt; i++) {
        t = T[i]
        if (t == "\001;") { cmd = ""; continue }
        if (t == "\001(") { stk[++sp] = cmd; cmd = ""; continue }
        if (t == "\001)") { cmd = sp > 0 ? stk[sp--] : ""; continue }
        if (t == "\001`") {
            if (bt) { cmd = sp > 0 ? stk[sp--] : ""; bt = 0 } else { stk[++sp] = cmd; cmd = ""; bt = 1 }
            continue
        }
        # C="./cpcrl train ...": $C is that command
        if (t ~ /^[A-Za-z_][A-Za-z0-9_]*=$/ && i + 2 <= nt && Q[i + 1] && T[i + 1] ~ /(^|\/)cpcrl(-mpi)?$/ &&
            (T[i + 2] in known)) { var[FILENAME, substr(t, 1, length(t) - 1)] = T[i + 2]; continue }
        if (t ~ /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/) {
            b = t; gsub(/[${}]/, "", b)
            if ((FILENAME SUBSEP b) in var) { cmd = var[FILENAME, b]; ncmd++; continue }
        }
        b = t; sub(/.*\//, "", b)
        if (b == "cpcrl" || b == "cpcrl-mpi") {
            cmd = ""
            if (i < nt && (T[i + 1] in known)) { cmd = T[i + 1]; i++; ncmd++ }
            else if (i < nt && t ~ /\// && T[i + 1] ~ /^[a-z][a-z0-9_-]*$/) report(L[i + 1], "?", T[i + 1])
            continue
        }
        if (cmd == "") continue
        if (Q[i] && match(t, /^[A-Za-z0-9_.+-]+=--/)) t = substr(t, RLENGTH - 1)   # 'NAME=--flag ...'
        if (!match(t, /^--[A-Za-z0-9][A-Za-z0-9_-]*/)) continue
        nm = substr(t, 1, RLENGTH); gsub(/_/, "-", nm)
        nflag++
        if (nm == "--help" || ((cmd SUBSEP nm) in ok)) continue
        report(L[i], cmd, nm)
    }
    nt = 0; q = ""
}
# prose: the inline code spans of a line (a span may go on over lines)
function prose(s, ln,    i, r, piece) {
    piece = ""
    while (s != "") {
        i = index(s, "`")
        if (!inspan) {
            if (i == 0) return
            if (i > 1 && substr(s, i - 1, 1) == "\\") { s = substr(s, i + 1); continue }
            for (r = 0; substr(s, i + r, 1) == "`"; r++) ;
            inspan = 1; spanlen = r; nt = 0; q = ""; piece = ""
            s = substr(s, i + r)
            continue
        }
        if (i == 0) { piece = piece s; break }
        for (r = 0; substr(s, i + r, 1) == "`"; r++) ;
        if (r != spanlen) { piece = piece substr(s, 1, i + r - 1); s = substr(s, i + r); continue }
        lex(piece substr(s, 1, i - 1), ln, 0); piece = ""
        analyze(); inspan = 0
        s = substr(s, i + r)
    }
    if (inspan && piece != "") lex(piece, ln, 0)
}
function endfile() { if (infence) analyze(); infence = 0; inspan = 0; nt = 0; q = "" }
BEGIN {
    while ((getline l < allowed) > 0) {
        n = split(l, a, "\t")
        known[a[1]] = 1
        if (n >= 2) ok[a[1], a[2]] = 1
    }
}
FNR == 1 { endfile() }
{
    raw = $0
    if (raw ~ /docs-check: ignore/) ign[FILENAME, FNR] = 1
    if (!infence && match(raw, /^ *(```+|~~~+)/)) {
        fence = substr(raw, RSTART, RLENGTH); sub(/^ */, "", fence)
        fch = substr(fence, 1, 1); flen = length(fence)
        infence = 1; inspan = 0; nt = 0; q = ""
        next
    }
    if (infence) {
        if (match(raw, /^ *(```+|~~~+)[ \t]*$/)) {
            f = raw; gsub(/[ \t]/, "", f)
            if (substr(f, 1, 1) == fch && length(f) >= flen) { analyze(); infence = 0; next }
        }
        cmt = ""
        if (!lex(raw, FNR, 1)) analyze()
        if (cmt ~ /`/) {                  # code spans in a comment: # as `cpcrl show goal --seed 1` shows
            n = split(cmt, part, "`")
            for (j = 2; j < n; j += 2) { lex(part[j], FNR, 0); analyze() }
        }
        next
    }
    if (raw ~ /^[ \t]*$/) { inspan = 0; nt = 0; q = ""; next }   # a span does not cross paragraphs
    prose(raw, FNR)
}
END { endfile(); print "#checked " ncmd + 0 " " nflag + 0 }
AWK

# scan ALLOWED FILE...: the findings, one "FILE:LINE: `cpcrl CMD` has no flag --F" line each;
# the counts in $TMP/counts
scan() {
    local al=$1; shift
    awk -v allowed="$al" -f "$TMP/scan.awk" "$@" >"$TMP/scan.out"
    grep '^#checked' "$TMP/scan.out" | sed 's/^#checked //' >"$TMP/counts"
    grep -v '^#checked' "$TMP/scan.out" | awk -F'\t' '{
        if ($2 == "?") print $1 ": `cpcrl " $3 "`: no such command"
        else print $1 ": `cpcrl " $2 "` has no flag " $3 }'
}

# ---------------------------------------------------------------- page
d=$(page_diff "$CPCRL")
if [ -z "$d" ]; then ok "page (docs/flags.md current)"
else bad "page (docs/flags.md is not what the help gives; regenerate: $REGEN)" "$d"; fi

# ---------------------------------------------------------------- flags
if msg=$(allowed "$CPCRL" "$TMP/allowed"); then
    DOCS="README.md"
    for f in docs/*.md; do [ -f "$f" ] && DOCS="$DOCS $f"; done
    for f in $DOCS; do
        [ -f "$f" ] || continue
        found=$(scan "$TMP/allowed" "$f")
        read -r nc nf <"$TMP/counts"
        if [ -z "$found" ]; then ok "flags of $f ($nc commands, $nf flags)"
        else bad "flags of $f ($nc commands, $nf flags; $(printf '%s\n' "$found" | wc -l) not accepted, see 'cpcrl help CMD')" "$found"; fi
    done
else
    bad "flags (the accepted flags from the help)" "$msg"
fi

# ---------------------------------------------------------------- self
# a synthetic doc: each line's expected finding in the list after it
mkdir -p "$TMP/self"
FAKE=$TMP/self/cpcrl
DROP=$(awk -F'\t' '$1 == "train" && NF >= 2 { print $2; exit }' "$TMP/list" 2>/dev/null)
cat >"$TMP/self/doc.md" <<EOF
# synthetic

Run \`cpcrl train --no-such-flag 1\` here, and \`./cpcrl eval runs/x
--bogus-wrapped\` there; \`cpcrl train --frames 1e5\` is fine, \`cpcrl CMD --help\` too.

\`\`\`sh
./cpcrl train --task goal --frames 1e5 --envs 8 --help   # --comment-flag
./cpcrl train --task goal \\
    --not-a-train-flag 3
./cpcrl eval runs/x --episodes=5 --greedy --nope=1
./cpcrl train --frames 1 && ./cpcrl eval runs/x --frames 2; ./cpcrl show goal --seed 1 | grep --count x
mpirun -np 2 --hostfile hosts --oversubscribe ./cpcrl-mpi train --envs 16 --mpi-bad
make mpi --jobs 2; ffprobe -v error --show-streams x.mp4; python3 scripts/x.py --whatever 1
./cpcrl compare --tasks goal --envs 16 --arms 'cpc=;paper=--unroll 100 --cpc-kk 30;x=--bad-arm 1' --task goal
./cpcrl help train --x
./cpcrl trian --task goal
./cpcrl baseline goal --policy random|oracle --episodes 10 --greedy
./cpcrl train --envs \$((32/2)) --bad-after-arith 1
./cpcrl train --name \$(date +%s --utc) --bad-after-subst 1 2>&1 | tee log --append
C="./cpcrl train --task goal --progress 0"
\$C --seed 2 --bad-via-var 1
./cpcrl train --runs_dir r $DROP 1
./cpcrl train --no-such-flag   # docs-check: ignore
print(1)   # as in \`cpcrl show goal --seed 1 --in-comment\` (and \`--seed 2\`)
\`\`\`

~~~
cpcrl eval --in-tilde-fence
~~~
EOF
cat >"$TMP/self/want" <<EOF
doc.md:3: \`cpcrl train\` has no flag --no-such-flag
doc.md:4: \`cpcrl eval\` has no flag --bogus-wrapped
doc.md:9: \`cpcrl train\` has no flag --not-a-train-flag
doc.md:10: \`cpcrl eval\` has no flag --nope
doc.md:11: \`cpcrl eval\` has no flag --frames
doc.md:12: \`cpcrl train\` has no flag --mpi-bad
doc.md:14: \`cpcrl compare\` has no flag --cpc-kk
doc.md:14: \`cpcrl compare\` has no flag --bad-arm
doc.md:14: \`cpcrl compare\` has no flag --task
doc.md:15: \`cpcrl help\` has no flag --x
doc.md:16: \`cpcrl trian\`: no such command
doc.md:17: \`cpcrl baseline\` has no flag --greedy
doc.md:18: \`cpcrl train\` has no flag --bad-after-arith
doc.md:19: \`cpcrl train\` has no flag --bad-after-subst
doc.md:21: \`cpcrl train\` has no flag --bad-via-var
doc.md:24: \`cpcrl show\` has no flag --in-comment
doc.md:28: \`cpcrl eval\` has no flag --in-tilde-fence
EOF
if [ -s "$TMP/allowed" ] && [ -n "$DROP" ]; then
    got=$(cd "$TMP/self" && scan "$TMP/allowed" doc.md)
    if [ "$got" = "$(cat "$TMP/self/want")" ]; then ok "self: a synthetic doc's bad flags are the ones found"
    else bad "self: a synthetic doc's bad flags (< expected, > found)" "$(printf '%s\n' "$got" | diff "$TMP/self/want" - | grep '^[<>]')"; fi
    # a binary whose `help train` lacks train's first flag ($DROP): the page is
    # stale, and the doc's "$DROP" (line 22) no longer one of train's flags
    cat >"$FAKE" <<EOF
#!/bin/sh
if [ "\$*" = "help train" ]; then
    "$CPCRL" help train | awk '!done && /^    $DROP( |\$)/ { done = 1; next } { print }'
else
    exec "$CPCRL" "\$@"
fi
EOF
    chmod +x "$FAKE"
    d=$(page_diff "$FAKE")
    if [ -n "$d" ] && grep -q -- "^-.*$DROP" <<<"$d"; then ok "self: a flag gone from the help makes docs/flags.md stale"
    else bad "self: a flag gone from the help ($DROP) makes docs/flags.md stale" "$d"; fi
    if allowed "$FAKE" "$TMP/self/allowed" >/dev/null; then
        got=$(cd "$TMP/self" && scan "$TMP/self/allowed" doc.md)
        if grep -qx "doc.md:22: \`cpcrl train\` has no flag $DROP" <<<"$got"; then
            ok "self: a flag gone from the help is a finding where the docs use it"
        else bad "self: a flag gone from the help ($DROP) is a finding where the docs use it" "$got"; fi
    else bad "self: the accepted flags of a binary lacking $DROP"; fi
else
    bad "self: no accepted flags to test with"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
