"""Loading libcpcrl_env.so and declaring its C signatures (python/capi.c).

Where the library comes from, first match wins:
  1. $CPCRL_LIB, a path to a libcpcrl_env.so (e.g. build/libcpcrl_env.so of `make lib`);
  2. the copy the package's build step put beside this file (`pip install ./python`);
  3. build/libcpcrl_env.so of the checkout this file sits in (PYTHONPATH=python, after `make lib`).
"""
from __future__ import annotations

import ctypes
import operator
import os
from typing import Any, Union

import numpy as np

CAPI_VERSION = 4

_here = os.path.dirname(os.path.abspath(__file__))
_candidates = [
    os.path.join(_here, "libcpcrl_env.so"),
    os.path.join(os.path.dirname(os.path.dirname(_here)), "build", "libcpcrl_env.so"),
]

_p = ctypes.c_void_p
_i = ctypes.c_int
_u64 = ctypes.c_uint64

_SIGNATURES = {
    "cpcrl_capi_version": (_i, []),
    "cpcrl_num_channels": (_i, []),
    "cpcrl_num_actions": (_i, []),
    "cpcrl_num_tasks": (_i, []),
    "cpcrl_task_name": (ctypes.c_char_p, [_i]),
    "cpcrl_task_goal_hidden": (_i, [_i]),
    "cpcrl_kind_name": (ctypes.c_char_p, [_i]),
    "cpcrl_action_name": (ctypes.c_char_p, [_i]),
    "cpcrl_rng_derive": (_u64, [_u64, _u64]),
    "cpcrl_config": (_i, [_p, ctypes.c_char_p, ctypes.c_size_t]),
    "cpcrl_env_new": (_p, [_p, _u64]),
    "cpcrl_env_free": (None, [_p]),
    "cpcrl_env_clone": (_p, [_p]),
    "cpcrl_env_seed": (None, [_p, _u64]),
    "cpcrl_env_reset": (None, [_p]),
    "cpcrl_env_observe": (None, [_p, _p]),
    "cpcrl_env_hash": (_u64, [_p]),
    "cpcrl_env_oracle": (_i, [_p]),
    "cpcrl_env_grid": (_p, [_p]),
    "cpcrl_env_render_map": (None, [_p, ctypes.c_char_p]),
    "cpcrl_env_state": (None, [_p, _p]),
    "cpcrl_env_step": (_i, [_p, _i, _p, _p, _p, _p]),
    "cpcrl_env_log_take": (None, [_p, _p]),
    "cpcrl_vec_new": (_p, [_p, _i, _u64]),
    "cpcrl_vec_free": (None, [_p]),
    "cpcrl_vec_clone": (_p, [_p]),
    "cpcrl_vec_seed": (None, [_p, _u64]),
    "cpcrl_vec_reset": (None, [_p]),
    "cpcrl_vec_env": (_p, [_p, _i]),
    "cpcrl_vec_observe": (None, [_p, _p]),
    "cpcrl_vec_step": (_i, [_p, _p, _p, _p, _p, _p, _p, _p, _p]),
    "cpcrl_vec_step_next": (_i, [_p, _p, _p, _p, _p, _p, _p]),
    "cpcrl_vec_run": (_i, [_p, _p, _i, _p, _p, _p, _p, _p]),
    "cpcrl_vec_log_take": (None, [_p, _p]),
}


def _load():
    path = os.environ.get("CPCRL_LIB")
    tried = [path] if path else [c for c in _candidates]
    for c in tried:
        if os.path.exists(c):
            try:
                lib = ctypes.CDLL(c)
            except OSError as ex:
                raise ImportError("cpcrl: cannot load %s: %s" % (c, ex)) from ex
            break
    else:
        raise ImportError(
            "cpcrl: libcpcrl_env.so not found (looked at %s); build it with `make lib` in the "
            "cpcrl checkout and set CPCRL_LIB, or install the package with "
            "`pip install ./python`" % ", ".join(tried))
    if not hasattr(lib, "cpcrl_capi_version"):
        raise ImportError("cpcrl: %s is not cpcrl's C library (it has no cpcrl_capi_version); "
                          "point CPCRL_LIB at build/libcpcrl_env.so of `make lib`" % c)
    lib.cpcrl_capi_version.restype = _i
    lib.cpcrl_capi_version.argtypes = []
    if lib.cpcrl_capi_version() != CAPI_VERSION:  # before the signatures: a missing symbol
        raise ImportError("cpcrl: %s has C API version %d, this package expects %d; rebuild it"
                          " (`make lib`, or reinstall the package)"
                          % (c, lib.cpcrl_capi_version(), CAPI_VERSION))
    for name, (res, args) in _SIGNATURES.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    lib.path = c
    return lib


lib = _load()
NUM_CHANNELS = lib.cpcrl_num_channels()
NUM_ACTIONS = lib.cpcrl_num_actions()
TASKS = tuple(lib.cpcrl_task_name(t).decode() for t in range(lib.cpcrl_num_tasks()))
# per task: its target is hidden from the agent (render_rgb outlines it, as the viewer does)
GOAL_HIDDEN = tuple(bool(lib.cpcrl_task_goal_hidden(t)) for t in range(len(TASKS)))
KINDS = tuple(lib.cpcrl_kind_name(k).decode() for k in range(NUM_CHANNELS))
ACTIONS = tuple(lib.cpcrl_action_name(a).decode() for a in range(NUM_ACTIONS))


INT_MAX = 2**31 - 1
SEED_END = 2**64


# ---------------------------------------------------------------------------
# Checks of what comes from Python, before anything reaches a C int: a float,
# a string or an integer too big for the C type would otherwise be truncated
# or wrapped silently by int() / ctypes / numpy.

def as_int(name: str, value: Any, lo: int, hi: int, hint: str = "") -> int:
    """value as a Python int in lo..hi (an int, a numpy integer, anything with
    __index__; not a bool, a float or a string), else TypeError / ValueError
    naming the parameter and the value given."""
    if type(value) is int:
        v = value
    else:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError("cpcrl: %s must be an integer, got %r" % (name, value))
        try:
            v = operator.index(value)
        except TypeError:
            raise TypeError("cpcrl: %s must be an integer, got %r (%s)"
                            % (name, value, type(value).__name__)) from None
    if not lo <= v <= hi:
        raise ValueError("cpcrl: %s must be in %d..%d%s, got %d" % (name, lo, hi, hint, v))
    return v


def as_seed(seed: Any, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**64) (the C env's uint64_t)."""
    return as_int(name, seed, 0, SEED_END - 1, " (a 64-bit unsigned seed)")


def as_action(action: Any) -> int:
    """One action: an integer in 0..NUM_ACTIONS-1 (Gymnasium's Discrete(4))."""
    if type(action) is int and 0 <= action < NUM_ACTIONS:
        return action  # the common case, checked in two comparisons
    return as_int("action", action, 0, NUM_ACTIONS - 1,
                  " (%s)" % ", ".join("%d %s" % a for a in enumerate(ACTIONS)))


Task = Union[str, int]


def make_config(task: Task, size: int = 0, view: int = 0, max_steps: int = 0,
                items: int = -1) -> np.ndarray:
    """The env config as 5 C ints (task, size, view, max_steps, items) with the
    task's defaults filled in by C (0 / negative = default, as in cpcrl's flags).
    Raises TypeError for a value that is not an integer, ValueError with
    env_config_check's message when the config is invalid."""
    if isinstance(task, str):
        if task not in TASKS:
            raise ValueError("cpcrl: unknown task %r (valid: %s)" % (task, ", ".join(TASKS)))
        task = TASKS.index(task)
    else:
        task = as_int("task", task, 0, len(TASKS) - 1, " (%s)" % ", ".join(TASKS))
    vals = [task]
    for name, v in (("size", size), ("view", view), ("max_steps", max_steps), ("items", items)):
        vals.append(as_int(name, v, -INT_MAX - 1, INT_MAX, " (a C int; 0 = the task's default)"
                           if name != "items" else " (a C int; -1 = the task's default)"))
    cfg = np.array(vals, dtype=np.intc)
    err = ctypes.create_string_buffer(300)
    if lib.cpcrl_config(cfg.ctypes.data, err, len(err)) < 0:
        raise ValueError("cpcrl: " + err.value.decode())
    return cfg


def rng_derive(seed: int, i: int) -> int:
    """Seed of env i in a batch seeded `seed` (base/rng.h)."""
    return int(lib.cpcrl_rng_derive(as_seed(seed), as_int("i", i, 0, SEED_END - 1)))
