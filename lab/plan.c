// plan.c — compare's plan (see plan.h): arms from the flags, one run per
// task x arm x seed, and the state each run directory is in.
#include "lab/plan.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/gemm.h"
#include "agent/trainer.h"
#include "base/file.h"
#include "lab/probe.h"
#include "lab/stats.h"

const char *const RUN_STATE_NAMES[] = {"to train", "training", "to probe", "probing", "done", "failed", "in use"};

int compare_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cpcrl %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nsee 'cpcrl help %s'\n", cmd);
    va_end(ap);
    return 2;
}

void compare_fmt_num(char *out, size_t n, double v) {
    const float f = (float)v; // what a run's cpc_weight holds
    for (int prec = 6; prec <= 9; prec++) { // 9 digits read back as any float
        snprintf(out, n, "%.*g", prec, (double)f);
        if ((float)strtod(out, NULL) == f) return;
    }
}

// ----------------------------------------------------------------------------
// Arms and runs

static int parse_list(const char *cmd, const char *flag, const char *s, double *out, int maxn,
                      int integer, double lo, double hi) {
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    size_t len = strlen(buf);
    if (len == 0 || buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))
        return -compare_usage(cmd, "--%s: expected a comma-separated list of %s in %g..%g, got '%s' (an empty item)", flag,
                      integer ? "integers" : "numbers", lo, hi, s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        errno = 0;
        double v = strtod(tok, &end);
        if (!*tok || *end || errno || !isfinite(v) || (integer && v != floor(v)) || v < lo || v > hi)
            return -compare_usage(cmd, "--%s: expected a comma-separated list of %s in %g..%g, got '%s'",
                          flag, integer ? "integers" : "numbers", lo, hi, tok);
        if (n >= maxn) return -compare_usage(cmd, "--%s: at most %d values", flag, maxn);
        out[n++] = v;
    }
    if (n == 0) return -compare_usage(cmd, "--%s: empty list", flag);
    return n;
}

// Flags an arm may not set: compare sets them per run, or they are not settings.
static const char *const ARM_OWN[] = {"task", "seed", "name", "runs-dir", "runs_dir", "progress", "frames",
                                      "resume", "config", "threads"};

// --arms "NAME=FLAGS;NAME=FLAGS": nocpc first, then one arm per item, its
// flags checked over the base config (the passed flags) now.
static int plan_custom_arms(const CompareOpts *o, const Config *base, Arm *arms, int *narms) {
    if (o->cpc_weights[0] || o->cpc_ks[0])
        return compare_usage("compare", "--arms replaces --cpc-weights and --cpc-ks: give one or the other");
    char buf[sizeof o->arms];
    snprintf(buf, sizeof buf, "%s", o->arms);
    int n = 0;
    memset(&arms[n], 0, sizeof arms[n]);
    snprintf(arms[n].name, sizeof arms[n].name, "nocpc");
    arms[n].weight = 0, arms[n].k = base->cpc_k, n++;
    char *save = NULL;
    for (char *item = strtok_r(buf, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        while (*item == ' ' || *item == '\t') item++;
        if (!*item) continue;
        char *eq = strchr(item, '=');
        if (!eq) return compare_usage("compare", "--arms: expected NAME=FLAGS, got '%s' (no '=')", item);
        *eq = 0;
        char *name = item, *flags = eq + 1;
        size_t nl = strlen(name);
        while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '\t')) name[--nl] = 0;
        int ok = nl > 0 && nl <= 24;
        for (size_t i = 0; i < nl; i++)
            ok &= (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                  (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '_' || name[i] == '+';
        if (!ok)
            return compare_usage("compare", "--arms: arm name '%s': expected 1 to 24 of A-Z a-z 0-9 . _ +", name);
        if (n >= MAX_ARMS) return compare_usage("compare", "--arms: more than %d arms", MAX_ARMS - 1);
        for (int q = 0; q < n; q++)
            if (!strcmp(arms[q].name, name))
                return compare_usage("compare", "--arms: arm '%s' given twice%s", name,
                                     strcmp(name, "nocpc") ? "" : " (nocpc, --cpc-weight 0, is always there)");
        Arm *a = &arms[n];
        memset(a, 0, sizeof *a);
        snprintf(a->name, sizeof a->name, "%s", name);
        a->custom = 1;
        if (strlen(flags) >= sizeof a->flagbuf)
            return compare_usage("compare", "--arms: flags of arm '%s' longer than %zu characters", name,
                                 sizeof a->flagbuf - 1);
        snprintf(a->flagbuf, sizeof a->flagbuf, "%s", flags);
        char *fs = NULL;
        for (char *w = strtok_r(a->flagbuf, " \t", &fs); w; w = strtok_r(NULL, " \t", &fs)) {
            if (a->nflags >= (int)(sizeof a->flags / sizeof a->flags[0]))
                return compare_usage("compare", "--arms: arm '%s' has too many words", name);
            if (!strncmp(w, "--", 2))
                for (size_t j = 0; j < sizeof ARM_OWN / sizeof ARM_OWN[0]; j++) {
                    size_t l = strlen(ARM_OWN[j]);
                    if (!strncmp(w + 2, ARM_OWN[j], l) && (w[2 + l] == 0 || w[2 + l] == '='))
                        return compare_usage("compare", "--arms: arm '%s' sets --%s, which compare sets for every run",
                                             name, ARM_OWN[j]);
                }
            a->flags[a->nflags++] = w;
        }
        Config c = *base;
        char err[512], *pos[1];
        int np = config_parse_args(&c, NULL, a->nflags, a->flags, G_TRAIN_ALL, pos, 0, NULL, NULL, err, sizeof err);
        if (np < 0) return compare_usage("compare", "--arms: arm '%s': %s", name, err);
        a->weight = c.cpc_weight, a->k = c.cpc_k;
        n++;
    }
    if (n < 2) return compare_usage("compare", "--arms: no arm (expected NAME=FLAGS;...)");
    *narms = n;
    return 0;
}

// Arms from the options: nocpc first, then every weight (> 0) x K.
static int plan_arms(const CompareOpts *o, int default_k, Arm *arms, int *narms) {
    double w[MAX_LIST], k[MAX_LIST];
    int nw = 1, nk = 1;
    w[0] = o->cpc_weight, k[0] = default_k;
    int by_w = o->cpc_weights[0] != 0, by_k = o->cpc_ks[0] != 0;
    if (by_w && (nw = parse_list("compare", "cpc-weights", o->cpc_weights, w, MAX_LIST, 0, 0, 1e6)) < 0)
        return -nw;
    if (by_k && (nk = parse_list("compare", "cpc-ks", o->cpc_ks, k, MAX_LIST, 1, 1, CPC_MAX_K)) < 0)
        return -nk;
    // a run's weight is a float: two values given that it cannot tell apart
    // would be two arms trained alike (names and flags hold the float's text)
    for (int i = 0; i < nw; i++)
        for (int j = 0; j < i; j++)
            if (w[i] != w[j] && (float)w[i] == (float)w[j]) {
                char t[32];
                compare_fmt_num(t, sizeof t, w[i]);
                return compare_usage("compare", "--cpc-weights: %.15g and %.15g are one weight for a run (which "
                                     "holds it as a float, %s): give weights that differ within 7 significant "
                                     "digits", w[j], w[i], t);
            }
    int n = 0;
    snprintf(arms[n].name, sizeof arms[n].name, "nocpc");
    arms[n].weight = 0, arms[n].k = default_k, n++;
    for (int i = 0; i < nw; i++) {
        if (w[i] <= 0) continue; // weight 0 is the nocpc arm
        for (int j = 0; j < nk; j++) {
            if (n >= MAX_ARMS) return compare_usage("compare", "more than %d arms", MAX_ARMS);
            Arm *a = &arms[n];
            char ws[32];
            compare_fmt_num(ws, sizeof ws, w[i]);
            if (by_w && by_k) snprintf(a->name, sizeof a->name, "w%s-k%d", ws, (int)k[j]);
            else if (by_w) snprintf(a->name, sizeof a->name, "w%s", ws);
            else if (by_k) snprintf(a->name, sizeof a->name, "k%d", (int)k[j]);
            else snprintf(a->name, sizeof a->name, "cpc");
            a->weight = w[i], a->k = (int)k[j];
            int dup = 0;
            for (int q = 0; q < n; q++) dup |= !strcmp(arms[q].name, a->name);
            if (!dup) n++;
        }
    }
    if (n < 2) return compare_usage("compare", "--cpc-weights: no arm with a weight above 0");
    *narms = n;
    return 0;
}

static void arm_config_flags(const Config *base, const Arm *a, int task, uint64_t seed, Config *c) {
    *c = *base;
    if (a->custom) { // checked by plan_custom_arms
        char err[512], *pos[1], *words[64];
        memcpy(words, a->flags, sizeof words); // the parser may not keep argv intact
        config_parse_args(c, NULL, a->nflags, words, G_TRAIN_ALL, pos, 0, NULL, NULL, err, sizeof err);
    } else {
        c->cpc_weight = (float)a->weight;
        if (a->weight > 0) c->cpc_k = a->k;
    }
    c->task = task;
    c->seed = seed;
}

// A run's planned config: the arm's flags, and --precision auto made the
// arm's (plan_build sets a->precision for every arm its flags leave at auto).
static void arm_config(const Config *base, const Arm *a, int task, uint64_t seed, Config *c) {
    arm_config_flags(base, a, task, seed, c);
    if (c->precision == CONFIG_PRECISION_AUTO) c->precision = a->precision;
}

// The precision of the arm's first run in OUT/runs that has a config.txt
// (planned tasks and seeds; its path in where), -1 when none has.
static int arm_runs_precision(const Plan *pl, const Arm *a, char *where, size_t n) {
    for (int s = 0; s < pl->o.seeds; s++)
        for (int t = 0; t < pl->ntasks; t++) {
            char path[1400];
            snprintf(path, sizeof path, "%s/runs/%s-%s-s%llu/config.txt", pl->o.out, ENV_TASK_NAMES[pl->tasks[t]],
                     a->name, (unsigned long long)(pl->o.first_seed + (uint64_t)s));
            if (!file_exists(path)) continue;
            Config have;
            char err[512];
            config_defaults(&have);
            if (config_load(&have, path, err, sizeof err) == 0 && have.precision != CONFIG_PRECISION_AUTO) {
                snprintf(where, n, "%s", path);
                return have.precision;
            }
        }
    return -1;
}

// The settings a run's config.txt must share with the plan; keys that only
// say how long / how loud a run is may differ.
static int config_differs(const Config *a, const Config *b, char *what, size_t n) {
    static const char *IGNORE[] = {"name", "runs_dir", "frames", "threads", "progress",
                                   "log_every", "ckpt_every"};
    // with --cpc-weight 0 the CPC head is not built: its settings do nothing (a
    // nocpc run made when another CPC default held is the same run)
    static const char *CPC_ONLY[] = {"cpc_k", "cpc_negatives", "cpc_stop_target", "cpc_k_weighting",
                                     "cpc_trunk_ratio", "cpc_mode", "cpc_action_hidden"};
    const int no_cpc = a->cpc_weight == 0 && b->cpc_weight == 0;
    char *ta = NULL, *tb = NULL;
    size_t la = 0, lb = 0;
    FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
    if (!fa || !fb) {
        if (fa) fclose(fa);
        if (fb) fclose(fb);
        free(ta), free(tb);
        return 0;
    }
    config_write(a, fa);
    config_write(b, fb);
    fclose(fa), fclose(fb);
    int differs = 0;
    char *sa = NULL, *sb = NULL;
    char *la_ = strtok_r(ta, "\n", &sa), *lb_ = strtok_r(tb, "\n", &sb);
    for (; la_ && lb_; la_ = strtok_r(NULL, "\n", &sa), lb_ = strtok_r(NULL, "\n", &sb)) {
        int skip = 0;
        for (size_t i = 0; i < sizeof IGNORE / sizeof IGNORE[0]; i++) {
            size_t l = strlen(IGNORE[i]);
            if (!strncmp(la_, IGNORE[i], l) && la_[l] == ' ') skip = 1;
        }
        for (size_t i = 0; i < sizeof CPC_ONLY / sizeof CPC_ONLY[0] && no_cpc; i++) {
            size_t l = strlen(CPC_ONLY[i]);
            if (!strncmp(la_, CPC_ONLY[i], l) && la_[l] == ' ') skip = 1;
        }
        if (!skip && strcmp(la_, lb_)) {
            snprintf(what, n, "'%s' in the run, '%s' planned", la_, lb_);
            differs = 1;
            break;
        }
    }
    free(ta), free(tb);
    return differs;
}

// Does dir/probe.csv measure the checkpoint *id? (a probe.csv of an older
// version, which does not say, is done again)
static int probe_matches(const char *path, const ProbeCkptId *id) {
    ProbeResult pr;
    char err[600];
    return file_exists(path) && probe_read_csv(&pr, path, err, sizeof err) == 0 && pr.has_ckpt &&
           pr.ckpt.frames == id->frames && pr.ckpt.crc == id->crc;
}

// What is there already: sets r->state, r->resume, r->frames. A run is
// trained when its log.csv and its model.ckpt have both reached the frames
// (a checkpoint behind its log, e.g. its last one never written on a full
// disk, is resumed from; a run without model.ckpt is judged by its log), and
// probed when its probe.csv names that very checkpoint (frames and CRC).
// move_aside: a log without a checkpoint is renamed to log.csv.stale (only
// under the run's lock; otherwise the run is just planned to start over).
static int scan_run(Run *r, const CompareOpts *o, const Config *planned, int move_aside) {
    char log[1200], ck[1200], pr[1200], cfgp[1200];
    snprintf(log, sizeof log, "%s/log.csv", r->dir);
    snprintf(ck, sizeof ck, "%s/model.ckpt", r->dir);
    snprintf(pr, sizeof pr, "%s/probe.csv", r->dir);
    snprintf(cfgp, sizeof cfgp, "%s/config.txt", r->dir);
    r->resume = 0;
    r->frames = 0;
    if (file_exists(cfgp) && file_exists(log)) {
        Config have;
        config_defaults(&have);
        char err[512], what[300];
        if (config_load(&have, cfgp, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl compare: %s\n", err);
            return -1;
        }
        if (config_differs(&have, planned, what, sizeof what)) {
            fprintf(stderr,
                    "cpcrl compare: %s was trained with other settings (%s); use another --out, "
                    "the same flags, or remove the run\n", r->dir, what);
            return -1;
        }
    }
    if (!file_exists(log)) {
        r->state = RUN_TODO;
        return 0;
    }
    double f = runlog_last_frames(log);
    r->frames = f > 0 ? f : 0;
    const int has_ck = file_exists(ck);
    ProbeCkptId id = {-1, 0};
    if (has_ck && probe_ckpt_id(ck, &id) < 0) id.frames = -1; // unreadable: resumed, which says why
    if (f >= o->frames && (!has_ck || id.frames >= o->frames)) {
        if (o->probe && has_ck && !probe_matches(pr, &id)) r->state = RUN_TRAINED;
        else r->state = RUN_DONE;
        return 0;
    }
    r->state = RUN_TODO;
    if (has_ck) {
        r->resume = 1;
        if (id.frames < r->frames) r->frames = id.frames > 0 ? id.frames : 0; // where it goes on from
    } else {
        // killed before its first checkpoint: nothing to resume from
        char stale[1300];
        snprintf(stale, sizeof stale, "%s.stale", log);
        if (move_aside) {
            if (rename(log, stale) < 0) {
                fprintf(stderr, "cpcrl compare: cannot move %s aside: %s\n", log, strerror(errno));
                return -1;
            }
            fprintf(stderr, "cpcrl compare: %s has a log but no checkpoint; starting it again (old log in %s)\n",
                    r->dir, stale);
        }
        r->frames = 0;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Building the plan

// The passed training flags: the ones compare sets per run are refused;
// whether --log-every is among them (else compare sets it).
static int plan_own_flags(Plan *pl) {
    static const char *OWN[] = {"task", "seed", "name", "runs-dir", "runs_dir", "progress"};
    for (int i = 0; i < pl->npass; i++) {
        const char *a = pl->pass[i];
        if (strncmp(a, "--", 2)) continue;
        for (size_t j = 0; j < sizeof OWN / sizeof OWN[0]; j++) {
            size_t l = strlen(OWN[j]);
            if (!strncmp(a + 2, OWN[j], l) && (a[2 + l] == 0 || a[2 + l] == '='))
                return compare_usage("compare", "--%s is set per run by compare (use --tasks, --seeds, --first-seed, --out)",
                             OWN[j]);
        }
        if (!strncmp(a, "--log-every", 11) || !strncmp(a, "--log_every", 11)) pl->inject_log_every = -1;
    }
    pl->inject_log_every = pl->inject_log_every == 0;
    return 0;
}

// --tasks: names (or all, every task in the table's order) into pl->tasks, each once.
static int plan_tasks(Plan *pl) {
    CompareOpts *o = &pl->o;
    if (!strcmp(o->tasks, "all")) env_task_list(o->tasks, sizeof o->tasks, ",");
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o->tasks);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int t = env_task_from_name(tok);
        if (t < 0)
            return compare_usage("compare", "--tasks: unknown task '%s' (valid: " ENV_TASK_VALID ", all)", tok);
        int dup = 0;
        for (int j = 0; j < pl->ntasks; j++) dup |= pl->tasks[j] == t;
        if (!dup) pl->tasks[pl->ntasks++] = t;
    }
    if (pl->ntasks == 0) return compare_usage("compare", "--tasks: empty list");
    return 0;
}

int plan_build(Plan *pl, const CompareOpts *opts, char **pass, int npass) {
    CompareOpts *o = &pl->o;
    memset(pl, 0, sizeof *pl);
    pl->rank = -1;
    *o = *opts;
    config_defaults(&pl->base);
    pl->pass = pass, pl->npass = npass;
    char *pos[1];
    int rc;
    while (o->out[0] && strlen(o->out) > 1 && o->out[strlen(o->out) - 1] == '/')
        o->out[strlen(o->out) - 1] = 0;
    if (!o->out[0]) return compare_usage("compare", "--out: empty directory name");
    if (o->aggregate_only) return 0;
    // training flags: reject the ones compare sets per run, check the rest
    if ((rc = plan_own_flags(pl))) return rc;
    char err[512];
    if (config_parse_args(&pl->base, NULL, pl->npass, pl->pass, G_TRAIN_ALL, pos, 0, NULL, NULL, err, sizeof err) < 0)
        return compare_usage("compare", "%s", err);
    pl->base.frames = o->frames;
    if (pl->inject_log_every) pl->base.log_every = fmax(1, floor(o->frames / 100));
    if ((rc = plan_tasks(pl))) return rc;
    if (o->first_seed > UINT64_MAX - (uint64_t)(o->seeds - 1))
        return compare_usage("compare", "--first-seed %llu with --seeds %d: the seeds would pass 2^64-1 and wrap around",
                     (unsigned long long)o->first_seed, o->seeds);
    if ((rc = o->arms[0] ? plan_custom_arms(o, &pl->base, pl->arms, &pl->narms)
                         : plan_arms(o, pl->base.cpc_k, pl->arms, &pl->narms)))
        return rc;
    int has_base = !o->baseline[0]; // the runs to be trained include --baseline's arm
    for (int a = 0; a < pl->narms; a++) has_base |= !strcmp(pl->arms[a].name, o->baseline);
    if (!has_base)
        return compare_usage("compare", "--baseline %s: no such arm in the plan (its arms are %s, ..., %s)",
                             o->baseline, pl->arms[0].name, pl->arms[pl->narms - 1].name);
    // jobs x threads <= cores
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (o->jobs == 0) o->jobs = (int)cores;
    pl->threads = o->threads ? o->threads : (int)(cores / o->jobs > 0 ? cores / o->jobs : 1);
    if (o->jobs > cores)
        return compare_usage("compare", "--jobs %d exceeds the %ld cores (jobs x threads must fit the cores)",
                     o->jobs, cores);
    if ((long)o->jobs * pl->threads > cores)
        return compare_usage("compare", "--jobs %d x --threads %d = %d threads exceeds the %ld cores",
                     o->jobs, pl->threads, o->jobs * pl->threads, cores);
    // --precision auto, per arm: what its runs have, else this machine's;
    // given to its runs as their last flag, so that neither the arm's own
    // flags (--arms 'x=--precision auto') nor the child decide it again. Runs
    // in bf16 where it cannot run: refused once one of them is to be trained
    // (after the scan below); trained ones are still probed and aggregated.
    Config here = pl->base;
    here.precision = CONFIG_PRECISION_AUTO;
    config_resolve_auto(&here);
    for (int a = 0; a < pl->narms; a++) {
        Arm *arm = &pl->arms[a];
        Config c;
        char where[1200];
        arm->precision = -1, arm->inject_precision = 0, arm->machine_err[0] = 0;
        arm_config_flags(&pl->base, arm, pl->tasks[0], o->first_seed, &c);
        if (c.precision != CONFIG_PRECISION_AUTO) continue;
        arm->precision = arm_runs_precision(pl, arm, where, sizeof where);
        if (arm->precision == GEMM_BF16 && !gemm_bf16_available()) {
            char name[sizeof arm->name]; // a copy: the message goes into the same struct
            snprintf(name, sizeof name, "%s", arm->name);
            snprintf(arm->machine_err, sizeof arm->machine_err,
                     "arm %s: its runs have precision bf16 (%s), which --precision auto keeps, and this machine "
                     "cannot train precision bf16 (%s): carry them on where bf16 runs (the runs already trained "
                     "are probed and aggregated here too)", name, where, gemm_bf16_status());
        }
        if (arm->precision < 0) arm->precision = here.precision;
        arm->inject_precision = 1;
    }
    // every arm's config must be valid for every task
    for (int t = 0; t < pl->ntasks; t++)
        for (int a = 0; a < pl->narms; a++) {
            Config c;
            arm_config(&pl->base, &pl->arms[a], pl->tasks[t], o->first_seed, &c);
            if (config_check(&c, err, sizeof err) < 0 ||
                (!pl->arms[a].machine_err[0] && config_for_machine(&c, err, sizeof err) < 0))
                return compare_usage("compare", "arm %s, task %s: %s", pl->arms[a].name,
                             ENV_TASK_NAMES[pl->tasks[t]], err);
        }
    // runs: seed outer, task, arm inner (a partial experiment stays balanced)
    pl->nruns = o->seeds * pl->ntasks * pl->narms;
    pl->runs = calloc((size_t)pl->nruns, sizeof(Run));
    if (!pl->runs) { fprintf(stderr, "cpcrl compare: out of memory\n"); return 1; }
    int n = 0;
    for (int s = 0; s < o->seeds; s++)
        for (int t = 0; t < pl->ntasks; t++)
            for (int a = 0; a < pl->narms; a++) {
                Run *r = &pl->runs[n++];
                runlock_init(&r->lock);
                r->task = pl->tasks[t], r->arm = a, r->seed = o->first_seed + (uint64_t)s;
                Config c;
                arm_config(&pl->base, &pl->arms[a], r->task, r->seed, &c);
                if (snprintf(r->name, sizeof r->name, "%s-%s-s%llu", ENV_TASK_NAMES[r->task],
                             pl->arms[a].name, (unsigned long long)r->seed) >= (int)sizeof c.name)
                    return compare_usage("compare", "run name '%s' longer than %zu characters (shorter arm lists)",
                                 r->name, sizeof c.name - 1);
                memcpy(c.name, r->name, strlen(r->name) + 1);
                snprintf(r->dir, sizeof r->dir, "%s/runs/%s", o->out, r->name);
                if (scan_run(r, o, &c, 0) < 0) return 1;
            }
    for (int i = 0; i < pl->nruns; i++)
        if (pl->runs[i].state == RUN_TODO && pl->arms[pl->runs[i].arm].machine_err[0])
            return compare_usage("compare", "%s; %s is one to train", pl->arms[pl->runs[i].arm].machine_err,
                                 pl->runs[i].name);
    return 0;
}

int plan_rescan(Plan *pl, Run *r) {
    Config c;
    arm_config(&pl->base, &pl->arms[r->arm], r->task, r->seed, &c);
    memcpy(c.name, r->name, strlen(r->name) + 1);
    return scan_run(r, &pl->o, &c, 1);
}

// OUT/command.txt: every distinct command line that worked on OUT, each
// word as a shell reads it back (a word of [A-Za-z0-9_./=,:+-] as it is,
// any other in single quotes, a ' inside written '\''), so that the line
// run again is the same command and runs nothing else. A convenience for
// the summary: failures to write it are ignored.
void plan_record_command(const char *out, int argc, char **argv) {
    char path[1100], *cmd = NULL, *have = NULL;
    size_t n = 0, hn = 0;
    FILE *m = open_memstream(&cmd, &n);
    if (!m) return;
    fputs("cpcrl compare", m);
    for (int i = 0; i < argc; i++) {
        int plain = argv[i][0] != 0;
        for (const char *c = argv[i]; *c; c++)
            plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                     strchr("_./=,:+-", *c) != NULL;
        if (plain) {
            fprintf(m, " %s", argv[i]);
            continue;
        }
        fputs(" '", m);
        for (const char *c = argv[i]; *c; c++)
            if (*c == '\'') fputs("'\\''", m);
            else fputc(*c, m);
        fputc('\'', m);
    }
    fputc('\n', m);
    if (fclose(m) != 0) { free(cmd); return; }
    snprintf(path, sizeof path, "%s/command.txt", out);
    // already there? (whole entries: a quoted word may hold a line break)
    FILE *f = file_open_regular(path, NULL);
    if (f) {
        m = open_memstream(&have, &hn);
        char buf[4096];
        size_t k;
        while (m && (k = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, k, m);
        fclose(f);
        if (m) fclose(m);
        for (const char *p = have; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
            if (!strncmp(p, cmd, n)) { free(cmd), free(have); return; }
        free(have);
    }
    if ((f = fopen(path, "a"))) {
        fputs(cmd, f);
        fclose(f);
    }
    free(cmd);
}
