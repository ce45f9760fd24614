"""B cpcrl envs stepped by one C call (vec_step_final) straight into numpy
arrays that the vector env owns: no per-step copy, no Python loop over envs.

Autoreset: Gymnasium's "same-step" mode (Gymnasium 0.29's behaviour, 1.0's
AutoresetMode.SAME_STEP). cpcrl's envs reset inside step, so for an env i
that ended at this step (terminations[i] or truncations[i]):
  - observations[i] is already the first observation of its next episode;
  - final_observations[i] holds the ended episode's last observation (what a
    truncated episode bootstraps its value from). Rows of envs that did not
    end keep whatever they held before: read them through the mask.
info carries the same arrays under Gymnasium 1.0's keys ("final_obs" with mask
"_final_obs") and 0.29's ("final_observation" / "_final_observation"); each
step returns a new info dict, holding the env's arrays (as below).

The arrays returned by reset() and step() are the env's own buffers,
overwritten by the next step: copy them (or write them into your rollout
storage) if you keep them. Env i of a batch seeded S is the single env seeded
rng_derive(S, i) (env/rng.h), exactly as in the C trainer.

Actions are checked before C sees them, without a Python loop: an integer
array-like of shape (B,) (a scalar is not broadcast, as Gymnasium's
MultiDiscrete would not take it either), integer dtype (TypeError otherwise),
values in 0..3 (ValueError, checked in C on int64 values: nothing wraps and
nothing is stepped). Calls before reset() or after close() raise RuntimeError;
a lock makes close() from another thread wait for a step in progress; copy.copy
and copy.deepcopy clone the C envs; pickling is refused (TypeError).
"""
from __future__ import annotations

import copy
import ctypes
import threading
from typing import Any, Dict, NoReturn, Optional, Tuple

import numpy as np

from . import _lib
from ._lib import lib
from .env import refuse_pickle, render_rgb, render_text
from .spaces import Box, Discrete, MultiDiscrete

# Arrays that belong to one vector env (and so are made anew for a copy).
_BUFFERS = ("observations", "final_observations", "rewards", "terminations", "truncations",
            "dones", "_actions", "_scratch", "_log")


class CpcrlVecEnv:
    """num_envs envs of one task, seeded like the C trainer's batch.

    step(actions) -> (observations [B,14,V,V] uint8, rewards [B] float32,
    terminations [B] bool, truncations [B] bool, info); see the module doc for
    autoreset, buffer ownership and the checks on actions. log_take()
    returns the stats of the episodes finished since the last call."""

    metadata = {"autoreset_mode": "SameStep", "render_modes": ["rgb_array"]}

    def __init__(self, task: _lib.Task = "goal", num_envs: int = 32, seed: Optional[int] = None,
                 *, size: int = 0, view: int = 0, max_steps: int = 0, items: int = -1) -> None:
        self._v: Optional[int] = None  # the C VecEnv, made by the first reset
        self._closed = False
        self._lock = threading.Lock()  # held around every C call on _v
        B = _lib.as_int("num_envs", num_envs, 1, _lib.INT_MAX)
        self._seed = None if seed is None else _lib.as_seed(seed)
        self._cfg = _lib.make_config(task, size, view, max_steps, items)
        self.task: str = _lib.TASKS[self._cfg[0]]
        self.size, self.view, self.max_steps, self.items = (int(x) for x in self._cfg[1:])
        C, V = _lib.NUM_CHANNELS, self.view
        self.num_envs = B
        self.single_observation_space = Box(0, 1, (C, V, V), np.uint8)
        self.single_action_space = Discrete(_lib.NUM_ACTIONS)
        self.observation_space = Box(0, 1, (B, C, V, V), np.uint8)
        self.action_space = MultiDiscrete(np.full(B, _lib.NUM_ACTIONS))
        self._started = False
        self._buffers()

    def _buffers(self) -> None:
        B, C, V = self.num_envs, _lib.NUM_CHANNELS, self.view
        self.observations = np.zeros((B, C, V, V), np.uint8)
        self.final_observations = np.zeros((B, C, V, V), np.uint8)
        self.rewards = np.zeros(B, np.float32)
        self.terminations = np.zeros(B, np.bool_)  # numpy bools are the C side's 0/1 bytes
        self.truncations = np.zeros(B, np.bool_)
        self.dones = np.zeros(B, np.bool_)          # terminations | truncations
        self._actions = np.zeros(B, np.int64)       # checked and narrowed by C
        self._scratch = np.zeros(B, np.intc)        # ... into here
        self._log = np.zeros(4, np.float32)
        self._args = [ctypes.c_void_p(a.ctypes.data) for a in
                      (self._actions, self._scratch, self.observations, self.rewards,
                       self.terminations, self.truncations, self.final_observations, self.dones)]
        self._shape = (B,)

    def _live(self, what: str) -> int:
        """The C VecEnv, or RuntimeError saying why there is none. Call with the lock held."""
        if self._v is None:
            if self._closed:
                raise RuntimeError("cpcrl: %s() on a closed vector env" % what)
            raise RuntimeError("cpcrl: call reset() before %s()" % what)
        return self._v

    def reset(self, *, seed: Optional[int] = None,
              options: Optional[Dict[str, Any]] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
        """seed S: env i restarts as the single env seeded rng_derive(S, i).
        No seed: the first reset uses the constructor's seed (or draws one);
        later ones start every env's next episode."""
        if seed is not None:
            seed = _lib.as_seed(seed)
        with self._lock:
            if self._closed:
                raise RuntimeError("cpcrl: reset() on a closed vector env (make a new one)")
            if seed is None and not self._started:
                seed = self._seed
                if seed is None:
                    seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
            if seed is not None:
                if self._v is None:
                    self._v = lib.cpcrl_vec_new(self._cfg.ctypes.data, self.num_envs, seed)
                    if not self._v:
                        raise MemoryError("cpcrl: out of memory for %d envs" % self.num_envs)
                else:
                    lib.cpcrl_vec_seed(self._v, seed)
            else:
                lib.cpcrl_vec_reset(self._v)
            self._started = True
            self.dones[:] = False
            lib.cpcrl_vec_observe(self._v, self._args[2])
            return self.observations, {}

    def step(self, actions: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          Dict[str, Any]]:
        """actions: B integers in 0..3 (any integer array-like of shape (B,),
        e.g. a torch tensor's .numpy()); see the module doc for the checks."""
        a = actions if type(actions) is np.ndarray else np.asarray(actions)
        if a.shape != self._shape or a.dtype.kind not in "iu":
            self._bad_actions(a)
        with self._lock:
            v = self._live("step")
            self._actions[...] = a  # integers into int64: exact, or negative (uint64 >= 2**63)
            rc = lib.cpcrl_vec_step(v, *self._args)  # checks, steps, writes dones
            if rc < 0:
                i = -1 - rc
                raise ValueError("cpcrl: actions[%d] = %r is not in 0..%d"
                                 % (i, a[i].item(), _lib.NUM_ACTIONS - 1))
        fo, d = self.final_observations, self.dones
        return (self.observations, self.rewards, self.terminations, self.truncations,
                {"final_obs": fo, "_final_obs": d, "final_observation": fo,
                 "_final_observation": d})

    def _bad_actions(self, a: np.ndarray) -> None:
        if a.shape != self._shape:
            raise ValueError("cpcrl: actions must have shape %s (one per env), got shape %s"
                             % (self._shape, a.shape))
        hint = " (integers beyond 64 bits give an object array)" if a.dtype.kind == "O" else ""
        raise TypeError("cpcrl: actions must be integers in 0..%d, got dtype %s%s"
                        % (_lib.NUM_ACTIONS - 1, a.dtype, hint))

    def log_take(self) -> Dict[str, float]:
        """Stats of the episodes that ended since the last call:
        {"episodes", "return", "length", "success"} (means over them; success
        as in CpcrlEnv)."""
        with self._lock:
            lib.cpcrl_vec_log_take(self._live("log_take"), self._log.ctypes.data)
            n, r, l, s = (float(x) for x in self._log)
        d = max(n, 1.0)
        return {"episodes": int(n), "return": r / d, "length": l / d, "success": s / d}

    def env_hash(self, i: int) -> int:
        """env_hash of env i's world state."""
        with self._lock:
            return int(lib.cpcrl_env_hash(self._env(i, "env_hash")))

    def render(self, i: int = 0, tile: int = 16) -> np.ndarray:
        """RGB array of env i's map (as CpcrlEnv.render)."""
        tile = _lib.as_int("tile", tile, 1, 1024, " (pixels per cell)")
        with self._lock:
            return render_rgb(self._env(i, "render"), tile)

    def render_text(self, i: int = 0) -> str:
        """env i's map as text (as `cpcrl show`)."""
        with self._lock:
            return render_text(self._env(i, "render_text"))

    def close(self) -> None:
        """Free the C envs; later calls raise RuntimeError. Idempotent; safe
        while another thread steps (it waits for that step to end)."""
        lock = getattr(self, "_lock", None)  # None: __init__ failed before it
        if lock is None:
            return
        with lock:
            self._closed = True
            self._started = False
            if self._v is not None:
                lib.cpcrl_vec_free(self._v)
                self._v = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "CpcrlVecEnv":
        return self

    def __exit__(self, *args: Any) -> bool:
        self.close()
        return False

    def __deepcopy__(self, memo: Dict[int, Any]) -> "CpcrlVecEnv":
        """An independent vector env in the same state: the C envs are cloned,
        the arrays copied (the copy's own), the rest deep-copied."""
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        with self._lock:
            skip = ("_v", "_lock", "_args") + _BUFFERS
            for k, v in self.__dict__.items():
                if k not in skip:
                    new.__dict__[k] = copy.deepcopy(v, memo)
            new._lock = threading.Lock()
            new._v = None
            new._buffers()
            for k in _BUFFERS:
                getattr(new, k)[...] = getattr(self, k)
            if self._v is not None:
                new._v = lib.cpcrl_vec_clone(self._v)
                if not new._v:
                    raise MemoryError("cpcrl: out of memory copying %d envs" % self.num_envs)
        return new

    def __copy__(self) -> "CpcrlVecEnv":
        """As deepcopy: two vector envs sharing C envs could not both be freed."""
        return self.__deepcopy__({})

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        refuse_pickle(self)

    def _env(self, i: Any, what: str) -> int:
        """Env i's C pointer. Call with the lock held."""
        v = self._live(what)
        j = _lib.as_int("env index", i, -_lib.INT_MAX, _lib.INT_MAX)
        if not 0 <= j < self.num_envs:
            raise IndexError("cpcrl: env %d of %d" % (j, self.num_envs))
        return lib.cpcrl_vec_env(v, j)
