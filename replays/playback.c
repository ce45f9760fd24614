// playback.c — `cpcrl replay`: the player window, and headless --info,
// --verify, --export (GIF, or MP4/WebM/MKV through ffmpeg) and --frames (PNGs)
// (see cmd.h); all with the belief overlay when a checkpoint and its
// read-outs are given or found beside the replay (overlay.h: c_t recomputed
// from the replay's own inputs).
#include "replays/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/errs.h"
#include "base/file.h"
#include "replays/actor.h"
#include "replays/image.h"
#include "replays/overlay.h"
#include "replays/window.h"

static void replay_info(const Replay *r, const char *path, FILE *out) {
    static const char *SRC[3] = {"a person", "an agent (greedy)", "an agent (sampled)"};
    static const char *END[3] = {"cut short (recording stopped)", "terminated", "time limit"};
    fprintf(out, "%s: cpcrl replay v%d\n", path, REPLAY_VERSION);
    fprintf(out, "  task %s (size %d, view %d, max_steps %d, items %d), map %dx%d\n", ENV_TASK_NAMES[r->cfg.task],
            r->cfg.size, r->cfg.view, r->cfg.max_steps, r->cfg.items, r->w, r->h);
    fprintf(out, "  seed %llu, episode %llu, episode rng %016llx\n", (unsigned long long)r->seed,
            (unsigned long long)r->episode, (unsigned long long)r->episode_rng);
    // the label is free text from the file: control characters (terminal
    // escape sequences) are shown as \xNN, never sent to the terminal
    char label[4 * sizeof r->label + 1];
    size_t k = 0;
    for (size_t i = 0; i < sizeof r->label && r->label[i]; i++) {
        unsigned char ch = (unsigned char)r->label[i];
        if (ch < 0x20 || ch == 0x7f || ch == '\\') k += (size_t)snprintf(label + k, sizeof label - k, "\\x%02x", ch);
        else label[k++] = (char)ch;
    }
    label[k] = 0;
    fprintf(out, "  played by %s%s%s", SRC[r->source], label[0] ? ", " : "", label);
    if (r->has_policy) fprintf(out, ", checkpoint at %.0f frames", r->train_frames);
    fprintf(out, "\n  steps %d, end: %s, return %+.3f, success %s\n", r->n, END[r->end], (double)r->ret,
            r->success ? "yes" : "no");
    int cnt[ENV_A] = {0}, pos = 0, neg = 0;
    double vsum = 0, hsum = 0;
    for (int t = 0; t < r->n; t++) {
        const ReplayStep *s = &r->steps[t];
        cnt[s->action]++;
        pos += s->reward > 0, neg += s->reward < 0;
        vsum += s->value;
        for (int a = 0; a < ENV_A; a++)
            if (s->probs[a] > 0) hsum -= s->probs[a] * log(s->probs[a]);
    }
    fprintf(out, "  actions:");
    for (int a = 0; a < ENV_A; a++) fprintf(out, " %s %d", ENV_ACTION_NAMES[a], cnt[a]);
    fprintf(out, "\n  rewards: %d positive, %d negative\n", pos, neg);
    if (r->has_policy && r->n > 0)
        fprintf(out, "  mean value %+.3f, mean policy entropy %.3f nats (uniform %.3f)\n", vsum / r->n, hsum / r->n,
                log(ENV_A));
    fprintf(out, "  state hashes: %d (every %d steps and after the last)\n", r->nhash, r->hash_every);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

// The video encoder: ffmpeg started from an argument vector (no shell, so a
// file name reaches it as it is), raw BGRA frames written into its stdin.
// SIGPIPE is ignored while it runs: an encoder that quits early shows up as
// a failed write, and its exit status is what gets reported.
typedef struct {
    pid_t pid;
    FILE *in;
    struct sigaction old_pipe;
} Encoder;

static int encoder_close(Encoder *enc, char *err, size_t n);

static int encoder_open(Encoder *enc, const char *path, int W, int H, double fps, char *err, size_t n) {
    char size[32], rate[32], out[1100];
    snprintf(size, sizeof size, "%dx%d", W, H);
    snprintf(rate, sizeof rate, "%g", fps);
    snprintf(out, sizeof out, "file:%s", path); // never an option or a protocol
    char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgra",
                    "-s", size, "-r", rate, "-i", "pipe:0", "-pix_fmt", "yuv420p", out, NULL};
    int fds[2];
    memset(enc, 0, sizeof *enc);
    if (pipe2(fds, O_CLOEXEC) < 0) return err_fail(err, n, "--export %s: pipe: %s", path, strerror(errno));
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    if (rc == 0) rc = posix_spawnp(&enc->pid, "ffmpeg", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        enc->pid = 0;
        if (rc == ENOENT)
            return err_fail(err, n, "--export %s: ffmpeg not found; install it (apt-get install ffmpeg) or "
                                    "export a .gif, which needs nothing", path);
        return err_fail(err, n, "--export %s: cannot start ffmpeg: %s", path, strerror(rc));
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &enc->old_pipe);
    if (!(enc->in = fdopen(fds[1], "w"))) {
        close(fds[1]); // the encoder sees end of input and exits
        encoder_close(enc, NULL, 0);
        return err_fail(err, n, "--export %s: out of memory", path);
    }
    return 0;
}

// Close the encoder's input and wait for it. 0 when it exited with status 0.
static int encoder_close(Encoder *enc, char *err, size_t n) {
    int werr = enc->in && fclose(enc->in) != 0, status = 0;
    enc->in = NULL;
    pid_t w;
    while ((w = waitpid(enc->pid, &status, 0)) < 0 && errno == EINTR) {}
    sigaction(SIGPIPE, &enc->old_pipe, NULL);
    enc->pid = 0;
    if (w < 0) return err_fail(err, n, "ffmpeg: waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return err_fail(err, n, "ffmpeg failed (exit status %d)", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return err_fail(err, n, "ffmpeg killed by signal %d", WTERMSIG(status));
    if (werr) return err_fail(err, n, "writing frames to ffmpeg failed");
    return 0;
}

// What ffmpeg wrote, checked: its exit status says little (ffmpeg 5.1 exits
// 0 on a full disk, leaving an MP4 without its index, "moov atom not
// found"). Every file must be non-empty; an .mp4 must be a sequence of
// top-level boxes (u32 big-endian size, 4-character type; size 1: a u64
// size follows, size 0: to the end of the file) that ends exactly at the end
// of the file and holds a 'moov' box. 0, or -1 with a message.
static int video_check(const char *path, char *err, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return err_fail(err, n, "cannot open what ffmpeg wrote: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_fail(err, n, "ffmpeg wrote no regular file");
    }
    const uint64_t size = (uint64_t)st.st_size;
    int rc = 0, moov = 0;
    uint64_t off = 0;
    if (size == 0) rc = err_fail(err, n, "ffmpeg exited 0 but the file is empty (a full disk?)");
    while (rc == 0 && ends_with(path, ".mp4") && off < size) {
        uint8_t h[16];
        if (size - off < 8 || pread(fd, h, 8, (off_t)off) != 8) {
            rc = err_fail(err, n, "not a complete MP4: %llu stray bytes at its end (truncated: a full disk?)",
                          (unsigned long long)(size - off));
            break;
        }
        uint64_t box = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3], hdr = 8;
        if (box == 1) { // a u64 size (0 when it cannot be read: reported as running past the end)
            box = 0, hdr = 16;
            if (size - off >= 16 && pread(fd, h + 8, 8, (off_t)(off + 8)) == 8)
                for (int i = 8; i < 16; i++) box = box << 8 | h[i];
        } else if (box == 0) {
            box = size - off;
        }
        char type[5];
        for (int i = 0; i < 4; i++) type[i] = h[4 + i] >= 0x20 && h[4 + i] < 0x7f ? (char)h[4 + i] : '?';
        type[4] = 0;
        if (box < hdr || box > size - off) {
            rc = err_fail(err, n, "not a complete MP4: its box '%s' at byte %llu runs past the end of the %llu "
                          "bytes written (truncated: a full disk?)", type, (unsigned long long)off,
                          (unsigned long long)size);
            break;
        }
        moov |= !memcmp(h + 4, "moov", 4);
        off += box;
    }
    if (rc == 0 && ends_with(path, ".mp4") && !moov)
        rc = err_fail(err, n, "not a complete MP4: no 'moov' box, the index ffmpeg writes last (\"moov atom not "
                      "found\": a full disk?)");
    close(fd);
    return rc;
}

// ----------------------------------------------------------------------------
// The belief overlay of a replay

typedef struct {
    Actor ac;
    Overlay ov;
    float *ct;      // (n+1, H): c_t of every frame, NULL without an overlay
    int H;
} ReplayBelief;

static void belief_free(ReplayBelief *b) {
    overlay_free(&b->ov);
    if (b->ac.m) actor_free(&b->ac);
    free(b->ct);
    memset(b, 0, sizeof *b);
}

// The overlay of replay r (file rpl): --ckpt and --readout, else a run
// around the replay holding both. What the user named must work (exit 1
// otherwise); what was only found is left out with a message when it does
// not fit. 0 (b->ct NULL: no overlay) or the exit code.
static int belief_open(ReplayBelief *b, const Replay *r, const char *rpl, const Opts *o) {
    memset(b, 0, sizeof *b);
    if (!o->overlay) return 0;
    char ckpt[1100], ro[1200], err[1400];
    const int named = o->ckpt[0] || o->readout[0];
    if (o->ckpt[0]) {
        snprintf(ckpt, sizeof ckpt, "%s", o->ckpt);
        if (o->readout[0]) snprintf(ro, sizeof ro, "%s", o->readout);
        else if (overlay_find(o->ckpt, ro, sizeof ro) < 0) {
            fprintf(stderr, "cpcrl replay: no read-outs at %s (cpcrl probe %s --save fits them; or --readout FILE)\n",
                    ro, o->ckpt);
            return 1;
        }
    } else if (overlay_find_for_replay(rpl, ckpt, sizeof ckpt, ro, sizeof ro) < 0) {
        if (!o->readout[0]) return 0; // no overlay: nothing named, nothing found
        fprintf(stderr, "cpcrl replay: --readout %s: which checkpoint recomputes c_t? give --ckpt CKPT|RUN\n",
                o->readout);
        return 2;
    } else if (o->readout[0]) {
        snprintf(ro, sizeof ro, "%s", o->readout);
    }
    int rc = 0;
    double dp = -1;
    if (actor_load(&b->ac, ckpt, 0, err, sizeof err) < 0) rc = -1;
    else if (overlay_load(&b->ov, ro, ckpt, b->ac.cfg.task, b->ac.m->H, b->ac.train_frames, 1, err, sizeof err) < 0)
        rc = -1;
    else if (overlay_replay_states(&b->ac, r, &b->ct, &dp, err, sizeof err) < 0)
        rc = -1;
    if (rc < 0) {
        fprintf(stderr, "cpcrl replay: belief overlay: %s%s\n", err, named ? "" : " (left out)");
        belief_free(b);
        return named ? 1 : 0;
    }
    b->H = b->ac.m->H;
    overlay_set_seed(&b->ov, r->seed);
    char warn[96] = "";
    if (!r->has_policy)
        snprintf(warn, sizeof warn, "a person's episode, read by the agent");
    else if (dp > 1e-3)
        snprintf(warn, sizeof warn, "not this ckpt's episode (policy off %.2f)", dp);
    if (warn[0]) overlay_warn(&b->ov, warn);
    fprintf(stderr, "cpcrl replay: belief overlay from %s and %s (c_t recomputed over the replay; %s)\n", ckpt, ro,
            !r->has_policy ? "a person played: the belief is the agent's reading of their episode"
            : dp > 1e-3 ? "the policy differs from the recorded one: another checkpoint played it"
                        : "the policy matches the recorded one");
    if (b->ov.fitted_here)
        fprintf(stderr, "cpcrl replay: warning: the read-outs were fitted on this episode's env seed %llu\n",
                (unsigned long long)r->seed);
    return 0;
}

static const DrawBelief *belief_at(ReplayBelief *b, int t) {
    return b->ct ? overlay_frame(&b->ov, b->ct + (size_t)t * b->H) : NULL;
}

static int replay_export(const Replay *r, const Opts *o, ReplayBelief *bel) {
    char err[600];
    const int W = o->win_w, H = o->win_h;
    uint32_t *px = malloc((size_t)W * H * sizeof *px);
    if (!px) {
        fprintf(stderr, "cpcrl replay: out of memory for %dx%d frames\n", W, H);
        return 1;
    }
    Canvas c = {px, W, H, W};
    Env e;
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    char label[128], status_line[128];
    snprintf(label, sizeof label, "%s", r->label);
    int rc = 0;
    GifWriter g;
    Encoder enc;
    memset(&enc, 0, sizeof enc);
    int gif = o->export_path[0] && ends_with(o->export_path, ".gif");
    if (o->frames[0] && file_check_out(o->frames, 1, err, sizeof err) < 0) { // before any export is begun
        free(px);
        fprintf(stderr, "cpcrl replay: --frames %s\n", err);
        return 1;
    }
    if (o->export_path[0] && !gif) {
        if (!ends_with(o->export_path, ".mp4") && !ends_with(o->export_path, ".webm") && !ends_with(o->export_path, ".mkv")) {
            free(px);
            fprintf(stderr, "cpcrl replay: --export %s: expected a .gif, .mp4, .webm or .mkv file name\n", o->export_path);
            return 2;
        }
        if (encoder_open(&enc, o->export_path, W, H, o->fps, err, sizeof err) < 0) {
            free(px);
            fprintf(stderr, "cpcrl replay: %s\n", err);
            return 1;
        }
    }
    if (gif && gif_open(&g, o->export_path, W, H, err, sizeof err) < 0) {
        free(px);
        fprintf(stderr, "cpcrl replay: %s\n", err);
        return 1;
    }
    int delay = (int)lround(100.0 / o->fps);
    for (int t = 0; t <= r->n && rc == 0; t++) {
        DrawFrame f;
        memset(&f, 0, sizeof f);
        frame_from_replay(&f, r, t, &e, obs);
        f.mode = "REPLAY";
        f.label = label;
        snprintf(status_line, sizeof status_line, "frame %d of %d", t, r->n);
        f.status = status_line;
        f.slider_pos = t, f.slider_len = r->n > 0 ? r->n : 1;
        f.belief = belief_at(bel, t);
        draw_frame(&c, &f, NULL);
        if (gif && gif_frame(&g, px, W, t == r->n ? delay * 4 + 100 : delay, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: %s\n", err);
            rc = 1;
        }
        if (enc.in) {
            int copies = t == r->n ? (int)o->fps * 2 : 1; // hold the last frame ~2 s
            for (int k = 0; k < copies && rc == 0; k++)
                if (fwrite(px, sizeof *px, (size_t)W * H, enc.in) != (size_t)W * H) rc = -1; // reported below
        }
        if (o->frames[0]) {
            char path[1200];
            snprintf(path, sizeof path, "%s/frame_%05d.png", o->frames, t);
            if (png_write(path, px, W, H, W, err, sizeof err) < 0) {
                fprintf(stderr, "cpcrl replay: %s\n", err);
                rc = 1;
            }
        }
    }
    if (gif) {
        if (rc == 0 && gif_close(&g, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: %s\n", err);
            rc = 1;
        } else if (rc != 0) {
            gif_abort(&g);
        }
    }
    if (enc.pid > 0) { // the encoder's own failure is the one to report
        int wrote = rc != -1;
        if (encoder_close(&enc, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: --export %s: %s\n", o->export_path, err);
            rc = 1;
        } else if (!wrote) {
            fprintf(stderr, "cpcrl replay: writing frames to ffmpeg failed (%s)\n", o->export_path);
            rc = 1;
        } else if (video_check(o->export_path, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: --export %s: %s; the broken file is removed\n", o->export_path, err);
            unlink(o->export_path);
            rc = 1;
        }
    }
    if (rc == 0 && o->export_path[0]) fprintf(stderr, "cpcrl replay: wrote %s (%d frames, %dx%d)\n", o->export_path, r->n + 1, W, H);
    if (rc == 0 && o->frames[0]) fprintf(stderr, "cpcrl replay: wrote %d PNG frames to %s\n", r->n + 1, o->frames);
    free(px);
    return rc;
}

int cmd_replay(const ViewOpts *opts, char **pos, int np) {
    const Opts o = *opts;
    char err[600];
    if (np != 1) return window_usage("replay", "expected one replay file (.rpl)");
    Replay r;
    if (replay_load(&r, pos[0], err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl replay: %s\n", err);
        return 1;
    }
    int headless = o.info || o.verify || o.export_path[0] || o.frames[0];
    int status = 0;
    ReplayBelief bel;
    memset(&bel, 0, sizeof bel);
    if ((o.export_path[0] || o.frames[0] || !headless) && (status = belief_open(&bel, &r, pos[0], &o))) {
        replay_free(&r);
        return status;
    }
    if (o.info) replay_info(&r, pos[0], stdout);
    if (o.verify) {
        if (replay_verify(&r, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: %s: verify FAILED: %s\n", pos[0], err);
            status = 1;
        } else {
            printf("%s: verified: %d steps re-simulated from seed %llu, %d state hashes match\n", pos[0], r.n,
                   (unsigned long long)r.seed, r.nhash);
        }
    }
    if (status == 0 && (o.export_path[0] || o.frames[0])) status = replay_export(&r, &o, &bel);
    if (headless) {
        belief_free(&bel);
        replay_free(&r);
        return status;
    }

    View v;
    int rc = window_open(&v, &o, "cpcrl replay");
    if (rc) {
        belief_free(&bel);
        replay_free(&r);
        return rc;
    }
    Env e;
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    int t = o.start > r.n ? r.n : (int)o.start, playing = !o.paused, loop = o.loop, quit = 0, drag = 0;
    double speed = o.speed, acc = 0, t_last = window_now();
    DrawLayout lay;
    memset(&lay, 0, sizeof lay);
    Message msg = {{0}, 0};
    char label[128];
    const char *base = strrchr(pos[0], '/');
    snprintf(label, sizeof label, "%.60s  %.60s", base ? base + 1 : pos[0], r.label);
    const int step10 = r.n / 10 > 1 ? r.n / 10 : 1;
    while (!quit) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev)) {
            window_event(&v, &ev, "replay", &quit, &status);
            int mx = -1;
            if (ev.type == SDL_MOUSEBUTTONDOWN && ev.button.button == SDL_BUTTON_LEFT && lay.slider_w > 0 &&
                ev.button.y >= lay.slider_y - lay.slider_h && ev.button.y <= lay.slider_y + 2 * lay.slider_h)
                drag = 1, mx = ev.button.x;
            if (ev.type == SDL_MOUSEBUTTONUP) drag = 0;
            if (ev.type == SDL_MOUSEMOTION && drag) mx = ev.motion.x;
            if (mx >= 0) {
                long p = lround((double)(mx - lay.slider_x) * r.n / (lay.slider_w > 0 ? lay.slider_w : 1));
                t = p < 0 ? 0 : p > r.n ? r.n : (int)p;
                playing = 0;
            }
            if (ev.type != SDL_KEYDOWN) continue;
            if (overlay_key(&bel.ov, ev.key.keysym.sym, &msg)) continue;
            switch (ev.key.keysym.sym) {
            case SDLK_SPACE:
                playing = !playing;
                if (playing && t >= r.n) t = 0;
                break;
            case SDLK_RIGHT:
            case SDLK_PERIOD: playing = 0, t = t < r.n ? t + 1 : r.n; break;
            case SDLK_LEFT:
            case SDLK_COMMA: playing = 0, t = t > 0 ? t - 1 : 0; break;
            case SDLK_PAGEUP: t = t - step10 > 0 ? t - step10 : 0; break;
            case SDLK_PAGEDOWN: t = t + step10 < r.n ? t + step10 : r.n; break;
            case SDLK_HOME: t = 0; break;
            case SDLK_END: t = r.n; break;
            case SDLK_l:
                loop = !loop;
                message_set(&msg, 2, "loop %s", loop ? "on" : "off");
                break;
            default: window_key(&v, ev.key.keysym.sym, &speed, &msg, &quit); break;
            }
        }
        double tn = window_now(), dt = tn - t_last;
        t_last = tn;
        if (playing) {
            acc += dt * speed;
            while (acc >= 1) {
                acc -= 1;
                if (t < r.n) t++;
                else if (loop) t = 0;
                else playing = 0, acc = 0;
            }
        } else {
            acc = 0;
        }
        DrawFrame f;
        memset(&f, 0, sizeof f);
        frame_from_replay(&f, &r, t, &e, obs);
        f.mode = "REPLAY";
        f.label = label;
        char status_line[160];
        snprintf(status_line, sizeof status_line, "%s  %g steps/s  loop %s  frame %d of %d", playing ? "PLAYING" : "PAUSED",
                 speed, loop ? "on" : "off", t, r.n);
        f.slider_pos = t, f.slider_len = r.n > 0 ? r.n : 1;
        f.belief = belief_at(&bel, t);
        if (window_show(&v, &f, status_line, &msg, REPLAY_KEYS, &lay)) quit = 1;
    }
    belief_free(&bel);
    replay_free(&r);
    if (window_close(&v)) status = 1;
    return status;
}
