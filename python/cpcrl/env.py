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

Safety. Every call into C goes through a lock and a check that the C env
exists: a method called before reset() or after close() raises RuntimeError,
close() from another thread waits for a step in progress, and copy.copy /
copy.deepcopy give an independent env with the same state (the C env is
cloned). Pickling is refused (TypeError): pickle a factory instead.
"""
from __future__ import annotations

import copy
import ctypes
import threading
from typing import Any, Dict, NoReturn, Optional, Tuple

import numpy as np

from . import _lib
from ._lib import lib
from .spaces import HAVE_GYMNASIUM, Box, Discrete, gymnasium

# Colours of replays/draw.c's DRAW_KIND_COLOUR, one row per cell kind.
PALETTE = np.array([
    (16, 16, 20), (46, 48, 56), (128, 128, 138), (40, 190, 80), (225, 40, 50), (245, 215, 40),
    (60, 130, 255), (190, 80, 230), (60, 130, 255), (190, 80, 230), (0, 200, 200),
    (255, 140, 0), (240, 100, 170), (150, 220, 60)], dtype=np.uint8)
_TARGET = np.array((120, 255, 150), dtype=np.uint8)  # a hidden target's outline (the viewer's colour)
_AGENT = np.array((255, 255, 255), dtype=np.uint8)


_STATE_KEYS = ("w", "h", "ax", "ay", "dir", "carrying", "tx", "ty", "steps", "task", "episode",
               "ep_success")


def env_state(e: int) -> Dict[str, int]:
    """Pose and counters of the C Env at pointer e (cpcrl_env_state)."""
    out = np.zeros(len(_STATE_KEYS), np.intc)
    lib.cpcrl_env_state(e, out.ctypes.data)
    return dict(zip(_STATE_KEYS, (int(x) for x in out)))


def render_text(e: int) -> str:
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


def render_rgb(e: int, tile: int = 16) -> np.ndarray:
    """RGB array [h*tile][w*tile][3] of the C Env's map: replays/draw.c's
    colours, the agent as a white triangle, a target hidden from the agent
    (watermaze's platform, tmaze's rewarded arm) outlined as the viewer does."""
    s = env_state(e)
    w, h, t = s["w"], s["h"], tile
    grid = np.ctypeslib.as_array(ctypes.cast(lib.cpcrl_env_grid(e),
                                             ctypes.POINTER(ctypes.c_uint8)), (h, w))
    cells = PALETTE[grid]
    img = np.repeat(np.repeat(cells, t, axis=0), t, axis=1)
    if _lib.GOAL_HIDDEN[s["task"]] and 0 <= s["tx"] < w and 0 <= s["ty"] < h:
        b = max(1, t // 8)
        cell = img[s["ty"] * t:(s["ty"] + 1) * t, s["tx"] * t:(s["tx"] + 1) * t]
        ring = np.ones((t, t), dtype=bool)
        ring[b:t - b, b:t - b] = False
        cell[ring] = _TARGET
    cell = img[s["ay"] * t:(s["ay"] + 1) * t, s["ax"] * t:(s["ax"] + 1) * t]
    cell[_agent_mask(t)[s["dir"]]] = _AGENT
    return img


if HAVE_GYMNASIUM:
    _Base = gymnasium.Env
else:
    class _Base:  # type: ignore[no-redef]
        """The parts of gymnasium.Env the binding uses, for when it is absent."""
        metadata: Dict[str, Any] = {"render_modes": []}
        render_mode: Optional[str] = None
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


def refuse_pickle(obj: Any) -> NoReturn:
    name = type(obj).__name__
    raise TypeError("cpcrl: a %s cannot be pickled: it owns a C env. Pickle what makes it "
                    "instead (e.g. functools.partial(cpcrl.%s, task, ...)); copy.deepcopy "
                    "works within a process" % (name, name))


def tile_property() -> property:
    """tile, checked whenever it is set (render sizes its image from it)."""
    def get(self: Any) -> int:
        return self._tile

    def put(self: Any, value: Any) -> None:
        self._tile = _lib.as_int("tile", value, 1, 1024, " (pixels per cell)")
    return property(get, put, None, "Pixels per map cell of render() (1..1024).")


class CpcrlEnv(_Base):
    """One env of a cpcrl task: goal, watermaze, keys_doors, seekavoid or tmaze.

    size / view / max_steps / items as cpcrl's flags (0 = the task's default;
    -1 for items); each must be an integer (TypeError otherwise) and the
    config valid (ValueError with the C check's message). Observations are
    uint8 one-hot planes [14][V][V]; actions integers 0 left, 1 right, 2
    forward, 3 interact (anything else: TypeError / ValueError). The info of
    the step that ends an episode holds "cpcrl": {"r": return, "l": length,
    "success": 0/1} (goal, watermaze: the target was reached at least once);
    other steps' info is empty. Each step returns a new info dict."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 8}
    tile = tile_property()

    def __init__(self, task: _lib.Task = "goal", *, size: int = 0, view: int = 0,
                 max_steps: int = 0, items: int = -1, render_mode: Optional[str] = None,
                 tile: int = 16) -> None:
        if getattr(self, "_lock", None) is not None:
            self.close()  # __init__ called again on a live object: free its C env first
        self._e: Optional[int] = None  # the C Env, made by the first reset
        self._closed = False
        self._lock = threading.Lock()  # held around every C call on _e
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError("cpcrl: render_mode %r (valid: %s)"
                             % (render_mode, ", ".join(self.metadata["render_modes"])))
        self.tile = tile
        self._cfg = _lib.make_config(task, size, view, max_steps, items)
        self.task: str = _lib.TASKS[self._cfg[0]]
        self.size, self.view, self.max_steps, self.items = (int(x) for x in self._cfg[1:])
        self.render_mode = render_mode
        V = self.view
        self.observation_space = Box(0, 1, (_lib.NUM_CHANNELS, V, V), np.uint8)
        self.action_space = Discrete(_lib.NUM_ACTIONS)
        self._ended = False     # the last step ended an episode
        self._buffers()

    def _buffers(self) -> None:
        V = self.view
        self._obs = np.zeros((_lib.NUM_CHANNELS, V, V), np.uint8)
        self._rew = np.zeros(1, np.float32)
        self._flags = np.zeros(2, np.uint8)
        self._log = np.zeros(4, np.float32)
        self._p = [ctypes.c_void_p(a.ctypes.data) for a in
                   (self._obs, self._rew, self._flags, self._flags[1:], self._log)]

    def _live(self, what: str) -> int:
        """The C env, or RuntimeError saying why there is none. Call with the lock held."""
        if self._e is None:
            if self._closed:
                raise RuntimeError("cpcrl: %s() on a closed env" % what)
            raise RuntimeError("cpcrl: call reset() before %s()" % what)
        return self._e

    # -- Gymnasium API --------------------------------------------------------

    def reset(self, *, seed: Optional[int] = None,
              options: Optional[Dict[str, Any]] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
        if seed is not None:
            seed = _lib.as_seed(seed)
        if self._closed:
            raise RuntimeError("cpcrl: reset() on a closed env (make a new one)")
        super().reset(seed=seed)
        with self._lock:
            if self._closed:
                raise RuntimeError("cpcrl: reset() on a closed env (make a new one)")
            if seed is not None:
                self._seed(seed)
            elif self._e is None:
                self._seed(int(self.np_random.integers(2**63)))
            elif not self._ended:
                lib.cpcrl_env_reset(self._e)
            self._ended = False
            lib.cpcrl_env_observe(self._e, self._p[0])
            return self._obs.copy(), {}

    def step(self, action: Any) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
        a = _lib.as_action(action)
        po, pr, pt, ptr, pl = self._p
        with self._lock:
            e = self._live("step")
            lib.cpcrl_env_step(e, a, pr, pt, ptr, po)  # a is checked: returns 0
            terminated, truncated = bool(self._flags[0]), bool(self._flags[1])
            info: Dict[str, Any] = {}
            self._ended = terminated or truncated
            if self._ended:  # _obs holds the ended episode's last observation
                lib.cpcrl_env_log_take(e, pl)
                info["cpcrl"] = {"r": float(self._log[1]), "l": int(self._log[2]),
                                 "success": float(self._log[3])}
            else:
                lib.cpcrl_env_observe(e, po)
            return self._obs.copy(), float(self._rew[0]), terminated, truncated, info

    def render(self) -> Any:
        """An RGB array [H*tile][W*tile][3] of the whole map (render_mode
        "rgb_array" or None), or its text (render_mode "ansi"). After the step
        that ended an episode it shows the next episode's start."""
        with self._lock:
            e = self._live("render")
            return render_text(e) if self.render_mode == "ansi" else render_rgb(e, self.tile)

    def close(self) -> None:
        """Free the C env; later calls raise RuntimeError. Idempotent; safe
        while another thread steps (it waits for that step to end)."""
        lock = getattr(self, "_lock", None)  # None: __init__ failed before it
        if lock is None:
            return
        with lock:
            self._closed = True
            if self._e is not None:
                lib.cpcrl_env_free(self._e)
                self._e = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- copies ---------------------------------------------------------------

    def __deepcopy__(self, memo: Dict[int, Any]) -> "CpcrlEnv":
        """An independent env in the same state: the C env is cloned, the
        Python attributes (spaces, np_random, ...) deep-copied."""
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        with self._lock:
            skip = ("_e", "_lock", "_obs", "_rew", "_flags", "_log", "_p")
            for k, v in self.__dict__.items():
                if k not in skip:
                    new.__dict__[k] = copy.deepcopy(v, memo)
            new._lock = threading.Lock()
            new._e = None
            new._buffers()
            new._obs[...] = self._obs
            if self._e is not None:
                new._e = lib.cpcrl_env_clone(self._e)
                if not new._e:
                    raise MemoryError("cpcrl: out of memory copying the env")
        return new

    def __copy__(self) -> "CpcrlEnv":
        """As deepcopy: two envs sharing one C env could not both be freed."""
        return self.__deepcopy__({})

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        refuse_pickle(self)

    # -- cpcrl extras ---------------------------------------------------------

    def render_text(self) -> str:
        """The map as text, as `cpcrl show` prints it (agent ^>v<)."""
        with self._lock:
            return render_text(self._live("render_text"))

    def state(self) -> Dict[str, int]:
        """The C env's pose and counters (after an ended episode: the next one's)."""
        with self._lock:
            return env_state(self._live("state"))

    def state_hash(self) -> int:
        """env_hash of the world state: what replays check."""
        with self._lock:
            return int(lib.cpcrl_env_hash(self._live("state_hash")))

    def oracle_action(self) -> int:
        """The scripted oracle's action (env/oracle.c) for the current state."""
        with self._lock:
            return int(lib.cpcrl_env_oracle(self._live("oracle_action")))

    def _seed(self, seed: int) -> None:
        """Call with the lock held; seed is checked (0 <= seed < 2**64)."""
        if self._e is None:
            self._e = lib.cpcrl_env_new(self._cfg.ctypes.data, seed)
            if not self._e:
                raise MemoryError("cpcrl: out of memory")
        else:
            lib.cpcrl_env_seed(self._e, seed)
