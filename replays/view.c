// view.c — SDL2 window presenting the software-rendered canvas (see view.h).
#include "replays/view.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/errs.h"
#include "replays/image.h"

int view_set_script(View *v, const char *keys, char *err, size_t errlen) {
    v->nscript = v->script_pos = 0;
    if (v->key_every <= 0) v->key_every = 3;
    const char *p = keys;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char name[32];
        if (l == 0 || l >= sizeof name)
            return err_fail(err, errlen, "--keys: bad key name '%.*s' (SDL key names like Up, Left, Space, Return, q; WAIT for none)",
                        (int)(l < 40 ? l : 40), p);
        memcpy(name, p, l);
        name[l] = 0;
        SDL_Keycode k = SDLK_UNKNOWN;
        if (strcasecmp(name, "WAIT") != 0) {
            k = SDL_GetKeyFromName(name);
            if (k == SDLK_UNKNOWN)
                return err_fail(err, errlen, "--keys: unknown key '%s' (SDL key names like Up, Left, Space, Return, q; WAIT for none)",
                            name);
        }
        if (v->nscript >= VIEW_MAX_SCRIPT) return err_fail(err, errlen, "--keys: more than %d keys", VIEW_MAX_SCRIPT);
        v->script[v->nscript++] = k;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int make_surface(View *v, int w, int h, char *err, size_t errlen) {
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
    if (!s) return err_fail(err, errlen, "cannot create a %dx%d surface: %s", w, h, SDL_GetError());
    if (v->surf) SDL_FreeSurface(v->surf);
    v->surf = s;
    v->w = w, v->h = h;
    v->canvas = (Canvas){(uint32_t *)s->pixels, w, h, s->pitch / 4};
    return 0;
}

int view_open(View *v, const char *title, int w, int h, char *err, size_t errlen) {
    if (SDL_Init(SDL_INIT_VIDEO) != 0)
        return err_fail(err, errlen, "cannot open a window: %s (no display? run under xvfb-run, or use the headless options)",
                    SDL_GetError());
    // Without a display SDL quietly falls back to an invisible driver; say so
    // unless that was asked for (SDL_VIDEODRIVER=dummy works for scripted runs).
    // (an empty SDL_VIDEODRIVER asks for nothing: SDL chose the driver itself)
    const char *drv = SDL_GetCurrentVideoDriver(), *asked = SDL_getenv("SDL_VIDEODRIVER");
    const int chosen = asked && asked[0];
    if (drv && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")) && !chosen) {
        SDL_Quit();
        return err_fail(err, errlen,
                    "cannot open a window: no display (SDL found only its '%s' driver); run under xvfb-run or "
                    "set DISPLAY, or use the headless options (see 'cpcrl help')", drv);
    }
    v->win = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w, h,
                              SDL_WINDOW_RESIZABLE);
    if (!v->win) {
        err_fail(err, errlen, "cannot open a window: %s", SDL_GetError());
        SDL_Quit();
        return -1;
    }
    SDL_SetWindowMinimumSize(v->win, 320, 200);
    int ww, wh;
    SDL_GetWindowSize(v->win, &ww, &wh);
    if (make_surface(v, ww, wh, err, errlen) < 0) {
        SDL_DestroyWindow(v->win);
        SDL_Quit();
        v->win = NULL;
        return -1;
    }
    if (v->key_every <= 0) v->key_every = 3;
    return 0;
}

int view_sync_size(View *v, char *err, size_t errlen) {
    int ww, wh;
    SDL_GetWindowSize(v->win, &ww, &wh);
    if (ww == v->w && wh == v->h) return 0;
    return make_surface(v, ww, wh, err, errlen);
}

int view_present(View *v) {
    SDL_Surface *ws = SDL_GetWindowSurface(v->win);
    if (ws) {
        SDL_BlitSurface(v->surf, NULL, ws, NULL);
        SDL_UpdateWindowSurface(v->win);
    }
    v->frame++;
    if (v->script_pos < v->nscript && v->frame % v->key_every == 0) {
        SDL_Keycode k = v->script[v->script_pos++];
        if (k != SDLK_UNKNOWN) {
            SDL_Event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = SDL_KEYDOWN;
            ev.key.state = SDL_PRESSED;
            ev.key.windowID = SDL_GetWindowID(v->win);
            ev.key.keysym.sym = k;
            ev.key.keysym.scancode = SDL_GetScancodeFromKey(k);
            SDL_PushEvent(&ev);
        }
    }
    return v->auto_quit > 0 && v->frame >= v->auto_quit;
}

int view_save_png(View *v, const char *path, char *err, size_t errlen) {
    return png_write(path, v->canvas.px, v->canvas.w, v->canvas.h, v->canvas.stride, err, errlen);
}

int view_close(View *v, char *err, size_t errlen) {
    int rc = 0;
    if (v->surf && v->screenshot[0]) rc = view_save_png(v, v->screenshot, err, errlen);
    if (v->surf) SDL_FreeSurface(v->surf);
    if (v->win) SDL_DestroyWindow(v->win);
    if (v->win) SDL_Quit();
    v->surf = NULL, v->win = NULL;
    return rc;
}
