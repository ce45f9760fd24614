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
"_final_obs") and 0.29's ("final_observation" / "_final_observation"); the
info dict is built once and its arrays are updated in place.

The arrays returned by reset() and step() are the env's own buffers,
overwritten by the next step: copy them (or write them into your rollout
storage) if you keep them. Env i of a batch seeded S is the single env seeded
rng_derive(S, i) (env/rng.h), exactly as in the C trainer.
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib
from .env import render_rgb, render_text
from .spaces import Box, Discrete, MultiDiscrete


class CpcrlVecEnv:
    """num_envs envs of one task, seeded like the C trainer's batch.

    step(actions) -> (observations [B,14,V,V] uint8, rewards [B] float32,
    terminations [B] bool, truncations [B] bool, info); see the module doc for
    autoreset and buffer ownership. log_take() returns the stats of the
    episodes finished since the last call."""

    metadata = {"autoreset_mode": "SameStep", "render_modes": ["rgb_array"]}

    def __init__(self, task="goal", num_envs=32, seed=None, *, size=0, view=0, max_steps=0,
                 items=-1):
        self._cfg = _lib.make_config(task, size, view, max_steps, items)
        self.task = _lib.TASKS[self._cfg[0]]
        self.size, self.view, self.max_steps, self.items = (int(x) for x in self._cfg[1:])
        B, C, V = int(num_envs), _lib.NUM_CHANNELS, self.view
        if B < 1:
            raise ValueError("cpcrl: num_envs must be >= 1 (got %d)" % B)
        self.num_envs = B
        self.single_observation_space = Box(0, 1, (C, V, V), np.uint8)
        self.single_action_space = Discrete(_lib.NUM_ACTIONS)
        self.observation_space = Box(0, 1, (B, C, V, V), np.uint8)
        self.action_space = MultiDiscrete(np.full(B, _lib.NUM_ACTIONS))
        self.observations = np.zeros((B, C, V, V), np.uint8)
        self.final_observations = np.zeros((B, C, V, V), np.uint8)
        self.rewards = np.zeros(B, np.float32)
        self.terminations = np.zeros(B, np.bool_)  # numpy bools are the C side's 0/1 bytes
        self.truncations = np.zeros(B, np.bool_)
        self.dones = np.zeros(B, np.bool_)          # terminations | truncations
        self._actions = np.zeros(B, np.intc)
        self._log = np.zeros(4, np.float32)
        self.info = {"final_obs": self.final_observations, "_final_obs": self.dones,
                     "final_observation": self.final_observations,
                     "_final_observation": self.dones}
        self._args = [ctypes.c_void_p(a.ctypes.data) for a in
                      (self._actions, self.observations, self.rewards, self.terminations,
                       self.truncations, self.final_observations)]
        self._v = None
        self._started = False
        self._seed = seed
        self._step = lib.cpcrl_vec_step

    def reset(self, *, seed=None, options=None):
        """seed S: env i restarts as the single env seeded rng_derive(S, i).
        No seed: the first reset uses the constructor's seed (or draws one);
        later ones start every env's next episode."""
        if seed is None and not self._started:
            seed = self._seed
            if seed is None:
                seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        if seed is not None:
            seed = int(seed) & ((1 << 64) - 1)
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
        lib.cpcrl_vec_observe(self._v, self._args[1])
        return self.observations, {}

    def step(self, actions):
        """actions: B integers in 0..3 (any integer array-like, e.g. a torch tensor's .numpy())."""
        if not self._started:
            raise RuntimeError("cpcrl: call reset() before step()")
        np.copyto(self._actions, actions, casting="same_kind")
        rc = self._step(self._v, *self._args)
        if rc < 0:
            i = -1 - rc
            raise ValueError("cpcrl: actions[%d] = %r is not in 0..%d"
                             % (i, self._actions[i], _lib.NUM_ACTIONS - 1))
        np.logical_or(self.terminations, self.truncations, out=self.dones)
        return self.observations, self.rewards, self.terminations, self.truncations, self.info

    def log_take(self):
        """Stats of the episodes that ended since the last call:
        {"episodes", "return", "length", "success"} (means over them; success
        as in CpcrlEnv)."""
        lib.cpcrl_vec_log_take(self._v, self._log.ctypes.data)
        n, r, l, s = (float(x) for x in self._log)
        d = max(n, 1.0)
        return {"episodes": int(n), "return": r / d, "length": l / d, "success": s / d}

    def env_hash(self, i):
        """env_hash of env i's world state."""
        return int(lib.cpcrl_env_hash(self._env(i)))

    def render(self, i=0, tile=16):
        """RGB array of env i's map (as CpcrlEnv.render)."""
        return render_rgb(self._env(i), tile)

    def render_text(self, i=0):
        """env i's map as text (as `cpcrl show`)."""
        return render_text(self._env(i))

    def close(self):
        if self._v is not None:
            lib.cpcrl_vec_free(self._v)
            self._v = None
            self._started = False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()
        return False

    def _env(self, i):
        if not self._started or not 0 <= i < self.num_envs:
            raise IndexError("cpcrl: env %r of %d (reset() first)" % (i, self.num_envs))
        return lib.cpcrl_vec_env(self._v, int(i))
