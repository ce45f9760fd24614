"""One cpcrl env behind Gymnasium's Env API (a gymnasium.Env when gymnasium
is importable, else a plain class with the same attributes and methods).

Episodes and seeds. reset(seed=N) starts exactly the env `./cpcrl show TASK
--seed N` prints (env_init(N)). The C env starts its next episode inside the
step that ends one (drawn from its own rng); step still returns that ended
episode's last observation, as Gymnasium wants, and the reset() that follows
(without a seed) returns the first observation of the episode C already
started. So a seeded env stepped through episodes with reset() in between
sees the same episodes, bit for bit, as the C program's self-resetting env
with that seed. reset() in the middle of an episode abandons it and starts the
next one from the env's rng; reset() before any seed draws a seed from
np_random. Stepping on after an episode ended without calling reset() simply
continues in the next episode.
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib
from .spaces import HAVE_GYMNASIUM, Box, Discrete, gymnasium

# Colours of replays/draw.c's DRAW_KIND_COLOUR, one row per cell kind.
PALETTE = np.array([
    (16, 16, 20), (46, 48, 56), (128, 128, 138), (40, 190, 80), (225, 40, 50), (245, 215, 40),
    (60, 130, 255), (190, 80, 230), (60, 130, 255), (190, 80, 230), (0, 200, 200),
    (255, 140, 0), (240, 100, 170), (150, 220, 60)], dtype=np.uint8)
_PLATFORM = np.array((120, 255, 150), dtype=np.uint8)  # watermaze's hidden platform
_AGENT = np.array((255, 255, 255), dtype=np.uint8)


_STATE_KEYS = ("w", "h", "ax", "ay", "dir", "carrying", "tx", "ty", "steps", "task", "episode",
               "ep_success")


def env_state(e):
    """Pose and counters of the C Env at pointer e (cpcrl_env_state)."""
    out = np.zeros(len(_STATE_KEYS), np.intc)
    lib.cpcrl_env_state(e, out.ctypes.data)
    return dict(zip(_STATE_KEYS, (int(x) for x in out)))


def render_text(e):
    """env_render_map: one char per cell, agent ^>v<, as `cpcrl show` prints."""
    s = env_state(e)
    buf = ctypes.create_string_buffer((s["w"] + 1) * s["h"] + 1)
    lib.cpcrl_env_render_map(e, buf)
    return buf.value.decode()


def _agent_mask(tile):
    """Boolean [4][tile][tile] triangles pointing north, east, south, west."""
    y, x = np.mgrid[0:tile, 0:tile] + 0.5
    c, r = tile / 2.0, tile * 0.4
    north = (y >= c - r) & (y <= c + r) & (np.abs(x - c) <= (y - (c - r)) / 2)
    return np.stack([np.rot90(north, -k) for k in range(4)])


def render_rgb(e, tile=16):
    """RGB array [h*tile][w*tile][3] of the C Env's map: replays/draw.c's
    colours, the agent as a white triangle, watermaze's platform shown."""
    s = env_state(e)
    w, h, t = s["w"], s["h"], int(tile)
    grid = np.ctypeslib.as_array(ctypes.cast(lib.cpcrl_env_grid(e),
                                             ctypes.POINTER(ctypes.c_uint8)), (h, w))
    cells = PALETTE[grid]
    if _lib.TASKS[s["task"]] == "watermaze":
        cells[s["ty"], s["tx"]] = _PLATFORM
    img = np.repeat(np.repeat(cells, t, axis=0), t, axis=1)
    cell = img[s["ay"] * t:(s["ay"] + 1) * t, s["ax"] * t:(s["ax"] + 1) * t]
    cell[_agent_mask(t)[s["dir"]]] = _AGENT
    return img


if HAVE_GYMNASIUM:
    _Base = gymnasium.Env
else:
    class _Base:
        """The parts of gymnasium.Env the binding uses, for when it is absent."""
        metadata = {"render_modes": []}
        render_mode = None
        spec = None
        _np_random = None

        def reset(self, *, seed=None, options=None):
            if seed is not None or self._np_random is None:
                self._np_random = np.random.default_rng(seed)

        @property
        def np_random(self):
            if self._np_random is None:
                self._np_random = np.random.default_rng()
            return self._np_random

        @property
        def unwrapped(self):
            return self

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.close()
            return False


class CpcrlEnv(_Base):
    """One env of a cpcrl task: goal, watermaze, keys_doors, seekavoid or tmaze.

    size / view / max_steps / items as cpcrl's flags (0 or negative = the
    task's default). Observations are uint8 one-hot planes [14][V][V];
    actions 0 left, 1 right, 2 forward, 3 interact. info of the step that ends
    an episode holds "episode": {"r": return, "l": length, "success": 0/1}
    (goal, watermaze: the target was reached at least once)."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 8}

    def __init__(self, task="goal", *, size=0, view=0, max_steps=0, items=-1,
                 render_mode=None, tile=16):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError("cpcrl: render_mode %r (valid: %s)"
                             % (render_mode, ", ".join(self.metadata["render_modes"])))
        self._cfg = _lib.make_config(task, size, view, max_steps, items)
        self.task = _lib.TASKS[self._cfg[0]]
        self.size, self.view, self.max_steps, self.items = (int(x) for x in self._cfg[1:])
        self.render_mode = render_mode
        self.tile = int(tile)
        V = self.view
        self.observation_space = Box(0, 1, (_lib.NUM_CHANNELS, V, V), np.uint8)
        self.action_space = Discrete(_lib.NUM_ACTIONS)
        self._e = None          # the C Env, made by the first reset
        self._ended = False     # the last step ended an episode
        self._obs = np.zeros((_lib.NUM_CHANNELS, V, V), np.uint8)
        self._rew = np.zeros(1, np.float32)
        self._flags = np.zeros(2, np.uint8)
        self._log = np.zeros(4, np.float32)
        self._p = [ctypes.c_void_p(a.ctypes.data) for a in
                   (self._obs, self._rew, self._flags, self._flags[1:], self._log)]

    # -- Gymnasium API --------------------------------------------------------

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._seed(int(seed))
        elif self._e is None:
            self._seed(int(self.np_random.integers(2**63)))
        elif not self._ended:
            lib.cpcrl_env_reset(self._e)
        self._ended = False
        lib.cpcrl_env_observe(self._e, self._p[0])
        return self._obs.copy(), {}

    def step(self, action):
        if self._e is None:
            raise RuntimeError("cpcrl: call reset() before step()")
        a = int(action)
        po, pr, pt, ptr = self._p[:4]
        if lib.cpcrl_env_step(self._e, a, pr, pt, ptr, po) < 0:
            raise ValueError("cpcrl: action %r is not in 0..%d" % (action, _lib.NUM_ACTIONS - 1))
        terminated, truncated = bool(self._flags[0]), bool(self._flags[1])
        info = {}
        self._ended = terminated or truncated
        if self._ended:  # _obs holds the ended episode's last observation
            lib.cpcrl_env_log_take(self._e, self._p[4])
            info["episode"] = {"r": float(self._log[1]), "l": int(self._log[2]),
                               "success": float(self._log[3])}
        else:
            lib.cpcrl_env_observe(self._e, po)
        return self._obs.copy(), float(self._rew[0]), terminated, truncated, info

    def render(self):
        """An RGB array [H*tile][W*tile][3] of the whole map (render_mode
        "rgb_array" or None), or its text (render_mode "ansi"). After the step
        that ended an episode it shows the next episode's start."""
        if self._e is None:
            raise RuntimeError("cpcrl: call reset() before render()")
        if self.render_mode == "ansi":
            return self.render_text()
        return render_rgb(self._e, self.tile)

    def close(self):
        if self._e is not None:
            lib.cpcrl_env_free(self._e)
            self._e = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- cpcrl extras ---------------------------------------------------------

    def render_text(self):
        """The map as text, as `cpcrl show` prints it (agent ^>v<)."""
        return render_text(self._e)

    def state(self):
        """The C env's pose and counters (after an ended episode: the next one's)."""
        return env_state(self._e)

    def state_hash(self):
        """env_hash of the world state: what replays check."""
        return int(lib.cpcrl_env_hash(self._e))

    def oracle_action(self):
        """The scripted oracle's action (env/oracle.c) for the current state."""
        return int(lib.cpcrl_env_oracle(self._e))

    def _seed(self, seed):
        seed &= (1 << 64) - 1
        if self._e is None:
            self._e = lib.cpcrl_env_new(self._cfg.ctypes.data, seed)
            if not self._e:
                raise MemoryError("cpcrl: out of memory")
        else:
            lib.cpcrl_env_seed(self._e, seed)
