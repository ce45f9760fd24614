"""The binding against one Gymnasium source tree (and Stable-Baselines3's):
the Python half of scripts/check_python_ecosystem.sh, which puts the trees on
PYTHONPATH and runs this once per Gymnasium version. Not part of `make test`.

Prints one line per check, "PASS name: detail", "FAIL name: detail",
"KNOWN name: detail" (a limitation of that Gymnasium version, said what and
why) or "SKIP name: why"; exits 1 when a check failed.

Checks: gymnasium.utils.env_checker.check_env on every task's single env
(checker warnings as failures); RecordEpisodeStatistics over the single env
and over the vector env, its episode stats against the C env's own (taken
per env at each end); on 1.x gymnasium.make_vec with the vector entry point
(against SyncVectorEnv over CpcrlEnvs, and under RecordEpisodeStatistics);
with --sb3, SB3's check_env on the single env and PPO through
cpcrl.sb3.CpcrlSB3VecEnv under VecMonitor for --ppo-steps steps on seekavoid
(ep_rew_mean after the first rollout that ended episodes and after the last,
steps/s, and the random policy's return for scale).
"""
import argparse
import re
import sys
import time
import traceback
import warnings

import numpy as np

RESULTS = []


def version(v):
    """"1.3.0" -> (1, 3, 0), for comparisons."""
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def report(status, name, detail):
    RESULTS.append(status)
    print("%-5s %s: %s" % (status, name, detail), flush=True)


def check(name):
    """Decorator: run the check, FAIL with the exception if it raises."""
    def wrap(fn):
        def run(*args):
            try:
                fn(*args)
            except Exception as e:  # a failed check, not a crash of the whole run
                report("FAIL", name, "%s: %s" % (type(e).__name__, e))
                traceback.print_exc(file=sys.stdout)
        return run
    return wrap


def episodes_match(wrapped_steps, venv, B, steps, seed):
    """Step a RecordEpisodeStatistics-wrapped vector env with random actions;
    compare its info["episode"] with the C env's stats of each ended episode.
    Returns (episodes, mismatches, first mismatch)."""
    rng = np.random.default_rng(seed)
    n, bad, first = 0, 0, None
    for t in range(steps):
        _, _, term, trunc, info = wrapped_steps(rng.integers(0, 4, B))
        ended = np.flatnonzero(term | trunc)
        for i, c in zip(ended, venv._take_episodes(ended)):
            n += 1
            got = (int(info["episode"]["l"][i]), float(info["episode"]["r"][i]))
            if not info["_episode"][i] or got[0] != c["l"] or abs(got[1] - c["r"]) > 1e-4:
                bad += 1
                first = first or "env %d step %d: Gymnasium l=%d r=%g, C l=%d r=%g" % (
                    i, t, got[0], got[1], c["l"], c["r"])
    return n, bad, first


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sb3", action="store_true", help="also run the Stable-Baselines3 checks")
    p.add_argument("--ppo-steps", type=int, default=20000)
    p.add_argument("--ppo-task", default="seekavoid")
    a = p.parse_args()

    import gymnasium
    import cpcrl
    major = int(gymnasium.__version__.split(".")[0])
    print("gymnasium %s from %s; cpcrl library %s" % (
        gymnasium.__version__, gymnasium.__file__, cpcrl._lib.lib.path))
    assert cpcrl.HAVE_GYMNASIUM

    @check("check_env")
    def check_env():
        from gymnasium.utils.env_checker import check_env as gym_check_env
        for task in cpcrl.TASKS:
            env = gymnasium.make("cpcrl/%s-v0" % task, render_mode="rgb_array")
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a checker warning fails the check
                gym_check_env(env.unwrapped)
            env.close()
        report("PASS", "check_env", "every task (%s), warnings as errors" % ", ".join(cpcrl.TASKS))

    @check("RecordEpisodeStatistics single")
    def res_single():
        from gymnasium.wrappers import RecordEpisodeStatistics
        n = 0
        for task in cpcrl.TASKS:
            env = RecordEpisodeStatistics(gymnasium.make("cpcrl/%s-v0" % task))
            env.reset(seed=3)
            rng = np.random.default_rng(0)
            for t in range(1500):
                a_ = env.unwrapped.oracle_action() if rng.random() < 0.5 else int(rng.integers(4))
                _, _, term, trunc, info = env.step(a_)
                if term or trunc:
                    assert info["episode"]["l"] == info["cpcrl"]["l"], (task, info)
                    assert abs(float(info["episode"]["r"]) - info["cpcrl"]["r"]) < 1e-4, (task, info)
                    n += 1
                    env.reset()
        report("PASS", "RecordEpisodeStatistics single",
               "%d episodes over the 5 tasks: info[\"episode\"] r, l = info[\"cpcrl\"]'s" % n)

    def vector_res(mode):
        name = "RecordEpisodeStatistics vector (%s)" % mode

        @check(name)
        def run():
            B = 8
            venv = cpcrl.CpcrlVecEnv("goal", B, seed=5, max_steps=40, autoreset_mode=mode)
            if major >= 1:
                from gymnasium.wrappers.vector import RecordEpisodeStatistics
            else:
                from gymnasium.wrappers import RecordEpisodeStatistics  # 0.29: single and vector
            env = RecordEpisodeStatistics(venv)
            env.reset()
            n, bad, first = episodes_match(env.step, venv, B, 400, 1)
            detail = "%d episodes, %d with stats unlike the C env's" % (n, bad)
            if not bad:
                report("PASS", name, detail + " (goal, 8 envs, time limit 40)")
            elif major >= 1 and mode == "SameStep" and version(gymnasium.__version__) <= (1, 3, 0):
                report("KNOWN", name, detail + "; Gymnasium <= 1.3.0 counts same-step episodes "
                       "as next-step ones (each env's episodes after its first one step short; "
                       "fixed after 1.3.0): use autoreset_mode=\"NextStep\" with its vector "
                       "wrappers. First: " + first)
            else:
                report("FAIL", name, detail + ". First: " + first)
        run()

    check_env()
    res_single()
    vector_res("SameStep")
    if major >= 1:
        vector_res("NextStep")
    else:
        report("SKIP", "RecordEpisodeStatistics vector (NextStep)",
               "gymnasium %s's vector API is same-step only" % gymnasium.__version__)

    if major >= 1:
        @check("make_vec vector_entry_point")
        def make_vec():
            B, S = 8, 70
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # e.g. 1.1+'s warning on metadata["autoreset_mode"]
                ours = gymnasium.make_vec("cpcrl/tmaze-v0", B, vectorization_mode="vector_entry_point",
                                          autoreset_mode="NextStep", max_episode_steps=1000)
            assert isinstance(ours, cpcrl.CpcrlVecEnv) and isinstance(ours, gymnasium.vector.VectorEnv)
            sync = gymnasium.make_vec("cpcrl/tmaze-v0", B, vectorization_mode="sync",
                                      max_episode_steps=1000)
            o1, _ = ours.reset(seed=[S + i for i in range(B)])
            o2, _ = sync.reset(seed=S)  # env i seeded S + i
            assert (o1 == o2).all()
            rng = np.random.default_rng(0)
            ends = 0
            for t in range(400):
                act = rng.integers(0, 4, B)
                x, y = ours.step(act), sync.step(act)
                for u, v in zip(x[:4], y[:4]):
                    assert (u == v).all(), "step %d differs from SyncVectorEnv" % t
                ends += int((x[2] | x[3]).sum())
            mode = ours.metadata["autoreset_mode"]
            from gymnasium.wrappers.vector import RecordEpisodeStatistics
            env = RecordEpisodeStatistics(gymnasium.make_vec(
                "cpcrl/goal-v0", B, vectorization_mode="vector_entry_point",
                autoreset_mode="NextStep", max_steps=40))
            env.reset(seed=1)
            n, bad, first = episodes_match(env.step, env.unwrapped, B, 300, 2)
            assert not bad, first
            report("PASS", "make_vec vector_entry_point",
                   "CpcrlVecEnv, spec %s, metadata autoreset_mode %r; 400 steps x %d envs equal "
                   "to SyncVectorEnv over CpcrlEnv (%d episode ends); under "
                   "RecordEpisodeStatistics %d episodes as the C env counts them"
                   % (ours.spec.id, mode, B, ends, n))
        make_vec()
    else:
        report("SKIP", "make_vec vector_entry_point",
               "gymnasium %s's make_vec is experimental (\"custom\" mode, its experimental "
               "vector API): checked on 1.x" % gymnasium.__version__)

    if a.sb3:
        run_sb3(a, cpcrl)
    return 1 if "FAIL" in RESULTS else 0


def run_sb3(a, cpcrl):
    import stable_baselines3
    import torch

    @check("SB3 check_env")
    def sb3_check_env():
        from stable_baselines3.common.env_checker import check_env
        for task in cpcrl.TASKS:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                check_env(cpcrl.CpcrlEnv(task), warn=True)
        said = sorted({str(x.message).split("\n")[0][:160] for x in w})
        report("PASS", "SB3 check_env", "every task; its warnings: %s" % (said or "none"))

    @check("SB3 PPO")
    def ppo():
        from stable_baselines3 import PPO
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.vec_env import VecMonitor
        from cpcrl.sb3 import CpcrlSB3VecEnv

        class Rollouts(BaseCallback):
            """ep_rew_mean / success rate after each rollout (what SB3 logs)."""
            def __init__(self):
                super().__init__()
                self.rows = []

            def _on_step(self):
                return True

            def _on_rollout_end(self):
                m = self.model
                if len(m.ep_info_buffer):
                    self.rows.append((self.num_timesteps,
                                      float(np.mean([e["r"] for e in m.ep_info_buffer])),
                                      float(np.mean(m.ep_success_buffer))
                                      if len(m.ep_success_buffer) else float("nan"),
                                      len(m.ep_info_buffer)))

        torch.set_num_threads(1)
        n_envs = 16
        env = VecMonitor(CpcrlSB3VecEnv(a.ppo_task, n_envs, seed=0))
        model = PPO("MlpPolicy", env, n_steps=64, batch_size=256, n_epochs=4, learning_rate=1e-3,
                    seed=0, device="cpu", verbose=0)
        cb = Rollouts()
        t0 = time.time()
        model.learn(a.ppo_steps, callback=cb)
        dt = time.time() - t0
        env.close()
        first, last = cb.rows[0], cb.rows[-1]
        rnd = cpcrl.CpcrlVecEnv(a.ppo_task, 64, seed=1)  # the random policy, for scale
        rnd.reset()
        rng = np.random.default_rng(0)
        for t in range(2000):
            rnd.step(rng.integers(0, 4, 64))
        base = rnd.log_take()
        rnd.close()
        report("PASS", "SB3 PPO",
               "stable-baselines3 %s, torch %s (1 thread): %s, %d envs, MlpPolicy, n_steps 64, lr 1e-3, "
               "%d steps in %.1f s = %.0f steps/s; ep_rew_mean %.3f after the first rollout "
               "(step %d) -> %.3f after the last (step %d, mean of the last %d episodes); "
               "success rate %.2f -> %.2f (the random policy: return %.3f, success %.2f over "
               "%d episodes)" % (
                   stable_baselines3.__version__, torch.__version__, a.ppo_task, n_envs,
                   model.num_timesteps, dt, model.num_timesteps / dt, first[1], first[0],
                   last[1], last[0], last[3], first[2], last[2], base["return"],
                   base["success"], base["episodes"]))

    sb3_check_env()
    ppo()


if __name__ == "__main__":
    sys.exit(main())
