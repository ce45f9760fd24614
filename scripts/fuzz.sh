#!/bin/bash
# fuzz.sh — libFuzzer targets for cpcrl's loaders (tests/fuzz/fuzz_*.c):
# the checkpoint loader, the config.txt parser, command-line parsing, the
# replay loader and the read-out loader (RUN/readout.bin). Built with
# clang-14 -fsanitize=fuzzer,address,undefined against the project's sources
# (base/ env/ agent/ cpc/ lab/ replays/, not main.c) into build-fuzz/. Any
# crash, leak, timeout or out-of-memory fails the run.
#
#   scripts/fuzz.sh build               build the targets
#   scripts/fuzz.sh regress [SECONDS]   each target over its committed corpus
#                                       and tests/fuzz/repro/TARGET (inputs that
#                                       once broke a loader), then SECONDS
#                                       (default 5) of fuzzing; the committed
#                                       files are not modified
#   scripts/fuzz.sh campaign SECONDS    fuzz each target SECONDS (nice 19,
#                                       FUZZ_JOBS targets at once, default 1),
#                                       then minimise the corpus into
#                                       tests/fuzz/corpus/TARGET/
#   scripts/fuzz.sh seeds               regenerate the seed corpora from real
#                                       outputs of ./cpcrl and the recorder
#   scripts/fuzz.sh coverage            line coverage of the loaders by the
#                                       committed corpus (llvm-cov)
#
# Environment: CLANG (default clang-14), CPCRL (default ./cpcrl, for seeds),
# FUZZ_TARGETS (default: all), FUZZ_JOBS, FUZZ_BUILD (default build-fuzz),
# FUZZ_SECONDS_<target> (campaign time of one target, e.g. FUZZ_SECONDS_ckpt),
# FUZZ_RUNS (campaign: stop each target after this many executions, e.g. 1e7
# as 10000000, whichever of it and the time limit comes first).
# A crashing input is saved as build-fuzz/artifacts/TARGET/crash-*; rerun it
# with build-fuzz/fuzz_TARGET FILE.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

CLANG=${CLANG:-clang-14}
B=${FUZZ_BUILD:-build-fuzz}
CORPUS=tests/fuzz/corpus
REPRO=tests/fuzz/repro # inputs that once broke a loader: run by regress, never merged away
ALL_TARGETS="ckpt config args replay readout"

die() { echo "fuzz.sh: $*" >&2; exit 1; }

have_replay_parser() {
    [ -f replays/replay.h ] && grep -q 'int replay_parse(' replays/replay.h
}

targets() {
    local t out=""
    for t in ${FUZZ_TARGETS:-$ALL_TARGETS}; do
        if [ "$t" = replay ] && ! have_replay_parser; then
            echo "fuzz.sh: TODO fuzz_replay: replays/replay.h has no replay_parse(); skipped" >&2
            continue
        fi
        out="$out $t"
    done
    echo $out
}

# ----------------------------------------------------------------------------
# build

check_toolchain() {
    command -v "$CLANG" >/dev/null || die "$CLANG not found: apt-get install -y clang-14 libclang-rt-14-dev"
    local rt
    rt=$("$CLANG" -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
    [ -f "$rt" ] || die "libFuzzer runtime missing ($rt): apt-get install -y libclang-rt-14-dev"
}

build() {
    check_toolchain
    mkdir -p "$B/obj" "$B/artifacts"
    local pkg_cflags pkg_libs warn
    pkg_cflags=$(pkg-config --cflags openblas zlib sdl2) || die "pkg-config failed"
    pkg_libs=$(pkg-config --libs openblas zlib sdl2)
    warn="-Wall -Wextra -Wshadow -Wno-unused-parameter"
    [ -n "${CI:-}" ] && warn="$warn -Werror"
    local san="-fsanitize=address,undefined -fno-sanitize-recover=all"
    local cflags="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fno-omit-frame-pointer $san $warn $pkg_cflags"
    local srcs="base/*.c env/*.c nn/*.c agent/*.c cpc/*.c lab/*.c"
    have_replay_parser && srcs="$srcs replays/*.c"
    # recompile a source when it, or any project header, is newer than its object
    local newest_h objs="" pids=() s o n=0 maxjobs
    maxjobs=$(nproc 2>/dev/null || echo 2)
    newest_h=$(ls -t base/*.h env/*.h nn/*.h agent/*.h cpc/*.h lab/*.h replays/*.h 2>/dev/null | head -1)
    for s in $srcs; do
        o="$B/obj/${s%.c}.o"
        objs="$objs $o"
        if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then
            mkdir -p "$(dirname "$o")"
            $CLANG $cflags -fsanitize=fuzzer-no-link -c -o "$o" "$s" &
            pids+=($!)
            n=$((n + 1))
            if [ $((n % maxjobs)) -eq 0 ]; then
                for p in "${pids[@]}"; do wait "$p" || die "compiling failed"; done
                pids=()
            fi
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || die "compiling failed"; done
    local t
    for t in $(targets); do
        $CLANG $cflags -fsanitize=fuzzer -o "$B/fuzz_$t" "tests/fuzz/fuzz_$t.c" $objs \
            $pkg_libs -lm -lpthread || die "linking fuzz_$t failed"
    done
}

# ----------------------------------------------------------------------------
# running

# -dict=FILE, or a harmless flag when the target has no dictionary
dict_opt() { if [ -f "tests/fuzz/$1.dict" ]; then echo "-dict=tests/fuzz/$1.dict"; else echo "-verbosity=1"; fi; }

# max_len: a little above the largest seed (checkpoints are a few KB)
max_len() {
    case $1 in
        ckpt) echo 32768 ;;
        replay) echo 16384 ;;
        readout) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

# run TARGET SECONDS WORK_DIR [more corpus dirs]: fuzz; new inputs go to WORK_DIR
run_target() {
    local t=$1 secs=$2 work=$3
    shift 3
    mkdir -p "$work" "$B/artifacts/$t"
    OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ${NICE:-} "$B/fuzz_$t" -max_total_time="$secs" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
        -max_len="$(max_len "$t")" "$(dict_opt "$t")" -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$t/" "$work" "$@"
}

regress() {
    local secs=${1:-5} t rc=0 tmp log
    build
    tmp=$(mktemp -d /tmp/cpcrl-fuzz.XXXXXX)
    for t in $(targets); do
        [ -d "$CORPUS/$t" ] || die "no corpus $CORPUS/$t (run scripts/fuzz.sh seeds)"
        log="$tmp/$t.log"
        local repro=""
        [ -d "$REPRO/$t" ] && repro="$REPRO/$t"
        if run_target "$t" "$secs" "$tmp/$t" "$CORPUS/$t" $repro >"$log" 2>&1; then
            echo "fuzz_$t: ok, $(find "$CORPUS/$t" $repro -type f | wc -l) inputs + ${secs}s:" \
                "$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}') runs," \
                "$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)"
        else
            echo "fuzz_$t: FAILED (crash, leak, timeout or OOM); log follows"
            tail -60 "$log"
            rc=1
        fi
    done
    rm -rf "$tmp"
    return $rc
}

campaign_one() {
    local t=$1 secs=$2
    local work="$B/work/$t" log="$B/campaign-$t.log" over="FUZZ_SECONDS_$t"
    secs=${!over:-$secs} # e.g. FUZZ_SECONDS_ckpt=3600: slower targets get longer
    mkdir -p "$work"
    local start end
    start=$(date +%s)
    local repro=""
    [ -d "$REPRO/$t" ] && repro="$REPRO/$t"
    NICE="nice -n 19" run_target "$t" "$secs" "$work" "$CORPUS/$t" $repro >"$log" 2>&1
    local rc=$?
    end=$(date +%s)
    local execs cov
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
    if [ $rc -ne 0 ]; then
        echo "fuzz_$t: FAILED after $((end - start))s (see $log, $B/artifacts/$t/)"
        tail -40 "$log"
        return 1
    fi
    # minimise: the committed corpus becomes the smallest set of inputs that
    # covers the same edges (-use_counters=0: edges, not hit counts; keeps
    # the committed corpus small)
    local min="$B/min/$t"
    rm -rf "$min" && mkdir -p "$min"
    OPENBLAS_NUM_THREADS=1 nice -n 19 "$B/fuzz_$t" -merge=1 -use_counters=0 -max_len="$(max_len "$t")" \
        "$min" "$CORPUS/$t" "$work" \
        >"$B/merge-$t.log" 2>&1 || { echo "fuzz_$t: merge failed (see $B/merge-$t.log)"; return 1; }
    rm -rf "${CORPUS:?}/$t" && mkdir -p "$CORPUS/$t" && cp "$min"/* "$CORPUS/$t/"
    echo "fuzz_$t: ${execs:-?} runs in $((end - start))s, $cov, 0 crashes;" \
        "corpus minimised to $(ls "$CORPUS/$t" | wc -l) files ($(cat "$CORPUS/$t"/* | wc -c) bytes)"
}

campaign() {
    local secs=${1:?usage: fuzz.sh campaign SECONDS} jobs=${FUZZ_JOBS:-1} t rc=0 running=0
    build
    local pids=()
    for t in $(targets); do
        campaign_one "$t" "$secs" &
        pids+=($!)
        running=$((running + 1))
        if [ $running -ge "$jobs" ]; then
            for p in "${pids[@]}"; do wait "$p" || rc=1; done
            pids=()
            running=0
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return $rc
}

# ----------------------------------------------------------------------------
# seeds: real outputs of ./cpcrl (checkpoints, config.txt), command lines
# from the README and `cpcrl help`, episodes from the replay recorder

seeds() {
    local cpcrl=${CPCRL:-./cpcrl} tmp t i
    [ -x "$cpcrl" ] || die "$cpcrl not built (make)"
    build
    tmp=$(mktemp -d /tmp/cpcrl-seeds.XXXXXX)
    mkdir -p "$CORPUS/ckpt" "$CORPUS/config" "$CORPUS/args" "$CORPUS/replay" "$CORPUS/readout"
    local tiny="--conv1 1 --conv2 1 --latent 4 --hidden 4 --envs 2 --unroll 4 --cpc-k 2 \
        --frames 16 --log-every 8 --ckpt-every 8 --threads 1 --progress 0 --view 3"
    local variants=(
        "--task goal"
        "--task goal --cpc-weight 0"
        "--task watermaze --optim adam --init orthogonal"
        "--task keys_doors --items 0 --cpc-negatives all --cpc-stop-target 1"
        "--task seekavoid --items 2 --gae-lambda 0.95 --lr-decay 1"
        "--task tmaze --envs 3 --unroll 3 --cpc-k 1"
        "--task goal --rp-weight 1"
        "--task tmaze --envs 4 --cpc-mode action --cpc-action-hidden 4 --epochs 2 --minibatches 2 --clip 0.2"
    )
    i=0
    for v in "${variants[@]}"; do
        # shellcheck disable=SC2086
        OPENBLAS_NUM_THREADS=1 "$cpcrl" train $tiny $v --runs-dir "$tmp" --name "r$i" \
            >/dev/null 2>&1 || die "seed run '$v' failed"
        cp "$tmp/r$i/model.ckpt" "$CORPUS/ckpt/seed-$i.ckpt"
        cp "$tmp/r$i/config.txt" "$CORPUS/config/seed-$i.txt"
        i=$((i + 1))
    done
    # read-outs of three of them (goal, seekavoid: no goal label, tmaze: the cue)
    for i in 0 4 5; do
        OPENBLAS_NUM_THREADS=1 "$cpcrl" probe "$tmp/r$i" --save --episodes 3 --envs 2 --threads 1 \
            >/dev/null 2>&1 || die "seed probe --save of r$i failed"
        cp "$tmp/r$i/readout.bin" "$CORPUS/readout/seed-$i.bin"
    done
    # config.txt variants a person might write: comments, blanks, CRLF, flag spelling
    printf '# a comment\n\n  task = tmaze  \n cpc-k = 3\r\nunroll=8\nlr = 1e-3\n' >"$CORPUS/config/hand-1.txt"
    printf 'name = my run\nruns_dir = /tmp/x y\nseed = 18446744073709551615\nframes = 1e6\n' >"$CORPUS/config/hand-2.txt"
    printf 'optim = adam\nbeta1 = 0.5\nbeta2 = 0.9\ninit = orthogonal\ncpc_negatives = all\n' >"$CORPUS/config/hand-3.txt"
    # command lines: byte 0 = groups (0 = all), byte 1 = positionals allowed, argv split on NUL
    local G_TRAIN=63 G_EVAL=64 G_BASE=128 G_SHOW=129 G_BENCH=3 n=0
    argseed() { # groups maxpos args...
        local g=$1 p=$2 f="$CORPUS/args/seed-$n"
        shift 2
        { printf "\\x$(printf %02x "$g")\\x$(printf %02x "$p")"; printf '%s\0' "$@"; } >"$f"
        n=$((n + 1))
    }
    argseed $G_TRAIN 0 --task goal --frames 2e6 --seed 1 --name goal-s1
    argseed $G_TRAIN 0 --task tmaze --cpc-weight 0 --name tmaze-nocpc
    argseed $G_TRAIN 0 --cpc-k=20 --unroll=10 --envs 1 --view 9 --size 7
    argseed $G_TRAIN 0 --optim adam --lr 3e-4 --eps 1e-8 --max-grad-norm 0.5 --gae-lambda 0.95 --lr-decay 1
    argseed $G_TRAIN 0 --conv1 4 --conv2 4 --latent 32 --hidden 32 --envs 8 --unroll 8 --cpc-k 3 --threads 1 --progress 0
    argseed $G_EVAL 1 runs/goal-s1 --episodes 100 --seed 7 --greedy --record out
    argseed $G_EVAL 1 model.ckpt --greedy=0 --threads 2
    argseed $G_BASE 2 seekavoid --policy oracle --episodes 50 --seed 3
    argseed $G_SHOW 1 keys_doors --seed 4 --items 0 --size 9 --max-steps 50
    argseed $G_BENCH 1 train --task watermaze --envs 64
    argseed 0 4 a b c d -5 --frames -1 --lr abc --nope -x --
    # every flag with its default, from `cpcrl help`
    for cmd in train eval baseline; do
        # shellcheck disable=SC2046
        argseed 0 2 $("$cpcrl" help $cmd | awk '$1 ~ /^--/ {
            d = $0; if (match(d, /default [^);]*/)) { v = substr(d, RSTART + 8, RLENGTH - 8);
            if (v == "\"\"") v = "x"; print $1; print v } }')
    done
    # dictionaries: option names
    "$cpcrl" help train | awk '$1 ~ /^--/ { k = substr($1, 3); gsub("-", "_", k); print "\"" k " = \"" }' \
        >tests/fuzz/config.dict
    { "$cpcrl" help train; "$cpcrl" help eval; "$cpcrl" help baseline; } |
        awk '$1 ~ /^--/ && !seen[$1]++ { print "\"" $1 "\"" }' >tests/fuzz/args.dict
    # replays: the recorder's own files (and bodies), plus one agent episode
    if have_replay_parser; then
        local cflags pkg_libs objs
        cflags="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=address,undefined $(pkg-config --cflags openblas zlib sdl2)"
        pkg_libs=$(pkg-config --libs openblas zlib sdl2)
        objs=$(ls "$B"/obj/*/*.o)
        $CLANG $cflags -fsanitize=fuzzer-no-link -o "$B/seed_replay" tests/fuzz/seed_replay.c $objs \
            $pkg_libs -lm -lpthread -fsanitize=fuzzer-no-link || die "building seed_replay failed"
        mkdir -p "$tmp/rpl"
        OPENBLAS_NUM_THREADS=1 "$B/seed_replay" "$tmp/rpl" "$CORPUS/ckpt/seed-0.ckpt" ||
            die "seed_replay failed"
        cp "$tmp"/rpl/*.rpl "$tmp"/rpl/*.bin "$CORPUS/replay/"
        cp "$tmp/rpl/agent/ep0000.rpl" "$CORPUS/replay/agent-0.rpl"
    fi
    rm -rf "$tmp"
    for t in ckpt config args replay readout; do
        echo "seeds: $CORPUS/$t: $(ls "$CORPUS/$t" | wc -l) files, $(cat "$CORPUS/$t"/* | wc -c) bytes"
    done
}

# ----------------------------------------------------------------------------
# coverage: source-based line coverage of the loaders by the committed corpus

coverage() {
    local C="$B/cov" t srcs
    mkdir -p "$C"
    srcs="base/*.c env/*.c nn/*.c agent/*.c cpc/*.c lab/*.c"
    have_replay_parser && srcs="$srcs replays/*.c"
    local cflags libs
    cflags="-std=c11 -D_GNU_SOURCE -I. -g -O0 -fprofile-instr-generate -fcoverage-mapping"
    cflags="$cflags $(pkg-config --cflags openblas zlib sdl2)"
    libs="$(pkg-config --libs openblas zlib sdl2) -lm -lpthread"
    for t in $(targets); do
        # shellcheck disable=SC2086
        $CLANG $cflags -fsanitize=fuzzer -o "$C/fuzz_$t" "tests/fuzz/fuzz_$t.c" $srcs $libs 2>/dev/null ||
            die "coverage build of $t failed"
        LLVM_PROFILE_FILE="$C/$t.profraw" OPENBLAS_NUM_THREADS=1 "$C/fuzz_$t" -runs=0 "$CORPUS/$t" >/dev/null 2>&1
        llvm-profdata-14 merge -o "$C/$t.profdata" "$C/$t.profraw"
    done
    for t in $(targets); do
        local files
        case $t in
            ckpt) files="agent/ckpt.c" ;;
            replay) files="replays/replay.c" ;;
            readout) files="lab/readout.c" ;;
            *) files="agent/config.c" ;;
        esac
        # shellcheck disable=SC2086
        llvm-cov-14 report "$C/fuzz_$t" -instr-profile="$C/$t.profdata" $files |
            awk -v t="$t" '$1 ~ /\.c$/ { n = split($1, p, "/"); printf "fuzz_%-7s %-17s lines %6s (%d of %d), branches %6s\n",
                t, p[n - 1] "/" p[n], $10, $8 - $9, $8, $13 }'
    done
}

case "${1:-}" in
    build) build ;;
    regress) shift; regress "$@" ;;
    campaign) shift; campaign "$@" ;;
    seeds) seeds ;;
    coverage) coverage ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
