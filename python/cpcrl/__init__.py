"""cpcrl's gridworld simulator from Python: ctypes over libcpcrl_env.so.

    import cpcrl
    env = cpcrl.CpcrlEnv("seekavoid")                 # Gymnasium Env API
    obs, info = env.reset(seed=0)                     # = `cpcrl show seekavoid --seed 0`
    obs, reward, terminated, truncated, info = env.step(2)

    venv = cpcrl.CpcrlVecEnv("goal", num_envs=256, seed=0)   # one C call per step
    obs, info = venv.reset()
    obs, rewards, terminations, truncations, info = venv.step(actions)

Needs numpy only; with gymnasium importable CpcrlEnv is a gymnasium.Env, its
spaces are gymnasium's, and the tasks are registered as "cpcrl/TASK-v0".
"""
from ._lib import ACTIONS, KINDS, NUM_ACTIONS, NUM_CHANNELS, TASKS, rng_derive
from .env import PALETTE, CpcrlEnv
from .spaces import HAVE_GYMNASIUM
from .vector import CpcrlVecEnv

__version__ = "0.1.0"
__all__ = ["CpcrlEnv", "CpcrlVecEnv", "make", "make_vec", "TASKS", "KINDS", "ACTIONS",
           "NUM_CHANNELS", "NUM_ACTIONS", "PALETTE", "rng_derive", "HAVE_GYMNASIUM"]


def make(task="goal", **kwargs):
    """CpcrlEnv(task, **kwargs): size, view, max_steps, items, render_mode, tile."""
    return CpcrlEnv(task, **kwargs)


def make_vec(task="goal", num_envs=32, seed=None, **kwargs):
    """CpcrlVecEnv(task, num_envs, seed, **kwargs): size, view, max_steps, items."""
    return CpcrlVecEnv(task, num_envs, seed, **kwargs)


if HAVE_GYMNASIUM:
    import gymnasium as _gym
    for _t in TASKS:
        _id = "cpcrl/%s-v0" % _t
        if _id not in _gym.registry:
            _gym.register(id=_id, entry_point="cpcrl.env:CpcrlEnv", kwargs={"task": _t})
