"""cpcrl's gridworld simulator from Python: ctypes over libcpcrl_env.so.

    import cpcrl
    env = cpcrl.CpcrlEnv("seekavoid")                 # Gymnasium Env API
    obs, info = env.reset(seed=0)                     # = `cpcrl show seekavoid --seed 0`
    obs, reward, terminated, truncated, info = env.step(2)
    # the step that ends an episode: info["cpcrl"] = {"r", "l", "success"}

    venv = cpcrl.CpcrlVecEnv("goal", num_envs=256, seed=0)   # one C call per step
    # autoreset_mode="SameStep" (default) or "NextStep"; reset(seed=[s0, s1, ...]) per env
    obs, info = venv.reset()
    obs, rewards, terminations, truncations, info = venv.step(actions)

Needs numpy only; with gymnasium importable CpcrlEnv is a gymnasium.Env,
CpcrlVecEnv a gymnasium.vector.VectorEnv, the spaces are gymnasium's, and the
tasks are registered as "cpcrl/TASK-v0" with spec.max_episode_steps = the
task's default time limit (max_steps), the step at which the C env itself
truncates. gymnasium.make adds its TimeLimit at that count; with max_steps=N
in make's kwargs pass max_episode_steps=N too. The registration's vector entry
point is cpcrl.vector.make_vector_env: gymnasium.make_vec("cpcrl/goal-v0", 4,
vectorization_mode="vector_entry_point") gives a CpcrlVecEnv.

Stable-Baselines3: cpcrl.sb3.CpcrlSB3VecEnv, SB3's VecEnv over a CpcrlVecEnv
(import cpcrl.sb3 to get it; `import cpcrl` itself never imports SB3 or torch).
"""
from __future__ import annotations

from typing import Any, Optional

from ._lib import ACTIONS, KINDS, NUM_ACTIONS, NUM_CHANNELS, TASKS, Task, make_config, rng_derive
from .env import PALETTE, CpcrlEnv
from .spaces import HAVE_GYMNASIUM
from .vector import CpcrlVecEnv

__version__ = "0.1.0"
__all__ = ["CpcrlEnv", "CpcrlVecEnv", "make", "make_vec", "TASKS", "KINDS", "ACTIONS",
           "NUM_CHANNELS", "NUM_ACTIONS", "PALETTE", "rng_derive", "HAVE_GYMNASIUM"]


def make(task: Task = "goal", **kwargs: Any) -> CpcrlEnv:
    """CpcrlEnv(task, **kwargs): size, view, max_steps, items, render_mode, tile."""
    return CpcrlEnv(task, **kwargs)


def make_vec(task: Task = "goal", num_envs: int = 32, seed: Optional[int] = None,
             **kwargs: Any) -> CpcrlVecEnv:
    """CpcrlVecEnv(task, num_envs, seed, **kwargs): size, view, max_steps, items,
    render_mode, tile, autoreset_mode."""
    return CpcrlVecEnv(task, num_envs, seed, **kwargs)


def _register() -> None:
    import gymnasium
    for t in TASKS:
        gid = "cpcrl/%s-v0" % t
        if gid not in gymnasium.registry:
            gymnasium.register(id=gid, entry_point="cpcrl.env:CpcrlEnv",
                               vector_entry_point="cpcrl.vector:make_vector_env",
                               kwargs={"task": t}, max_episode_steps=int(make_config(t)[3]))


if HAVE_GYMNASIUM:
    _register()
