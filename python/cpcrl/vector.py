"""B cpcrl envs stepped by one C call (vec_step_final) straight into numpy
arrays that the vector env owns: no per-step copy, no Python loop over envs.

With gymnasium importable CpcrlVecEnv is a gymnasium.vector.VectorEnv (1.x:
the new base class; 0.29: 0.29's, with is_vector_env); without it, a plain
class with the same attributes and methods.

Autoreset, chosen by autoreset_mode (metadata["autoreset_mode"] says which:
gymnasium.vector.AutoresetMode's member where Gymnasium has that enum (1.1+),
else its value as a string):

  "SameStep" (the default; Gymnasium 0.29's behaviour, 1.x's
  AutoresetMode.SAME_STEP). cpcrl's envs reset inside step, so for an env i
  that ended at this step (terminations[i] or truncations[i]):
    - observations[i] is already the first observation of its next episode;
    - final_observations[i] holds the ended episode's last observation (what a
      truncated episode bootstraps its value from). Rows of envs that did not
      end keep whatever they held before: read them through the mask.
  info carries the same arrays under Gymnasium 1.x's keys ("final_obs" with
  mask "_final_obs") and 0.29's ("final_observation" / "_final_observation").

  "NextStep" (1.x's AutoresetMode.NEXT_STEP, Gymnasium 1.x's own default, which
  its stateful observation wrappers require): observations[i] of an env that
  ended is its episode's last observation; at the next step env i is not
  stepped (its action is ignored) and returns its next episode's first
  observation, reward 0, no flags. info is empty.

Either way env i goes through exactly the episodes of the single env seeded
alike (CpcrlEnv, with reset() after each end). Each step returns a new info
dict (holding the env's arrays, in same-step mode).

The arrays returned by reset() and step() are the env's own buffers,
overwritten by the next step: copy them (or write them into your rollout
storage) if you keep them. They (and num_envs) are read-only attributes: C
keeps their addresses.

Seeds. Env i of a batch seeded S is the single env seeded rng_derive(S, i)
(base/rng.h), exactly as in the C trainer; reset(seed=[s0, s1, ...]) seeds env
i with s_i (None: env i starts its next episode).

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
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._lib import lib
from .env import CpcrlEnv, env_state, refuse_pickle, render_rgb, render_text, tile_property
from .spaces import HAVE_GYMNASIUM, Box, Discrete, MultiDiscrete, gymnasium

# Arrays that belong to one vector env (and so are made anew for a copy).
_PUBLIC = ("observations", "final_observations", "rewards", "terminations", "truncations",
           "dones")
_BUFFERS = _PUBLIC + ("_actions", "_scratch", "_log")


def _buffer_property(name: str) -> property:
    """A read-only attribute for one of the arrays the C step writes in place:
    replacing it would leave C writing into the old array's freed memory."""
    def get(self: Any) -> np.ndarray:
        return self._buf[name]

    def refuse(self: Any, value: Any = None) -> NoReturn:
        raise AttributeError("cpcrl: %s is the vector env's own buffer (the C step writes it in "
                             "place) and cannot be replaced or deleted; copy it instead "
                             "(venv.%s.copy())" % (name, name))
    return property(get, refuse, refuse, "The vector env's %s (written in place by step and "
                    "reset; read-only attribute)." % name)


SAME_STEP = "SameStep"  # the values of gymnasium.vector.AutoresetMode's members
NEXT_STEP = "NextStep"

if HAVE_GYMNASIUM:
    from gymnasium.utils import seeding as _seeding
    from gymnasium.vector import VectorEnv as _Base
    GYMNASIUM_1 = int(gymnasium.__version__.split(".")[0]) >= 1
    AutoresetMode = getattr(gymnasium.vector, "AutoresetMode", None)  # 1.1+
else:
    GYMNASIUM_1 = False
    AutoresetMode = None

    class _Base:  # type: ignore[no-redef]
        """The parts of gymnasium.vector.VectorEnv the binding uses, for when it is absent."""
        metadata: Dict[str, Any] = {}
        spec = None
        render_mode: Optional[str] = None
        closed = False
        _np_random = None
        _np_random_seed = None

        @property
        def np_random(self):
            if self._np_random is None:
                self._np_random = np.random.default_rng()
                self._np_random_seed = -1
            return self._np_random

        @np_random.setter
        def np_random(self, value):
            self._np_random = value
            self._np_random_seed = -1

        @property
        def np_random_seed(self):
            self.np_random
            return self._np_random_seed

        @property
        def unwrapped(self):
            return self


def _mode(autoreset_mode: Any) -> str:
    """"SameStep" or "NextStep" from an AutoresetMode member or its value."""
    v = getattr(autoreset_mode, "value", autoreset_mode)
    if isinstance(v, str):
        key = v.replace("_", "").replace("-", "").lower()
        for m in (SAME_STEP, NEXT_STEP):
            if key == m.lower():
                return m
    raise ValueError("cpcrl: autoreset_mode must be %r or %r (or gymnasium.vector.AutoresetMode."
                     "SAME_STEP / NEXT_STEP), got %r" % (SAME_STEP, NEXT_STEP, autoreset_mode))


def _mode_tag(mode: str) -> Any:
    """What metadata["autoreset_mode"] holds: the enum where Gymnasium has it."""
    return AutoresetMode(mode) if AutoresetMode is not None else mode


# What call()/get_attr() answer per env: methods of the single env computed
# from env i's C state, and attributes that every env of the batch shares.
_PER_ENV = {
    "render": lambda self, e: (render_text(e) if self.render_mode == "ansi"
                               else render_rgb(e, self.tile)),
    "render_text": lambda self, e: render_text(e),
    "state": lambda self, e: env_state(e),
    "state_hash": lambda self, e: int(lib.cpcrl_env_hash(e)),
    "oracle_action": lambda self, e: int(lib.cpcrl_env_oracle(e)),
}
_SHARED = {
    "task": lambda self: self.task, "size": lambda self: self.size,
    "view": lambda self: self.view, "max_steps": lambda self: self.max_steps,
    "items": lambda self: self.items, "render_mode": lambda self: self.render_mode,
    "tile": lambda self: self.tile, "metadata": lambda self: CpcrlEnv.metadata,
    "observation_space": lambda self: self.single_observation_space,
    "action_space": lambda self: self.single_action_space,
}
class CpcrlVecEnv(_Base):
    """num_envs envs of one task, seeded like the C trainer's batch.

    step(actions) -> (observations [B,14,V,V] uint8, rewards [B] float32,
    terminations [B] bool, truncations [B] bool, info); see the module doc for
    autoreset, buffer ownership, seeds and the checks on actions. log_take()
    returns the stats of the episodes finished since the last call.
    call/get_attr/set_attr reach the single envs: their methods render,
    render_text, state, state_hash, oracle_action (computed from each env's C
    state), their shared config attributes (task, size, view, max_steps,
    items, render_mode, tile, metadata, observation_space, action_space), and
    attributes set with set_attr."""

    metadata: Dict[str, Any] = {"autoreset_mode": _mode_tag(SAME_STEP),
                                "render_modes": ["rgb_array", "ansi"], "render_fps": 8}
    is_vector_env = True  # what Gymnasium 0.29's wrappers look for

    def __init__(self, task: _lib.Task = "goal", num_envs: int = 32, seed: Optional[int] = None,
                 *, size: int = 0, view: int = 0, max_steps: int = 0, items: int = -1,
                 render_mode: Optional[str] = None, tile: int = 16,
                 autoreset_mode: Any = SAME_STEP) -> None:
        if getattr(self, "_lock", None) is not None:
            self.close()  # __init__ called again on a live object: free its C envs first
        self._v: Optional[int] = None  # the C VecEnv, made by the first reset
        self.closed = False
        self._lock = threading.Lock()  # held around every C call on _v
        B = _lib.as_int("num_envs", num_envs, 1, _lib.INT_MAX)
        self._seed = None if seed is None else _lib.as_seed(seed)
        self.autoreset_mode = _mode(autoreset_mode)
        self._next_step = self.autoreset_mode == NEXT_STEP
        if render_mode is not None and render_mode not in CpcrlEnv.metadata["render_modes"]:
            raise ValueError("cpcrl: render_mode %r (valid: %s)"
                             % (render_mode, ", ".join(CpcrlEnv.metadata["render_modes"])))
        self.render_mode = render_mode
        self.tile = tile
        self._cfg = _lib.make_config(task, size, view, max_steps, items)
        self.task: str = _lib.TASKS[self._cfg[0]]
        self.size, self.view, self.max_steps, self.items = (int(x) for x in self._cfg[1:])
        self.metadata = dict(type(self).metadata, autoreset_mode=_mode_tag(self.autoreset_mode))
        self.spec = None  # gymnasium.make_vec sets it
        C, V = _lib.NUM_CHANNELS, self.view
        self._n = B
        self.single_observation_space = Box(0, 1, (C, V, V), np.uint8)
        self.single_action_space = Discrete(_lib.NUM_ACTIONS)
        self.observation_space = Box(0, 1, (B, C, V, V), np.uint8)
        self.action_space = MultiDiscrete(np.full(B, _lib.NUM_ACTIONS))
        self._env_attrs: List[Dict[str, Any]] = [{} for _ in range(B)]  # set_attr's
        self._started = False
        self._buffers()

    def _buffers(self) -> None:
        B, C, V = self.num_envs, _lib.NUM_CHANNELS, self.view
        self._buf = {  # the public ones read-only (_buffer_property): C keeps their addresses
            "observations": np.zeros((B, C, V, V), np.uint8),
            "final_observations": np.zeros((B, C, V, V), np.uint8),
            "rewards": np.zeros(B, np.float32),
            "terminations": np.zeros(B, np.bool_),  # numpy bools are the C side's 0/1 bytes
            "truncations": np.zeros(B, np.bool_),
            "dones": np.zeros(B, np.bool_),          # terminations | truncations
        }
        self._actions = np.zeros(B, np.int64)       # checked and narrowed by C
        self._scratch = np.zeros(B, np.intc)        # ... into here
        self._log = np.zeros(4, np.float32)
        self._args = [ctypes.c_void_p(a.ctypes.data) for a in
                      (self._actions, self._scratch, self.observations, self.rewards,
                       self.terminations, self.truncations, self.final_observations, self.dones)]
        a = self._args
        self._args_next = [a[0], a[2], a[3], a[4], a[5], a[7]]  # cpcrl_vec_step_next's
        self._shape = (B,)

    observations = _buffer_property("observations")
    final_observations = _buffer_property("final_observations")
    rewards = _buffer_property("rewards")
    terminations = _buffer_property("terminations")
    truncations = _buffer_property("truncations")
    dones = _buffer_property("dones")
    tile = tile_property()

    @property
    def num_envs(self) -> int:
        """The number of envs (fixed: make a new vector env for another)."""
        return self._n

    @num_envs.setter
    def num_envs(self, value: Any) -> NoReturn:
        raise AttributeError("cpcrl: num_envs is fixed when the vector env is made (%d here); "
                             "make a new CpcrlVecEnv for another" % self._n)

    def _live(self, what: str) -> int:
        """The C VecEnv, or RuntimeError saying why there is none. Call with the lock held."""
        if self._v is None:
            if self.closed:
                raise RuntimeError("cpcrl: %s() on a closed vector env" % what)
            raise RuntimeError("cpcrl: call reset() before %s()" % what)
        return self._v

    # -- Gymnasium's VectorEnv API ---------------------------------------------

    def reset(self, *, seed: Union[None, int, Sequence[Optional[int]]] = None,
              options: Optional[Dict[str, Any]] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
        """seed S: env i restarts as the single env seeded rng_derive(S, i).
        seed [s0, s1, ...] (one per env): env i restarts as the single env
        seeded s_i; None in the list: env i starts its next episode. No seed:
        the first reset uses the constructor's seed (or draws one from
        np_random); later ones start every env's next episode (in next-step
        mode an env that ended at the last step is already in its next one)."""
        seeds = None
        if isinstance(seed, (list, tuple)) or (isinstance(seed, np.ndarray) and seed.ndim > 0):
            if len(seed) != self.num_envs:
                raise ValueError("cpcrl: seed must be one integer or a list of %d (one per env), "
                                 "got %d" % (self.num_envs, len(seed)))
            seeds = [None if s is None else _lib.as_seed(s, "seed[%d]" % i)
                     for i, s in enumerate(seed)]
            seed = None
        elif seed is not None:
            seed = _lib.as_seed(seed)
        with self._lock:
            if self.closed:
                raise RuntimeError("cpcrl: reset() on a closed vector env (make a new one)")
            new = self._v is None
            if seed is None and not self._started:
                seed = self._seed
                if seed is None:
                    seed = int(self.np_random.integers(_lib.SEED_END, dtype=np.uint64))
                else:
                    self._set_np_random(seed)
            elif seed is not None:
                self._set_np_random(seed)
            if seed is not None:
                if new:
                    self._v = lib.cpcrl_vec_new(self._cfg.ctypes.data, self.num_envs, seed)
                    if not self._v:
                        raise MemoryError("cpcrl: out of memory for %d envs" % self.num_envs)
                else:
                    lib.cpcrl_vec_seed(self._v, seed)
            if seeds is not None:
                for i, s in enumerate(seeds):
                    e = lib.cpcrl_vec_env(self._v, i)
                    if s is not None:
                        lib.cpcrl_env_seed(e, s)
                    elif self._started and not (self._next_step and self.dones[i]):
                        lib.cpcrl_env_reset(e)
            elif seed is None:
                if self._next_step and self.dones.any():
                    for i in np.flatnonzero(~self.dones):
                        lib.cpcrl_env_reset(lib.cpcrl_vec_env(self._v, int(i)))
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
            if self._next_step:
                rc = lib.cpcrl_vec_step_next(v, *self._args_next)
            else:
                rc = lib.cpcrl_vec_step(v, *self._args)  # checks, steps, writes dones
            if rc < 0:
                i = -1 - rc
                raise ValueError("cpcrl: actions[%d] = %r is not in 0..%d"
                                 % (i, a[i].item(), _lib.NUM_ACTIONS - 1))
        if self._next_step:
            return self.observations, self.rewards, self.terminations, self.truncations, {}
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

    def render(self, i: Optional[int] = None, tile: Optional[int] = None) -> Any:
        """Env i's map (i None: a tuple with every env's, Gymnasium's
        VectorEnv.render): an RGB array as CpcrlEnv.render (tile pixels per
        cell, default self.tile), or its text with render_mode "ansi"."""
        t = self.tile if tile is None else _lib.as_int("tile", tile, 1, 1024, " (pixels per cell)")
        ansi = self.render_mode == "ansi"
        with self._lock:
            if i is None:
                v = self._live("render")
                es = [lib.cpcrl_vec_env(v, j) for j in range(self.num_envs)]
                return tuple(render_text(e) if ansi else render_rgb(e, t) for e in es)
            e = self._env(i, "render")
            return render_text(e) if ansi else render_rgb(e, t)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Tuple[Any, ...]:
        """(what env 0 gives, ..., what env B-1 gives) for the single envs'
        method or attribute `name` (see the class doc), as SyncVectorEnv.call."""
        return tuple(self._call(name, range(self.num_envs), args, kwargs))

    def get_attr(self, name: str) -> Tuple[Any, ...]:
        """Each env's attribute `name` (as call without arguments)."""
        return self.call(name)

    def set_attr(self, name: str, values: Any) -> None:
        """Set attribute `name` of each env: values is a list or tuple with
        one value per env, or one value for all. The C envs' config and
        methods cannot be set (AttributeError): make a new vector env."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError("cpcrl: set_attr needs %d values (one per env) or one value, got %d"
                             % (self.num_envs, len(values)))
        self._set_attr(name, dict(enumerate(values)))

    def _call(self, name: str, indices: Sequence[int], args: Sequence[Any],
              kwargs: Dict[str, Any]) -> List[Any]:
        """call() for the envs in indices."""
        if not isinstance(name, str):
            raise TypeError("cpcrl: an attribute name must be a string, got %r" % (name,))
        idx = [self._index(i) for i in indices]
        if name in _PER_ENV:
            if args or kwargs:
                raise TypeError("cpcrl: %s() takes no arguments" % name)
            f = _PER_ENV[name]
            with self._lock:
                v = self._live(name)
                return [f(self, lib.cpcrl_vec_env(v, i)) for i in idx]
        out = []
        for i in idx:
            if name in self._env_attrs[i]:
                x = self._env_attrs[i][name]
            elif name in _SHARED:
                x = _SHARED[name](self)
            else:
                raise AttributeError("cpcrl: env %d of this CpcrlVecEnv has no attribute %r (its "
                                     "envs answer %s and what set_attr set)" % (
                                         i, name, ", ".join(sorted(_PER_ENV) + sorted(_SHARED))))
            out.append(x(*args, **kwargs) if callable(x) else x)
        return out

    def _set_attr(self, name: str, values: Dict[int, Any]) -> None:
        """Set attribute name of env i to values[i]."""
        if not isinstance(name, str):
            raise TypeError("cpcrl: an attribute name must be a string, got %r" % (name,))
        if name in _PER_ENV or name in _SHARED:
            raise AttributeError("cpcrl: %r of the envs of a CpcrlVecEnv cannot be set: it is "
                                 "part of their C config or state (make a new vector env)" % name)
        for i, x in values.items():
            self._env_attrs[self._index(i)][name] = x

    def _index(self, i: Any) -> int:
        j = _lib.as_int("env index", i, -_lib.INT_MAX, _lib.INT_MAX)
        if not 0 <= j < self.num_envs:
            raise IndexError("cpcrl: env %d of %d" % (j, self.num_envs))
        return j

    def close(self, **kwargs: Any) -> None:
        """Free the C envs; later calls raise RuntimeError. Idempotent; safe
        while another thread steps (it waits for that step to end)."""
        lock = getattr(self, "_lock", None)  # None: __init__ failed before it
        if lock is None:
            return
        with lock:
            self.closed = True
            self._started = False
            if self._v is not None:
                lib.cpcrl_vec_free(self._v)
                self._v = None

    def _set_np_random(self, seed: int) -> None:
        if HAVE_GYMNASIUM:
            self._np_random, self._np_random_seed = _seeding.np_random(seed)
        else:
            self._np_random, self._np_random_seed = np.random.default_rng(seed), seed

    # -- cpcrl extras -----------------------------------------------------------

    def log_take(self) -> Dict[str, float]:
        """Stats of the episodes that ended since the last call:
        {"episodes", "return", "length", "success"} (means over them; success
        as in CpcrlEnv)."""
        with self._lock:
            lib.cpcrl_vec_log_take(self._live("log_take"), self._log.ctypes.data)
            n, r, l, s = (float(x) for x in self._log)
        d = max(n, 1.0)
        return {"episodes": int(n), "return": r / d, "length": l / d, "success": s / d}

    def _take_episodes(self, indices: Sequence[int]) -> List[Dict[str, Any]]:
        """For each env i in indices, the stats of its episodes ended since
        they were last taken, as CpcrlEnv's info["cpcrl"] (the last one's,
        when taken at each end). They leave what log_take() sums."""
        out = []
        with self._lock:
            v = self._live("log_take")
            for i in indices:
                lib.cpcrl_env_log_take(lib.cpcrl_vec_env(v, int(i)), self._log.ctypes.data)
                out.append({"r": float(self._log[1]), "l": int(self._log[2]),
                            "success": float(self._log[3])})
        return out

    def env_hash(self, i: int) -> int:
        """env_hash of env i's world state."""
        with self._lock:
            return int(lib.cpcrl_env_hash(self._env(i, "env_hash")))

    def render_text(self, i: int = 0) -> str:
        """env i's map as text (as `cpcrl show`)."""
        with self._lock:
            return render_text(self._env(i, "render_text"))

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

    def __repr__(self) -> str:
        what = self.spec.id if getattr(self, "spec", None) is not None else getattr(self, "task", "?")
        return "CpcrlVecEnv(%s, num_envs=%s)" % (what, getattr(self, "num_envs", "?"))

    def __deepcopy__(self, memo: Dict[int, Any]) -> "CpcrlVecEnv":
        """An independent vector env in the same state: the C envs are cloned,
        the arrays copied (the copy's own), the rest deep-copied."""
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        with self._lock:
            skip = ("_v", "_lock", "_args", "_args_next", "_buf") + _BUFFERS
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
        return lib.cpcrl_vec_env(v, self._index(i))


def make_vector_env(num_envs: int = 1, task: _lib.Task = "goal",
                    max_episode_steps: Optional[int] = None, **kwargs: Any) -> CpcrlVecEnv:
    """The vector entry point of the registered ids "cpcrl/TASK-v0":
    gymnasium.make_vec(id, num_envs, vectorization_mode="vector_entry_point",
    **kwargs) calls it with the spec's max_episode_steps (the task's time
    limit unless make_vec was given another). There is no TimeLimit wrapper
    over a vector env, so the C env truncates at min(max_steps,
    max_episode_steps): where a TimeLimit at max_episode_steps over the C
    env's own limit would. kwargs: CpcrlVecEnv's (seed, size, view,
    max_steps, items, render_mode, tile, autoreset_mode)."""
    if max_episode_steps is not None:
        limit = _lib.as_int("max_episode_steps", max_episode_steps, 1, _lib.INT_MAX)
        cfg = _lib.make_config(task, kwargs.get("size", 0), kwargs.get("view", 0),
                               kwargs.get("max_steps", 0), kwargs.get("items", -1))
        kwargs["max_steps"] = min(int(cfg[3]), limit)
    return CpcrlVecEnv(task, num_envs, **kwargs)
