"""Loading libcpcrl_env.so and declaring its C signatures (python/capi.c).

Where the library comes from, first match wins:
  1. $CPCRL_LIB, a path to a libcpcrl_env.so (e.g. build/libcpcrl_env.so of `make lib`);
  2. the copy the package's build step put beside this file (`pip install ./python`);
  3. build/libcpcrl_env.so of the checkout this file sits in (PYTHONPATH=python, after `make lib`).
"""
import ctypes
import os

CAPI_VERSION = 1

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
    "cpcrl_kind_name": (ctypes.c_char_p, [_i]),
    "cpcrl_action_name": (ctypes.c_char_p, [_i]),
    "cpcrl_rng_derive": (_u64, [_u64, _u64]),
    "cpcrl_config": (_i, [_p, ctypes.c_char_p, ctypes.c_size_t]),
    "cpcrl_env_new": (_p, [_p, _u64]),
    "cpcrl_env_free": (None, [_p]),
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
    "cpcrl_vec_seed": (None, [_p, _u64]),
    "cpcrl_vec_reset": (None, [_p]),
    "cpcrl_vec_env": (_p, [_p, _i]),
    "cpcrl_vec_observe": (None, [_p, _p]),
    "cpcrl_vec_step": (_i, [_p, _p, _p, _p, _p, _p, _p]),
    "cpcrl_vec_run": (_i, [_p, _p, _i, _p, _p, _p, _p, _p]),
    "cpcrl_vec_log_take": (None, [_p, _p]),
}


def _load():
    path = os.environ.get("CPCRL_LIB")
    tried = [path] if path else [c for c in _candidates]
    for c in tried:
        if os.path.exists(c):
            lib = ctypes.CDLL(c)
            break
    else:
        raise ImportError(
            "cpcrl: libcpcrl_env.so not found (looked at %s); build it with `make lib` in the "
            "cpcrl checkout and set CPCRL_LIB, or install the package with "
            "`pip install ./python`" % ", ".join(tried))
    for name, (res, args) in _SIGNATURES.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    if lib.cpcrl_capi_version() != CAPI_VERSION:
        raise ImportError("cpcrl: %s has C API version %d, this package expects %d; rebuild it"
                          % (c, lib.cpcrl_capi_version(), CAPI_VERSION))
    lib.path = c
    return lib


lib = _load()
NUM_CHANNELS = lib.cpcrl_num_channels()
NUM_ACTIONS = lib.cpcrl_num_actions()
TASKS = tuple(lib.cpcrl_task_name(t).decode() for t in range(lib.cpcrl_num_tasks()))
KINDS = tuple(lib.cpcrl_kind_name(k).decode() for k in range(NUM_CHANNELS))
ACTIONS = tuple(lib.cpcrl_action_name(a).decode() for a in range(NUM_ACTIONS))


def make_config(task, size=0, view=0, max_steps=0, items=-1):
    """The env config as 5 C ints (task, size, view, max_steps, items) with the
    task's defaults filled in by C (0 / negative = default, as in cpcrl's flags).
    Raises ValueError with env_config_check's message when it is invalid."""
    import numpy as np
    if isinstance(task, str):
        if task not in TASKS:
            raise ValueError("cpcrl: unknown task %r (valid: %s)" % (task, ", ".join(TASKS)))
        task = TASKS.index(task)
    cfg = np.array([task, size, view, max_steps, items], dtype=np.intc)
    err = ctypes.create_string_buffer(300)
    if lib.cpcrl_config(cfg.ctypes.data, err, len(err)) < 0:
        raise ValueError("cpcrl: " + err.value.decode())
    return cfg


def rng_derive(seed, i):
    """Seed of env i in a batch seeded `seed` (env/rng.h)."""
    return lib.cpcrl_rng_derive(seed, i)
