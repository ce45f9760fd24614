"""Stable-Baselines3's VecEnv over a CpcrlVecEnv: one C call per step for the
whole batch, where SB3's DummyVecEnv over CpcrlEnvs makes one per env.

    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor
    from cpcrl.sb3 import CpcrlSB3VecEnv

    env = VecMonitor(CpcrlSB3VecEnv("goal", num_envs=16, seed=0))  # ep_rew_mean in the logs
    PPO("MlpPolicy", env, n_steps=128).learn(20_000)

This module imports stable_baselines3 (and so torch); `import cpcrl` does not
import it. It gives what DummyVecEnv([lambda: CpcrlEnv(task)] * B) gives, step
for step, with the same seeds: observations (copies: SB3 keeps them across
steps), rewards, dones = terminated | truncated, and per-env infos holding
"TimeLimit.truncated"; the info of an env whose episode ended holds
"terminal_observation" (its last observation; the returned one is the next
episode's first), the single env's "cpcrl" stats {"r", "l", "success"} and
"is_success" (SB3 logs rollout/success_rate from it). Those stats are taken
from the C envs at each end, so the vector env's log_take() sees none of them.

Seeds follow SB3: seed(S) makes the next reset() seed env i with S + i (the
single env seeded S + i, as DummyVecEnv does); without seed() the first
reset() uses the vector env's own seed (env i = rng_derive(seed, i)), later
ones start every env's next episode. reset options are ignored (cpcrl's envs
take none). get_attr / set_attr / env_method reach the single envs as
CpcrlVecEnv.call does (their methods render, render_text, state, state_hash,
oracle_action, their config attributes, and what set_attr set).
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Type

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from .vector import SAME_STEP, CpcrlVecEnv

__all__ = ["CpcrlSB3VecEnv"]


class CpcrlSB3VecEnv(VecEnv):
    """CpcrlSB3VecEnv(task, num_envs, seed, **CpcrlVecEnv's kwargs), or
    CpcrlSB3VecEnv(vec_env) over an existing same-step CpcrlVecEnv (which it
    then owns: close() closes it)."""

    def __init__(self, task: Any = "goal", num_envs: int = 32, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        if isinstance(task, CpcrlVecEnv):
            if kwargs or seed is not None:
                raise TypeError("cpcrl: CpcrlSB3VecEnv(vec_env) takes no other arguments")
            venv = task
        else:
            venv = CpcrlVecEnv(task, num_envs, seed, **kwargs)
        if venv.autoreset_mode != SAME_STEP:
            raise ValueError("cpcrl: SB3's VecEnv resets in the step that ends an episode: the "
                             "CpcrlVecEnv must use autoreset_mode=%r, not %r"
                             % (SAME_STEP, venv.autoreset_mode))
        import gymnasium
        if not isinstance(venv.single_observation_space, gymnasium.spaces.Space):
            raise TypeError("cpcrl: the vector env's spaces are not gymnasium's (cpcrl was "
                            "imported before gymnasium was importable): restart the interpreter")
        self.venv = venv
        self._actions: Optional[np.ndarray] = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> np.ndarray:
        seeds = list(self._seeds)
        if any(s is not None for s in seeds):
            obs, _ = self.venv.reset(seed=seeds)
        else:
            obs, _ = self.venv.reset()
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> Any:
        if self._actions is None:
            raise RuntimeError("cpcrl: step_wait() without step_async()")
        actions, self._actions = self._actions, None
        obs, rewards, term, trunc, info = self.venv.step(actions)
        dones = term | trunc
        infos: List[dict] = [{"TimeLimit.truncated": x} for x in (trunc & ~term).tolist()]
        ended = np.flatnonzero(dones)
        if len(ended):
            final = info["final_obs"]
            for i, stats in zip(ended, self.venv._take_episodes(ended)):
                d = infos[i]
                d["terminal_observation"] = final[i].copy()
                d["cpcrl"] = stats
                d["is_success"] = stats["success"] > 0
        return obs.copy(), rewards.copy(), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> List[Any]:
        return self.venv._call(attr_name, self._indices(indices), (), {})

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self.venv._set_attr(attr_name, {i: value for i in self._indices(indices)})

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> List[Any]:
        return self.venv._call(method_name, self._indices(indices), method_args, method_kwargs)

    def env_is_wrapped(self, wrapper_class: Type[Any],
                       indices: VecEnvIndices = None) -> List[bool]:
        return [False] * len(self._indices(indices))  # the C envs carry no gymnasium wrapper

    def get_images(self) -> Sequence[Optional[np.ndarray]]:
        if self.render_mode != "rgb_array":
            import warnings
            warnings.warn("cpcrl: render_mode is %r; get_images() needs 'rgb_array'"
                          % (self.render_mode,))
            return [None] * self.num_envs
        return list(self.venv.render())

    def _indices(self, indices: VecEnvIndices) -> List[int]:
        return list(self._get_indices(indices))  # each checked by the vector env
