"""The Python binding (python/cpcrl) against the C side.

    /usr/bin/python3 tests/python/test_binding.py --cpcrl ./cpcrl \
        --lib build/libcpcrl_env.so --ref build/tests/python/ref_trace

Needs Debian's python3 and python3-numpy only; `make test` runs it. Every
comparison is with something C computed on its own: the map and agent view
that `cpcrl show` prints, and the per-step CRC32 lines of ref_trace (tests/
python/ref_trace.c), a C program that steps env/ directly with the actions
Python chose. The CRCs are zlib's on the C side and Python's zlib here. With
gymnasium importable (0.29 or 1.x), gymnasium.utils.env_checker.check_env,
the registration, and the vector env as a gymnasium.vector.VectorEnv
(make_vec, SyncVectorEnv giving the same batches, vector wrappers) are checked
too (skipped otherwise, saying why). With pip and setuptools importable, `pip
install ./python` is checked offline in a temporary directory (skipped
otherwise).
"""
import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS = None  # set in main before the package is imported

KIND_CHARS = "?.#Galk" + "KdD0123"  # env.c's KIND_CHARS, written out independently


def crc(a):
    return "%08x" % zlib.crc32(a.tobytes())  # numpy arrays: C order, as C lays them out


def obs_text(obs):
    """One-hot planes [C][V][V] to the text `cpcrl show` prints ('^' for the
    agent's own cell when it holds nothing); decoded here, not in C."""
    C, V, _ = obs.shape
    assert (obs.sum(axis=0) == 1).all(), "observation is not one-hot"
    kinds = obs.argmax(axis=0)
    rows = []
    for r in range(V):
        row = "".join(KIND_CHARS[k] for k in kinds[r])
        if kinds[r, V // 2] == 1 and r == V - 1:
            row = row[:V // 2] + "^" + row[V // 2 + 1:]
        rows.append(row)
    return "\n".join(rows) + "\n"


def splitmix_derive(seed, i):
    """base/rng.h's rng_derive, in Python: env i of a batch seeded `seed`."""
    M = (1 << 64) - 1
    s = (seed ^ ((0xD1B54A32D192ED03 * (i + 1)) & M)) & M
    z = (s + 0x9E3779B97F4A7C15) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def run_ref(task, seed, B, actions):
    out = subprocess.run([ARGS.ref, task, str(seed), str(B), str(len(actions))],
                         input=actions.astype("<i4").tobytes(), stdout=subprocess.PIPE,
                         check=True, timeout=120)
    return out.stdout.decode().splitlines()


class ShowMatchesC(unittest.TestCase):
    """reset(seed=N) is the env `cpcrl show TASK --seed N` prints."""

    def check(self, task, seed, flags=(), **kw):
        import cpcrl
        out = subprocess.run([ARGS.cpcrl, "show", task, "--seed", str(seed), *flags],
                             stdout=subprocess.PIPE, check=True, timeout=60).stdout.decode()
        head, rest = out.split("\nmap (agent ^>v<):\n", 1)
        cmap, rest = rest.split("\n\nagent view (agent at bottom centre, facing up; ? unseen):\n", 1)
        cview = rest.split("\n\n", 1)[0]
        env = cpcrl.CpcrlEnv(task, **kw)
        obs, info = env.reset(seed=seed)
        self.assertIn("grid %dx%d, view %d, time limit %d" % (
            env.state()["w"], env.state()["h"], env.view, env.max_steps), head)
        self.assertEqual(env.render_text(), cmap + "\n", "%s seed %d: map" % (task, seed))
        self.assertEqual(obs_text(obs), cview + "\n", "%s seed %d: view" % (task, seed))
        env.close()

    def test_tasks_and_seeds(self):
        import cpcrl
        for task in cpcrl.TASKS:
            for seed in (0, 1, 42, 1099511627781):
                self.check(task, seed)

    def test_non_default_config(self):
        self.check("goal", 7, ("--size", "13", "--view", "9", "--max-steps", "50"),
                   size=13, view=9, max_steps=50)
        self.check("seekavoid", 3, ("--items", "2"), items=2)


class TraceMatchesC(unittest.TestCase):
    """Stepping through the binding equals stepping env/ from C, step by step."""

    def test_single_env(self):
        import numpy as np
        import cpcrl
        rng = np.random.default_rng(19)
        ends = {"terminated": 0, "truncated": 0}
        for task in cpcrl.TASKS:
            seed = 1000 + len(task)
            env = cpcrl.CpcrlEnv(task)
            obs, _ = env.reset(seed=seed)
            lines = ["init %016x %s" % (env.state_hash(), crc(obs))]
            acts = []
            for t in range(600):  # the oracle mostly (episodes end), random now and then
                a = env.oracle_action() if rng.random() < 0.7 else int(rng.integers(4))
                acts.append(a)
                obs, r, term, trunc, info = env.step(a)
                h = env.state_hash()
                nxt = "00000000"
                if term or trunc:
                    ends["terminated" if term else "truncated"] += 1
                    self.assertIn("cpcrl", info)  # the binding's own key, not Gymnasium's
                    self.assertNotIn("episode", info)
                    nobs, _ = env.reset()
                    nxt = crc(nobs)
                    self.assertEqual(env.state_hash(), h, "reset() after an end must not step the rng")
                lines.append("%d %.9g %d %d %016x %s %s" % (t, r, term, trunc, h, crc(obs), nxt))
            ref = run_ref(task, seed, 0, np.array(acts))
            self.assertEqual(len(ref), len(lines))
            for mine, theirs in zip(lines, ref):
                self.assertEqual(mine, theirs, task)
            env.close()
        self.assertGreater(ends["terminated"], 5)  # the comparison covered both kinds of end
        self.assertGreater(ends["truncated"], 2)

    def check_vec(self, task, B, seed, steps):
        import numpy as np
        import cpcrl
        rng = np.random.default_rng(B)
        acts = rng.integers(0, 4, size=(steps, B)).astype(np.int64)
        v = cpcrl.CpcrlVecEnv(task, B, seed)
        obs, _ = v.reset()
        lines = ["init %s" % crc(obs)]
        ended = 0
        for t in range(steps):
            obs, rew, term, trunc, info = v.step(acts[t])
            done = info["_final_obs"]
            ended += int(done.sum())
            lines.append("%d %s %s %s %s %s" % (t, crc(rew), crc(term.view(np.uint8)),
                                                crc(trunc.view(np.uint8)), crc(obs),
                                                crc(info["final_obs"][done])))
        ref = run_ref(task, seed, B, acts)
        self.assertEqual(len(ref), len(lines))
        for mine, theirs in zip(lines, ref):
            self.assertEqual(mine, theirs, "%s B=%d" % (task, B))
        self.assertGreater(ended, 0)
        v.close()

    def test_vec_env(self):
        import cpcrl
        for task in cpcrl.TASKS:
            self.check_vec(task, 16, 5, 250)
        self.check_vec("goal", 256, 123, 120)


class VecEqualsSingles(unittest.TestCase):
    """Env i of a batch seeded S is the single env seeded rng_derive(S, i)."""

    def test_rng_derive(self):
        import cpcrl
        for s, i in ((0, 0), (1, 5), (2**63 + 7, 255), (123456789, 3)):
            self.assertEqual(cpcrl.rng_derive(s, i), splitmix_derive(s, i))

    def test_batch_rows(self):
        import numpy as np
        import cpcrl
        B, S = 6, 77
        v = cpcrl.CpcrlVecEnv("keys_doors", B, S)
        singles = [cpcrl.CpcrlEnv("keys_doors") for _ in range(B)]
        vobs, _ = v.reset()
        for i, e in enumerate(singles):
            o, _ = e.reset(seed=splitmix_derive(S, i))
            np.testing.assert_array_equal(vobs[i], o)
        rng = np.random.default_rng(0)
        for t in range(230):
            a = rng.integers(0, 4, B)
            vobs, vr, vterm, vtrunc, info = v.step(a)
            for i, e in enumerate(singles):
                o, r, term, trunc, _ = e.step(a[i])
                self.assertEqual((r, term, trunc), (vr[i], vterm[i], vtrunc[i]))
                if term or trunc:  # autoreset: obs is the next episode's, final_obs the last
                    np.testing.assert_array_equal(info["final_observation"][i], o)
                    self.assertTrue(info["_final_observation"][i])
                    o, _ = e.reset()
                np.testing.assert_array_equal(vobs[i], o)


class VecAutoresetAndSeeds(unittest.TestCase):
    """Next-step autoreset and per-env seed lists, against single envs (which
    the tests above hold to the C side)."""

    def test_next_step_equals_singles(self):
        import numpy as np
        import cpcrl
        B, S = 5, 31
        for task in ("tmaze", "keys_doors"):
            v = cpcrl.CpcrlVecEnv(task, B, S, autoreset_mode="NextStep")
            self.assertEqual(v.autoreset_mode, "NextStep")
            singles = [cpcrl.CpcrlEnv(task) for _ in range(B)]
            vobs, _ = v.reset()
            for i, e in enumerate(singles):
                np.testing.assert_array_equal(vobs[i], e.reset(seed=splitmix_derive(S, i))[0])
            rng = np.random.default_rng(1)
            pending = [False] * B  # env i ended at the last step
            ends = 0
            for t in range(260):
                a = np.array([e.oracle_action() if rng.random() < 0.6 else int(rng.integers(4))
                              for e in singles])
                vobs, vr, vterm, vtrunc, info = v.step(a)
                self.assertEqual(info, {})
                for i, e in enumerate(singles):
                    if pending[i]:  # not stepped: the next episode's first observation
                        o, _ = e.reset()
                        r, term, trunc = 0.0, False, False
                        pending[i] = False
                    else:
                        o, r, term, trunc, _ = e.step(a[i])
                        pending[i] = term or trunc
                        ends += pending[i]
                    self.assertEqual((r, term, trunc), (vr[i], vterm[i], vtrunc[i]), (task, t, i))
                    np.testing.assert_array_equal(vobs[i], o)
                    self.assertEqual(v.env_hash(i), e.state_hash())
            self.assertGreater(ends, 5)
            vobs, _ = v.reset()  # an env pending is in its next episode already
            for i, e in enumerate(singles):
                np.testing.assert_array_equal(vobs[i], e.reset()[0])
            v.close()

    def test_next_step_reset_keeps_pending_episode(self):
        import numpy as np
        import cpcrl
        v = cpcrl.CpcrlVecEnv("goal", 2, seed=3, max_steps=5, autoreset_mode="NextStep")
        e = [cpcrl.CpcrlEnv("goal", max_steps=5) for _ in range(2)]
        v.reset()
        for i in range(2):
            e[i].reset(seed=splitmix_derive(3, i))
        for t in range(5):  # both end (truncated) at the 5th step
            _, _, _, trunc, _ = v.step([0, 0])
            for x in e:
                x.step(0)
        self.assertTrue(trunc.all())
        obs, _ = v.reset()  # the episodes C started at the end, not the ones after
        for i in range(2):
            np.testing.assert_array_equal(obs[i], e[i].reset()[0])

    def test_seed_lists(self):
        import numpy as np
        import cpcrl
        B = 4
        seeds = [7, 2**64 - 1, 0, 123456789]
        v = cpcrl.CpcrlVecEnv("seekavoid", B)
        obs, _ = v.reset(seed=seeds)  # the first reset
        for i, s in enumerate(seeds):
            np.testing.assert_array_equal(obs[i], cpcrl.CpcrlEnv("seekavoid").reset(seed=s)[0])
        for t in range(30):
            v.step(np.full(B, 2))
        twin = cpcrl.CpcrlVecEnv("seekavoid", B, seed=5)
        twin.reset()
        h1 = twin.env_hash(1)
        obs, _ = v.reset(seed=np.array([9, 9, 9, 9], np.uint64))
        for i in range(B):
            np.testing.assert_array_equal(obs[i], cpcrl.CpcrlEnv("seekavoid").reset(seed=9)[0])
        # None: that env's next episode; the others re-seeded
        single = cpcrl.CpcrlEnv("seekavoid")
        single.reset(seed=9)
        o_next, _ = single.reset()  # its next episode
        obs, _ = v.reset(seed=[None, 1, None, 2])
        for i in (0, 2):
            np.testing.assert_array_equal(obs[i], o_next)
            self.assertEqual(v.env_hash(i), single.state_hash())
        np.testing.assert_array_equal(obs[1], cpcrl.CpcrlEnv("seekavoid").reset(seed=1)[0])
        # a first reset whose list holds None: those envs keep the constructor's seeds
        w = cpcrl.CpcrlVecEnv("seekavoid", B, seed=5)
        w.reset(seed=[None, None, 4, None])
        self.assertEqual(w.env_hash(1), h1)
        for bad, exc, words in (([1, 2, 3], ValueError, "list of 4|got 3"),
                                ([1, 2, 3, -1], ValueError, "seed[3]|got -1"),
                                ([1, 2.5, 3, 4], TypeError, "seed[1]|2.5"),
                                ((1, 2, 3, 2**64), ValueError, "seed[3]")):
            with self.assertRaises(exc, msg=repr(bad)) as cm:
                v.reset(seed=bad)
            for w_ in words.split("|"):
                self.assertIn(w_, str(cm.exception))

    def test_modes_and_np_random(self):
        import numpy as np
        import cpcrl
        self.assertEqual(cpcrl.CpcrlVecEnv("goal", 2).autoreset_mode, "SameStep")
        for ok in ("SameStep", "same_step", "NEXT_STEP", "NextStep"):
            cpcrl.CpcrlVecEnv("goal", 2, autoreset_mode=ok)
        for bad in ("Disabled", "same", 1, None):
            with self.assertRaises(ValueError, msg=repr(bad)):
                cpcrl.CpcrlVecEnv("goal", 2, autoreset_mode=bad)
        tag = cpcrl.CpcrlVecEnv("goal", 2, autoreset_mode="NextStep").metadata["autoreset_mode"]
        self.assertEqual(getattr(tag, "value", tag), "NextStep")
        self.assertEqual(getattr(cpcrl.CpcrlVecEnv.metadata["autoreset_mode"], "value",
                                 cpcrl.CpcrlVecEnv.metadata["autoreset_mode"]), "SameStep")
        a, b = cpcrl.CpcrlVecEnv("goal", 2), cpcrl.CpcrlVecEnv("goal", 2)
        a.reset(seed=11)
        b.reset(seed=11)
        self.assertEqual(a.np_random.integers(1 << 30), b.np_random.integers(1 << 30))
        # no seed anywhere: one is drawn from np_random, so seeding np_random fixes it
        c, d = cpcrl.CpcrlVecEnv("goal", 2), cpcrl.CpcrlVecEnv("goal", 2)
        c.np_random, d.np_random = np.random.default_rng(4), np.random.default_rng(4)
        c.reset()
        d.reset()
        self.assertEqual(c.env_hash(1), d.env_hash(1))
        self.assertFalse(c.closed)
        c.close()
        self.assertTrue(c.closed)

    def test_vector_entry_point_time_limit(self):
        from cpcrl.vector import make_vector_env
        self.assertEqual(make_vector_env(2, "goal").max_steps, 100)
        self.assertEqual(make_vector_env(2, "goal", max_episode_steps=100).max_steps, 100)
        self.assertEqual(make_vector_env(2, "goal", max_episode_steps=30).max_steps, 30)
        self.assertEqual(make_vector_env(2, "goal", max_episode_steps=500).max_steps, 100)
        self.assertEqual(make_vector_env(2, "goal", 100, max_steps=40).max_steps, 40)
        with self.assertRaises(ValueError):
            make_vector_env(2, "goal", max_episode_steps=0)


class VecCallAttrs(unittest.TestCase):
    """call / get_attr / set_attr / render reach the single envs of a batch."""

    def test_call_get_set(self):
        import numpy as np
        import cpcrl
        B, S = 3, 8
        v = cpcrl.CpcrlVecEnv("keys_doors", B, S)
        with self.assertRaises(RuntimeError):
            v.call("oracle_action")
        self.assertEqual(v.get_attr("task"), ("keys_doors",) * B)  # config: no reset needed
        v.reset()
        singles = [cpcrl.CpcrlEnv("keys_doors") for _ in range(B)]
        for i, e in enumerate(singles):
            e.reset(seed=splitmix_derive(S, i))
        self.assertEqual(v.call("oracle_action"), tuple(e.oracle_action() for e in singles))
        self.assertEqual(v.call("state_hash"), tuple(v.env_hash(i) for i in range(B)))
        self.assertEqual(v.call("state"), tuple(e.state() for e in singles))
        self.assertEqual(v.get_attr("render_text"), tuple(e.render_text() for e in singles))
        self.assertEqual(v.get_attr("max_steps"), (100,) * B)
        self.assertIs(v.get_attr("observation_space")[0], v.single_observation_space)
        v.set_attr("level", [1, 2, 3])
        self.assertEqual(v.get_attr("level"), (1, 2, 3))
        v.set_attr("level", 7)
        self.assertEqual(v.get_attr("level"), (7, 7, 7))
        v.set_attr("scale", lambda x: 2 * x)
        self.assertEqual(v.call("scale", 4), (8, 8, 8))
        for name in ("max_steps", "task", "render", "oracle_action", "observation_space"):
            with self.assertRaises(AttributeError, msg=name):
                v.set_attr(name, 1)
        with self.assertRaises(AttributeError):
            v.get_attr("no_such_thing")
        with self.assertRaises(ValueError):
            v.set_attr("level", [1, 2])
        with self.assertRaises(TypeError):
            v.call("oracle_action", 1)
        c = __import__("copy").deepcopy(v)
        c.set_attr("level", 0)
        self.assertEqual(v.get_attr("level"), (7, 7, 7))  # the copy's own
        v.close()
        with self.assertRaises(RuntimeError):
            v.call("render")
        self.assertEqual(v.get_attr("task"), ("keys_doors",) * B)

    def test_render(self):
        import numpy as np
        import cpcrl
        v = cpcrl.CpcrlVecEnv("goal", 3, seed=2, tile=4)
        v.reset()
        frames = v.render()  # Gymnasium's VectorEnv.render: one frame per env
        self.assertEqual(len(frames), 3)
        for i, f in enumerate(frames):
            np.testing.assert_array_equal(f, v.render(i))
            self.assertEqual(f.shape, (36, 36, 3))
        self.assertEqual(v.render(1, tile=2).shape, (18, 18, 3))
        t = cpcrl.CpcrlVecEnv("goal", 2, seed=2, render_mode="ansi")
        t.reset()
        self.assertEqual(t.render(), (t.render_text(0), t.render_text(1)))
        with self.assertRaises(ValueError):
            cpcrl.CpcrlVecEnv("goal", 2, render_mode="human")

    def test_render_outlines_a_hidden_target(self):
        """rgb frames outline the target the agent cannot see (watermaze's platform, tmaze's
        rewarded arm) as the viewer does, and nothing on tasks whose goal is a visible cell."""
        import numpy as np
        import cpcrl
        from cpcrl import _lib
        from cpcrl.env import env_state, PALETTE
        target = np.array((120, 255, 150), dtype=np.uint8)
        self.assertEqual([t for t, h in zip(_lib.TASKS, _lib.GOAL_HIDDEN) if h], ["watermaze", "tmaze"])
        t = 8
        for task in _lib.TASKS:
            for seed in (1, 2, 3):
                env = cpcrl.CpcrlEnv(task, render_mode="rgb_array", tile=t)
                env.reset(seed=seed)
                img = env.render()
                s = env_state(env._e)
                is_target = np.all(img == target, axis=2)
                if task not in ("watermaze", "tmaze"):
                    self.assertFalse(is_target.any(), "%s seed %d" % (task, seed))
                    continue
                tile = img[s["ty"] * t:(s["ty"] + 1) * t, s["tx"] * t:(s["tx"] + 1) * t]
                ring = np.ones((t, t), dtype=bool)
                ring[1:t - 1, 1:t - 1] = False
                self.assertTrue(np.all(tile[ring] == target), "%s seed %d: outline" % (task, seed))
                self.assertEqual(int(is_target.sum()), int(ring.sum()), "%s seed %d: elsewhere" % (task, seed))
                if (s["ax"], s["ay"]) != (s["tx"], s["ty"]):  # inside the ring: the cell's own colour
                    self.assertTrue(np.all(tile[1:t - 1, 1:t - 1] == tile[1, 1]), "%s seed %d" % (task, seed))
                    self.assertTrue(any(np.array_equal(tile[1, 1], c) for c in PALETTE), "%s seed %d" % (task, seed))


class Api(unittest.TestCase):
    def test_spaces_and_checks(self):
        import numpy as np
        import cpcrl
        env = cpcrl.CpcrlEnv("tmaze")
        self.assertEqual(env.observation_space.shape, (14, 7, 7))
        self.assertEqual(env.observation_space.dtype, np.uint8)
        self.assertEqual(env.action_space.n, 4)
        with self.assertRaises(RuntimeError):
            env.step(0)
        obs, info = env.reset(seed=3)
        self.assertTrue(env.observation_space.contains(obs))
        self.assertTrue(env.action_space.contains(env.action_space.sample()))
        with self.assertRaises(ValueError):
            env.step(4)
        o2, _ = env.reset(seed=3)
        np.testing.assert_array_equal(obs, o2)
        o3, *_ = env.step(np.int64(2))
        self.assertFalse(np.shares_memory(o2, o3))  # single-env observations are the caller's
        with self.assertRaises(ValueError):
            cpcrl.CpcrlEnv("maze")
        with self.assertRaises(ValueError):
            cpcrl.CpcrlEnv("goal", view=4)  # env_config_check's message

    def test_render_matches_map(self):
        import numpy as np
        import cpcrl
        env = cpcrl.CpcrlEnv("keys_doors", tile=8)
        env.reset(seed=11)
        img, text = env.render(), env.render_text().splitlines()
        self.assertEqual(img.dtype, np.uint8)
        self.assertEqual(img.shape, (8 * len(text), 8 * len(text[0]), 3))
        for y, row in enumerate(text):
            for x, ch in enumerate(row):
                if ch in "^>v<":
                    continue
                px = img[y * 8, x * 8]  # a tile's corner is the cell's colour
                np.testing.assert_array_equal(px, cpcrl.PALETTE[KIND_CHARS.index(ch)], (x, y, ch))
        ansi = cpcrl.CpcrlEnv("goal", render_mode="ansi")
        ansi.reset(seed=1)
        self.assertEqual(ansi.render(), ansi.render_text())

    def test_vec_buffers_and_errors(self):
        import numpy as np
        import cpcrl
        v = cpcrl.CpcrlVecEnv("seekavoid", 8, seed=1)
        obs, _ = v.reset()
        h = [v.env_hash(i) for i in range(8)]
        with self.assertRaises(ValueError):
            v.step(np.array([0, 1, 2, 3, 4, 0, 0, 0]))
        self.assertEqual(h, [v.env_hash(i) for i in range(8)])  # nothing was stepped
        with self.assertRaises(TypeError):
            v.step(np.zeros(8, np.float32))
        out = v.step(np.zeros(8, np.int64))
        out2 = v.step([1] * 8)
        for a, b in zip(out[:4], out2[:4]):
            self.assertIs(a, b)  # written in place: no per-step copy
        self.assertIsNot(out[4], out2[4])  # a new info dict, holding the same arrays
        self.assertIs(out[4]["final_obs"], out2[4]["final_obs"])
        self.assertIs(out[0], obs)
        self.assertEqual(out[1].dtype, np.float32)
        self.assertEqual(out[2].dtype, np.bool_)
        self.assertEqual(v.observation_space.shape, (8, 14, 7, 7))
        self.assertEqual(v.single_action_space.n, 4)
        self.assertEqual(v.render(2, tile=4).shape, (36, 36, 3))
        v.reset(seed=1)
        self.assertEqual(h, [v.env_hash(i) for i in range(8)])  # re-seeding restarts the batch
        v.close()


# ---------------------------------------------------------------------------
# Misuse that used to crash the interpreter (NULL or freed C pointers, double
# frees). Each case runs in a child python3, so a crash fails its test with
# the signal's name instead of ending the whole run.

CHILD_PRELUDE = r'''
import copy, gc, pickle, sys, threading, time
import numpy as np
import cpcrl

def expect(exc, words, fn, *args, **kw):
    """fn(*args, **kw) must raise exc whose message holds each |-separated word."""
    try:
        fn(*args, **kw)
    except exc as e:
        for w in words.split("|"):
            assert w in str(e), "%s(%r) lacks %r" % (exc.__name__, str(e), w)
        return
    raise AssertionError("%s%r raised no %s" % (getattr(fn, "__name__", fn), args, exc.__name__))
'''


def run_child(test, code):
    path = [os.path.join(ROOT, "python")] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))  # CPCRL_LIB: set by main
    r = subprocess.run([sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code)
                        + "\nprint('child ok')\n"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = r.stdout.decode(errors="replace")
    if r.returncode < 0:
        test.fail("the child crashed (%s):\n%s" % (signal.Signals(-r.returncode).name, out))
    test.assertEqual(r.returncode, 0, out)
    test.assertIn("child ok", out)


class Lifecycle(unittest.TestCase):
    """Before reset() and after close(): RuntimeError saying which, never a crash."""

    def test_single_env(self):
        run_child(self, """
            env = cpcrl.CpcrlEnv("goal")
            calls = [(m, ()) for m in ("state", "state_hash", "oracle_action", "render_text",
                                       "render")] + [("step", (0,))]
            for m, args in calls:
                expect(RuntimeError, "reset() before " + m, getattr(env, m), *args)
            env.reset(seed=1)
            env.step(2)
            env.close()
            for m, args in calls:
                expect(RuntimeError, m + "() on a closed env", getattr(env, m), *args)
            expect(RuntimeError, "closed", env.reset)           # not silently re-created
            expect(RuntimeError, "closed", env.reset, seed=1)
            env.close()                                         # twice is fine
            never = cpcrl.CpcrlEnv("goal", render_mode="ansi")  # closed before any reset
            never.close()
            expect(RuntimeError, "closed", never.render)
            expect(RuntimeError, "closed", never.reset)
        """)

    def test_vec_env(self):
        run_child(self, """
            v = cpcrl.CpcrlVecEnv("goal", 4, seed=1)
            calls = [("log_take", ()), ("env_hash", (0,)), ("render", (0,)), ("render_text", (0,)),
                     ("step", ([0, 1, 2, 3],))]
            for m, args in calls:
                expect(RuntimeError, "reset() before " + m, getattr(v, m), *args)
            v.reset()
            v.step([0, 1, 2, 3])
            v.log_take()
            v.close()
            for m, args in calls:
                expect(RuntimeError, m + "() on a closed vector env", getattr(v, m), *args)
            expect(RuntimeError, "closed", v.reset)
            expect(RuntimeError, "closed", v.reset, seed=2)
            v.close()
        """)

    def test_close_while_another_thread_steps(self):
        run_child(self, """
            for trial in range(40):
                vec = trial % 2 == 0
                if vec:
                    e = cpcrl.CpcrlVecEnv("goal", 256, seed=trial)
                    e.reset()
                    act, peek = np.full(256, 2, np.int64), lambda: e.env_hash(255)
                else:
                    e = cpcrl.CpcrlEnv("seekavoid")
                    e.reset(seed=trial)
                    act, peek = 2, e.state_hash
                errors, stepping = [], threading.Event()

                def work():
                    try:
                        while True:
                            e.step(act)
                            stepping.set()
                            peek()
                    except RuntimeError as err:
                        errors.append(str(err))

                th = threading.Thread(target=work)
                th.start()
                assert stepping.wait(30)
                time.sleep(0.0005 * (trial % 7))
                e.close()
                th.join(30)
                assert not th.is_alive(), "the stepping thread did not stop"
                assert len(errors) == 1 and "closed" in errors[0], errors
        """)


class Tampering(unittest.TestCase):
    """Attributes the C side depends on cannot be changed under it: replacing
    a buffer C writes in place, num_envs, a bad tile, or __init__ again on a
    live env is refused or handled, never a crash or a leak."""

    def test_vec_buffers_and_num_envs(self):
        run_child(self, """
            v = cpcrl.CpcrlVecEnv("goal", 4, seed=0)
            v.reset()
            for name in ("observations", "final_observations", "rewards", "terminations",
                         "truncations", "dones"):
                before = getattr(v, name)
                expect(AttributeError, name + "|cannot be replaced", setattr, v, name,
                       before.copy())
                expect(AttributeError, name, setattr, v, name, None)
                expect(AttributeError, name, delattr, v, name)
                assert getattr(v, name) is before
            expect(AttributeError, "num_envs is fixed", setattr, v, "num_envs", 5)
            assert v.num_envs == 4
            expect(IndexError, "env 4 of 4", v.render, 4)
            expect(IndexError, "env 4 of 4", v.render_text, 4)
            for _ in range(50):  # the step still writes the arrays the attributes give
                obs, r, te, tr, info = v.step([2, 2, 2, 2])
                assert obs is v.observations and r is v.rewards
            w = copy.deepcopy(v)  # the copy gets its own buffers
            assert w.observations is not v.observations
            assert (w.observations == v.observations).all()
            w.step([0, 0, 0, 0])
            v.close(); w.close()
        """)

    def test_tile_checked_when_set(self):
        run_child(self, """
            for e in (cpcrl.CpcrlEnv("goal"), cpcrl.CpcrlVecEnv("goal", 2, seed=0)):
                e.reset(seed=1) if isinstance(e, cpcrl.CpcrlEnv) else e.reset()
                for bad in (0, -1, 2000, 1.5, "8", None):
                    expect((ValueError, TypeError), "tile", setattr, e, "tile", bad)
                assert e.tile == 16
                e.tile = 4
                img = e.render() if isinstance(e, cpcrl.CpcrlEnv) else e.render(0)
                assert img.shape[2] == 3 and img.shape[0] % 4 == 0 and img.shape[0] > 0
                e.close()
        """)

    def test_init_again_frees_the_c_env(self):
        run_child(self, """
            import resource
            def rss_mb():
                return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            v = cpcrl.CpcrlVecEnv("goal", 64, seed=0)
            e = cpcrl.CpcrlEnv("goal")
            for i in range(300):  # warm-up: the allocator's pools settle
                v.__init__("goal", 64, seed=i); v.reset()
                e.__init__("goal"); e.reset(seed=i)
            before = rss_mb()
            for i in range(3000):
                v.__init__("goal", 64, seed=i); v.reset()
                e.__init__("goal"); e.reset(seed=i)
            grown = rss_mb() - before
            assert grown < 40, "re-running __init__ 3000 times grew the peak RSS by %.0f MB" % grown
            v.step([2] * 64); e.step(2)
            v.close(); e.close()
        """)


class LibraryVersion(unittest.TestCase):
    """A CPCRL_LIB that is not this package's library is an ImportError at
    import naming the file (not OSError, AttributeError or a crash)."""

    def stand_in(self, tmp, name, c_source):
        """tmp/lib<name>.so built from c_source (skips without a C compiler)."""
        cc = shutil.which("cc")
        if cc is None:
            self.skipTest("no C compiler (cc) to build a stand-in library")
        src, so = os.path.join(tmp, name + ".c"), os.path.join(tmp, "lib%s.so" % name)
        with open(src, "w") as f:
            f.write(c_source)
        subprocess.run([cc, "-shared", "-fPIC", "-o", so, src], check=True, timeout=60)
        return so

    def import_with(self, lib):
        """`import cpcrl` in a child with CPCRL_LIB=lib: it must fail; its output."""
        env = dict(os.environ, CPCRL_LIB=lib, PYTHONPATH=os.path.join(ROOT, "python"))
        r = subprocess.run([sys.executable, "-c", "import cpcrl"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode()
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn("ImportError: cpcrl: ", out)
        self.assertIn(lib, out)
        return out

    def test_not_a_cpcrl_library_is_an_import_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            junk = os.path.join(tmp, "junk.so")
            with open(junk, "w") as f:
                f.write("not a library\n")
            self.assertIn("cannot load", self.import_with(junk))
            other = self.stand_in(tmp, "other", "int other(void) { return 1; }\n")
            self.assertIn("is not cpcrl's C library", self.import_with(other))

    def test_other_capi_version_is_an_import_error(self):
        """A libcpcrl_env.so of another C API version (a stale build) is
        refused at import, naming both versions, before any symbol is looked up."""
        import cpcrl
        v = cpcrl._lib.CAPI_VERSION
        with tempfile.TemporaryDirectory() as tmp:
            old = self.stand_in(tmp, "old", "int cpcrl_capi_version(void) { return %d; }\n" % (v - 1))
            self.assertIn("has C API version %d, this package expects %d" % (v - 1, v),
                          self.import_with(old))


class Copies(unittest.TestCase):
    """copy.copy / copy.deepcopy clone the C state: the copy goes on exactly as
    the original would, and freeing one leaves the other intact."""

    def test_single_env(self):
        run_child(self, """
            acts = np.random.default_rng(0).integers(0, 4, 420)
            env, twin = cpcrl.CpcrlEnv("keys_doors"), cpcrl.CpcrlEnv("keys_doors")
            env.reset(seed=5)
            twin.reset(seed=5)
            for a in acts[:20]:
                env.step(a)
                twin.step(a)
            c, d = copy.copy(env), copy.deepcopy(env)
            assert c.state_hash() == d.state_hash() == env.state_hash()
            assert c._e != env._e and d._e != env._e
            def run(e):
                out = []
                for a in acts[20:]:
                    o, r, term, trunc, info = e.step(a)
                    out.append((o.tobytes(), r, term, trunc, info, e.state_hash()))
                return out
            future = run(c)
            assert run(d) == future
            assert env.state_hash() == twin.state_hash()  # the copies stepped alone
            del c, d
            gc.collect()  # their C envs are freed; the original's must live on
            assert run(env) == future
            assert run(twin) == future  # the untouched twin agrees
            fresh = copy.copy(cpcrl.CpcrlEnv("goal"))     # not reset yet: copies as such
            expect(RuntimeError, "reset() before", fresh.state)
            fresh.reset(seed=1)
            env.close()
            shut = copy.deepcopy(env)                      # closed: copies as closed
            expect(RuntimeError, "closed", shut.step, 0)
        """)

    def test_vec_env(self):
        run_child(self, """
            B = 128  # envs array > 128 KiB: freed with munmap, so a use after free faults
            acts = np.random.default_rng(1).integers(0, 4, (160, B))
            v = cpcrl.CpcrlVecEnv("goal", B, seed=3)
            v.reset()
            for a in acts[:10]:
                v.step(a)
            c = copy.copy(v)
            assert not np.shares_memory(c.observations, v.observations)
            np.testing.assert_array_equal(c.observations, v.observations)
            def run(e):
                out = []
                for a in acts[10:]:
                    o, r, term, trunc, info = e.step(a)
                    out.append([x.tobytes() for x in (o, r, term, trunc,
                                                      info["final_obs"][info["_final_obs"]])])
                return out, e.log_take()
            future = run(c)
            c.close()  # frees the copy's envs only (they were the original's: a double free)
            assert run(v) == future
            d = copy.deepcopy(v)
            v.close()
            d.step(acts[0])  # the deep copy outlives the original
            d.close()
            expect(RuntimeError, "closed", copy.copy(v).step, acts[0])
        """)

    def test_pickle_refused(self):
        run_child(self, """
            for obj in (cpcrl.CpcrlEnv("goal"), cpcrl.CpcrlVecEnv("goal", 2, seed=1)):
                for started in (False, True):
                    if started:
                        obj.reset()
                    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
                        expect(TypeError, "cannot be pickled|functools.partial", pickle.dumps,
                               obj, proto)
        """)


class InfoDicts(unittest.TestCase):
    """The episode's stats under the binding's own key, a new dict per step:
    Gymnasium's RecordEpisodeStatistics and SB3's Monitor own info["episode"]."""

    def test_single_env(self):
        import cpcrl
        env = cpcrl.CpcrlEnv("goal")
        env.reset(seed=2)
        infos, ret = [], 0.0
        for t in range(1000):
            obs, r, term, trunc, info = env.step(env.oracle_action())
            infos.append(info)
            ret += r
            if term or trunc:
                break
        self.assertTrue(term or trunc)
        self.assertNotIn("episode", info)
        self.assertEqual(sorted(info["cpcrl"]), ["l", "r", "success"])
        self.assertEqual(info["cpcrl"]["l"], len(infos))
        self.assertAlmostEqual(info["cpcrl"]["r"], ret, places=5)
        self.assertEqual(info["cpcrl"]["success"], 1.0)  # the oracle reaches the goal
        self.assertEqual(len({id(i) for i in infos}), len(infos))
        for i in infos[:-1]:
            self.assertEqual(i, {})

    def test_vec_env(self):
        import numpy as np
        import cpcrl
        v = cpcrl.CpcrlVecEnv("goal", 4, seed=2)
        v.reset()
        first = v.step(np.zeros(4, np.int64))[4]
        first["episode"] = "a wrapper's key"  # what RecordEpisodeStatistics would add
        second = v.step(np.zeros(4, np.int64))[4]
        self.assertIsNot(first, second)
        self.assertNotIn("episode", second)
        self.assertEqual(sorted(second), ["_final_obs", "_final_observation", "final_obs",
                                          "final_observation"])


class Inputs(unittest.TestCase):
    """What is not a valid action, seed or config value is refused (TypeError
    or ValueError naming it) before it reaches a C int, and nothing steps."""

    def test_single_actions(self):
        import numpy as np
        import cpcrl
        env = cpcrl.CpcrlEnv("goal")
        env.reset(seed=4)
        h = env.state_hash()
        for bad in (2**32 + 2, 2**64, 2**70, -1, 4, np.int64(2**40), np.uint64(2**63 + 2),
                    np.int8(-3)):
            with self.assertRaises(ValueError, msg=repr(bad)) as cm:
                env.step(bad)
            self.assertIn(str(int(bad)), str(cm.exception))
        for bad in (2.7, -0.5, 2.0, "2", b"3", None, True, np.float32(1), np.array([1]),
                    np.array(1.0), [1], np.bool_(True)):
            with self.assertRaises(TypeError, msg=repr(bad)):
                env.step(bad)
        self.assertEqual(env.state_hash(), h)  # nothing was stepped
        for good in (0, np.int64(3), np.uint8(1), np.array(2), np.intc(2)):
            env.step(good)
        self.assertTrue(env.action_space.contains(np.int64(3)))

    def test_vec_actions(self):
        import numpy as np
        import cpcrl
        B = 6
        v = cpcrl.CpcrlVecEnv("seekavoid", B, seed=9)
        v.reset()
        h = [v.env_hash(i) for i in range(B)]
        value_errors = {  # bad value or shape -> what the message must hold
            "2**32+2": ([0] * 5 + [2**32 + 2], "actions[5] = 4294967298"),
            "int64 out of range": (np.full(B, 2**40, np.int64), "actions[0] = 1099511627776"),
            "uint64 >= 2**63": (np.full(B, 2**63 + 2, np.uint64), "9223372036854775810"),
            "negative": (np.array([0, 1, -1, 0, 0, 0]), "actions[2] = -1"),
            "scalar": (2, "shape (6,)"),
            "0-d array": (np.int64(2), "got shape ()"),
            "too long": (np.zeros(B + 1, np.int64), "got shape (7,)"),
            "column": (np.zeros((B, 1), np.int64), "got shape (6, 1)"),
            "row": (np.zeros((1, B), np.int64), "got shape (1, 6)"),
        }
        for what, (bad, words) in value_errors.items():
            with self.assertRaises(ValueError, msg=what) as cm:
                v.step(bad)
            self.assertIn(words, str(cm.exception), what)
        for what, bad in {"float": np.zeros(B, np.float32), "floats": [2.7] * B,
                          "strings": ["2"] * B, "bytes": [b"3"] * B,
                          "bools": np.ones(B, np.bool_), "2**64": [2**64] * B}.items():
            with self.assertRaises(TypeError, msg=what):
                v.step(bad)
        self.assertEqual(h, [v.env_hash(i) for i in range(B)])  # nothing was stepped
        for good in (np.zeros(B, np.int8), np.full(B, 3, np.uint64),
                     np.arange(B, dtype=np.intc) % 4, [1] * B, (0, 1, 2, 3, 0, 1)):
            v.step(good)

    def test_seeds(self):
        import numpy as np
        import cpcrl
        env = cpcrl.CpcrlEnv("goal")
        for bad, exc in ((2**70, ValueError), (2**64, ValueError), (-1, ValueError),
                         (1.5, TypeError), ("3", TypeError), (True, TypeError)):
            with self.assertRaises(exc, msg=repr(bad)) as cm:
                env.reset(seed=bad)
            if exc is ValueError:
                self.assertIn(str(bad), str(cm.exception))
        o1, _ = env.reset(seed=2**64 - 1)  # the largest seed, as the C env's uint64_t
        o2, _ = cpcrl.CpcrlEnv("goal").reset(seed=np.uint64(2**64 - 1))
        np.testing.assert_array_equal(o1, o2)
        v = cpcrl.CpcrlVecEnv("goal", 2, seed=1)
        for bad in (-1, 2**64, 2**70):
            with self.assertRaises(ValueError, msg=repr(bad)):
                v.reset(seed=bad)
        with self.assertRaises(TypeError):
            v.reset(seed=0.5)
        for bad in (-1, 2**64):
            with self.assertRaises(ValueError):
                cpcrl.CpcrlVecEnv("goal", 2, seed=bad)
        with self.assertRaises(ValueError):
            cpcrl.rng_derive(-1, 0)
        v.reset(seed=2**64 - 1)
        self.assertEqual(cpcrl.rng_derive(2**64 - 1, 1), splitmix_derive(2**64 - 1, 1))

    def test_config(self):
        import cpcrl
        cases = [  # (constructor, kwargs, exception, words of the message)
            (cpcrl.CpcrlVecEnv, dict(num_envs=2.5), TypeError, "num_envs|2.5"),
            (cpcrl.CpcrlVecEnv, dict(num_envs=0), ValueError, "num_envs|got 0"),
            (cpcrl.CpcrlVecEnv, dict(num_envs=2**40), ValueError, "num_envs|1099511627776"),
            (cpcrl.CpcrlEnv, dict(size=2**40), ValueError, "size|1099511627776"),
            (cpcrl.CpcrlEnv, dict(size=7.9), TypeError, "size|7.9"),
            (cpcrl.CpcrlEnv, dict(size=43), ValueError, "size|got 43"),  # the C check's range
            (cpcrl.CpcrlEnv, dict(max_steps=10**12), ValueError, "max_steps|1000000000000"),
            (cpcrl.CpcrlVecEnv, dict(max_steps=10**12), ValueError, "max_steps|1000000000000"),
            (cpcrl.CpcrlEnv, dict(max_steps=-3), ValueError, "max_steps|got -3"),
            (cpcrl.CpcrlEnv, dict(view="7"), TypeError, "view|'7'"),
            (cpcrl.CpcrlEnv, dict(items=None), TypeError, "items|None"),
            (cpcrl.CpcrlEnv, dict(tile=0), ValueError, "tile|got 0"),
            (cpcrl.CpcrlEnv, dict(tile=2.5), TypeError, "tile|2.5"),
            (cpcrl.CpcrlEnv, dict(render_mode="human"), ValueError, "render_mode|human"),
            (cpcrl.CpcrlEnv, dict(task=9), ValueError, "task|got 9"),
            (cpcrl.CpcrlEnv, dict(task=1.0), TypeError, "task|1.0"),
        ]
        for make, kw, exc, words in cases:
            with self.assertRaises(exc, msg=repr(kw)) as cm:
                make(**kw)
            for w in words.split("|"):
                self.assertIn(w, str(cm.exception), kw)
        v = cpcrl.CpcrlVecEnv("goal", 2, seed=1)
        v.reset()
        with self.assertRaises(ValueError):
            v.render(0, tile=0)
        with self.assertRaises(IndexError):
            v.env_hash(2)
        with self.assertRaises(TypeError):
            v.env_hash(1.5)


class Typing(unittest.TestCase):
    def test_public_api_is_annotated(self):
        import inspect
        import typing
        import cpcrl
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(cpcrl.__file__), "py.typed")))
        from cpcrl.vector import make_vector_env
        fns = [cpcrl.make, cpcrl.make_vec, cpcrl.rng_derive, make_vector_env]
        for cls in (cpcrl.CpcrlEnv, cpcrl.CpcrlVecEnv):
            fns += [getattr(cls, m) for m in vars(cls)
                    if not m.startswith("_") and callable(getattr(cls, m))] + [cls.__init__]
        for f in fns:
            hints = typing.get_type_hints(f)  # every annotation resolves
            self.assertIn("return", hints, f.__qualname__)
            params = [p for p in inspect.signature(f).parameters if p != "self"]
            self.assertEqual(sorted(params), sorted(set(hints) - {"return"}), f.__qualname__)


class Gymnasium(unittest.TestCase):
    def test_check_env(self):
        import cpcrl
        if not cpcrl.HAVE_GYMNASIUM:
            self.skipTest("gymnasium is not importable: check_env not run")
        import warnings
        import gymnasium
        from gymnasium.utils.env_checker import check_env
        for task in cpcrl.TASKS:
            env = gymnasium.make("cpcrl/%s-v0" % task, render_mode="rgb_array")
            self.assertIsInstance(env.unwrapped, cpcrl.CpcrlEnv)
            self.assertIsInstance(env.unwrapped, gymnasium.Env)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a checker warning fails the test
                check_env(env.unwrapped)
            env.close()


    def test_time_limit_and_episode_key(self):
        """spec.max_episode_steps is the C env's time limit, and Gymnasium's
        RecordEpisodeStatistics (which owns info["episode"]) wraps the env."""
        import cpcrl
        if not cpcrl.HAVE_GYMNASIUM:
            self.skipTest("gymnasium is not importable: registration not checked")
        import gymnasium
        from gymnasium.wrappers import RecordEpisodeStatistics
        for task in cpcrl.TASKS:
            limit = cpcrl.CpcrlEnv(task).max_steps
            self.assertEqual(gymnasium.spec("cpcrl/%s-v0" % task).max_episode_steps, limit)
            self.assertEqual(gymnasium.make("cpcrl/%s-v0" % task).spec.max_episode_steps, limit)
        env = RecordEpisodeStatistics(gymnasium.make("cpcrl/seekavoid-v0"))
        env.reset(seed=3)
        for t in range(1, 1000):
            _, _, term, trunc, info = env.step(env.unwrapped.oracle_action())
            if term or trunc:
                break
        self.assertEqual(info["episode"]["l"], t)           # Gymnasium's
        self.assertEqual(info["cpcrl"]["l"], t)             # the binding's
        self.assertAlmostEqual(float(info["episode"]["r"]), info["cpcrl"]["r"], places=4)
        env.close()


def gymnasium_or_skip(test, need_1x=False):
    """gymnasium and its major version, or skip the test saying why."""
    import cpcrl
    if not cpcrl.HAVE_GYMNASIUM:
        test.skipTest("gymnasium is not importable")
    import gymnasium
    major = int(gymnasium.__version__.split(".")[0])
    if need_1x and major < 1:
        test.skipTest("gymnasium %s: this is Gymnasium 1.x's vector API" % gymnasium.__version__)
    return gymnasium, major


class GymnasiumVector(unittest.TestCase):
    """CpcrlVecEnv as a gymnasium.vector.VectorEnv: make_vec, Gymnasium's own
    SyncVectorEnv over CpcrlEnv giving the same batches, its vector wrappers."""

    def test_is_a_vector_env(self):
        gymnasium, major = gymnasium_or_skip(self)
        import cpcrl
        v = cpcrl.CpcrlVecEnv("goal", 3, seed=1)
        self.assertIsInstance(v, gymnasium.vector.VectorEnv)
        mode = getattr(gymnasium.vector, "AutoresetMode", None)
        if mode is not None:  # 1.1+
            self.assertIs(v.metadata["autoreset_mode"], mode.SAME_STEP)
            n = cpcrl.CpcrlVecEnv("goal", 3, autoreset_mode=mode.NEXT_STEP)
            self.assertIs(n.metadata["autoreset_mode"], mode.NEXT_STEP)
        else:
            self.assertEqual(v.metadata["autoreset_mode"], "SameStep")
        v.reset(seed=[1, 2, 3])
        self.assertFalse(v.closed)
        v.close()
        self.assertTrue(v.closed)

    def test_make_vec(self):
        gymnasium, _ = gymnasium_or_skip(self, need_1x=True)
        import warnings
        import numpy as np
        import cpcrl
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. 1.1+'s "autoreset_mode is not an AutoresetMode"
            v = gymnasium.make_vec("cpcrl/goal-v0", 4, vectorization_mode="vector_entry_point")
        self.assertIsInstance(v, cpcrl.CpcrlVecEnv)
        self.assertEqual((v.num_envs, v.task, v.max_steps), (4, "goal", 100))
        self.assertEqual(v.spec.id, "cpcrl/goal-v0")
        obs, _ = v.reset(seed=[1, 2, 3, 4])
        for i in range(4):
            np.testing.assert_array_equal(obs[i], cpcrl.CpcrlEnv("goal").reset(seed=i + 1)[0])
        v.close()
        w = gymnasium.make_vec("cpcrl/tmaze-v0", 2, vectorization_mode="vector_entry_point",
                               max_episode_steps=20, autoreset_mode="NextStep", view=5)
        self.assertEqual((w.max_steps, w.view, w.autoreset_mode), (20, 5, "NextStep"))

    def check_same_batches(self, gymnasium, mode, steps=300):
        """Gymnasium's SyncVectorEnv over CpcrlEnvs seeded S+i, and
        CpcrlVecEnv reset(seed=[S+i, ...]), give the same batches."""
        import numpy as np
        B, S = 4, 40
        kw = dict(max_episode_steps=1000)  # Gymnasium's TimeLimit out of the way: C's own is 100
        vk = {} if mode == "NextStep" else {"autoreset_mode": gymnasium.vector.AutoresetMode(mode)}
        sync = gymnasium.make_vec("cpcrl/tmaze-v0", B, vectorization_mode="sync",
                                  vector_kwargs=vk, **kw)
        ours = gymnasium.make_vec("cpcrl/tmaze-v0", B, vectorization_mode="vector_entry_point",
                                  autoreset_mode=mode, **kw)
        o1, _ = sync.reset(seed=S)
        o2, _ = ours.reset(seed=[S + i for i in range(B)])
        np.testing.assert_array_equal(o1, o2)
        rng = np.random.default_rng(0)
        ends = 0
        for t in range(steps):
            a = np.array(ours.call("oracle_action")) if rng.random() < 0.8 else rng.integers(0, 4, B)
            a1 = sync.step(a)
            a2 = ours.step(a)
            for x, y in zip(a1[:4], a2[:4]):
                np.testing.assert_array_equal(x, y, "%s step %d" % (mode, t))
            done = a1[2] | a1[3]
            ends += int(done.sum())
            if mode == "SameStep" and done.any():
                np.testing.assert_array_equal(np.stack(a1[4]["final_obs"][done]),
                                              a2[4]["final_obs"][done])
        self.assertGreater(ends, 4)

    def test_sync_vector_env_gives_the_same_batches(self):
        gymnasium, _ = gymnasium_or_skip(self, need_1x=True)
        self.check_same_batches(gymnasium, "NextStep")  # SyncVectorEnv's own mode
        if not hasattr(gymnasium.vector, "AutoresetMode"):
            self.skipTest("gymnasium %s: SyncVectorEnv has no same-step mode (1.1+)"
                          % gymnasium.__version__)
        self.check_same_batches(gymnasium, "SameStep")

    def test_record_episode_statistics(self):
        """Gymnasium's episode stats over the vector env equal the binding's
        (each env's episodes as the single env reports them)."""
        gymnasium, major = gymnasium_or_skip(self)
        import numpy as np
        import cpcrl
        B, S = 4, 9
        if major >= 1:
            from gymnasium.wrappers.vector import RecordEpisodeStatistics
            mode = "NextStep"  # same-step stats are right from Gymnasium 1.4 on only
        else:
            from gymnasium.wrappers import RecordEpisodeStatistics
            mode = "SameStep"  # 0.29's vector API
        env = RecordEpisodeStatistics(cpcrl.CpcrlVecEnv("tmaze", B, autoreset_mode=mode))
        singles = [cpcrl.CpcrlEnv("tmaze") for _ in range(B)]
        env.reset(seed=[S + i for i in range(B)])
        for i, e in enumerate(singles):
            e.reset(seed=S + i)
        pending, seen = [False] * B, 0
        rng = np.random.default_rng(2)
        for t in range(400):
            a = np.array([e.oracle_action() if rng.random() < 0.7 else int(rng.integers(4))
                          for e in singles])
            _, _, term, trunc, info = env.step(a)
            for i, e in enumerate(singles):
                if pending[i]:  # next-step: env i was not stepped
                    e.reset()
                    pending[i] = False
                    continue
                _, _, t1, t2, inf = e.step(a[i])
                if t1 or t2:
                    self.assertTrue(info["_episode"][i])
                    self.assertEqual(info["episode"]["l"][i], inf["cpcrl"]["l"])
                    self.assertAlmostEqual(float(info["episode"]["r"][i]), inf["cpcrl"]["r"],
                                           places=4)
                    seen += 1
                    if mode == "NextStep":
                        pending[i] = True
                    else:
                        e.reset()
        self.assertGreater(seen, 8)

    def test_observation_wrappers(self):
        gymnasium, _ = gymnasium_or_skip(self, need_1x=True)
        import numpy as np
        import cpcrl
        from gymnasium.wrappers.vector import DtypeObservation, NormalizeObservation
        env = NormalizeObservation(DtypeObservation(
            cpcrl.CpcrlVecEnv("goal", 4, seed=1, autoreset_mode="NextStep"), np.float32))
        obs, _ = env.reset()
        for t in range(120):
            obs, *_ = env.step(np.zeros(4, np.int64))
        self.assertEqual(obs.dtype, np.float32)
        self.assertEqual(obs.shape, (4, 14, 7, 7))


def sb3_or_skip(test):
    """stable_baselines3, or skip the test saying why."""
    try:
        import stable_baselines3
    except ImportError as e:
        test.skipTest("stable_baselines3 is not importable (%s)" % e)
    return stable_baselines3


class StableBaselines3(unittest.TestCase):
    """cpcrl.sb3.CpcrlSB3VecEnv: what SB3's DummyVecEnv over CpcrlEnvs gives."""

    def test_import_cpcrl_leaves_sb3_alone(self):
        r = subprocess.run([sys.executable, "-c", "import sys, cpcrl\n"
                            "print(sorted(m for m in ('stable_baselines3', 'torch', 'cpcrl.sb3')"
                            " if m in sys.modules))"],
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                               [os.path.join(ROOT, "python")] + sys.path[1:])),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(r.stdout.decode().strip().splitlines()[-1], "[]", r.stdout.decode())

    def test_equals_dummy_vec_env(self):
        sb3_or_skip(self)
        import numpy as np
        import cpcrl
        from cpcrl.sb3 import CpcrlSB3VecEnv
        from stable_baselines3.common.vec_env import DummyVecEnv
        B = 4
        for task in ("tmaze", "goal"):
            ours = CpcrlSB3VecEnv(task, B, max_steps=60)
            theirs = DummyVecEnv([lambda: cpcrl.CpcrlEnv(task, max_steps=60)] * B)
            self.assertEqual(ours.seed(10), theirs.seed(10))  # env i seeded 10 + i at reset
            np.testing.assert_array_equal(ours.reset(), theirs.reset())
            rng = np.random.default_rng(0)
            ends = 0
            for t in range(300):
                a = rng.integers(0, 4, B)
                o1, r1, d1, i1 = ours.step(a)
                o2, r2, d2, i2 = theirs.step(a)
                for x, y in ((o1, o2), (r1, r2), (d1, d2)):
                    np.testing.assert_array_equal(x, y)
                    self.assertEqual(x.dtype, y.dtype)
                for i in range(B):
                    self.assertEqual(i1[i]["TimeLimit.truncated"], i2[i]["TimeLimit.truncated"])
                    if d1[i]:
                        ends += 1
                        np.testing.assert_array_equal(i1[i]["terminal_observation"],
                                                      i2[i]["terminal_observation"])
                        self.assertEqual(i1[i]["cpcrl"], i2[i]["cpcrl"])
                        self.assertEqual(i1[i]["is_success"], i2[i]["cpcrl"]["success"] > 0)
                    else:
                        self.assertNotIn("terminal_observation", i1[i])
            self.assertGreater(ends, 8)
            prev = o1
            ours.step(rng.integers(0, 4, B))
            self.assertFalse(np.shares_memory(prev, ours.venv.observations))  # SB3 keeps obs
            ours.close()
            self.assertTrue(ours.venv.closed)

    def test_attrs_and_checks(self):
        sb3_or_skip(self)
        import cpcrl
        from cpcrl.sb3 import CpcrlSB3VecEnv
        from stable_baselines3.common.vec_env import VecMonitor
        env = CpcrlSB3VecEnv(cpcrl.CpcrlVecEnv("keys_doors", 3, seed=4, render_mode="rgb_array"))
        self.assertEqual(env.render_mode, "rgb_array")
        self.assertEqual(env.get_attr("task"), ["keys_doors"] * 3)
        env.reset()
        self.assertEqual(env.env_method("oracle_action", indices=[0, 2]),
                         [env.venv.call("oracle_action")[i] for i in (0, 2)])
        env.set_attr("level", 2, indices=1)
        self.assertEqual(env.get_attr("level", indices=[1]), [2])
        with self.assertRaises(AttributeError):
            env.get_attr("level", indices=[0])
        self.assertEqual(env.env_is_wrapped(VecMonitor), [False] * 3)
        self.assertEqual(len(env.get_images()), 3)
        with self.assertRaises(ValueError):
            CpcrlSB3VecEnv("goal", 2, autoreset_mode="NextStep")
        with self.assertRaises(TypeError):
            CpcrlSB3VecEnv(cpcrl.CpcrlVecEnv("goal", 2), size=9)

    def test_ppo_runs(self):
        sb3_or_skip(self)
        from cpcrl.sb3 import CpcrlSB3VecEnv
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import VecMonitor
        env = VecMonitor(CpcrlSB3VecEnv("goal", 8, seed=0, max_steps=20))
        model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, seed=0,
                    device="cpu")
        model.learn(512)
        self.assertGreater(len(model.ep_info_buffer), 8)  # VecMonitor saw whole episodes
        self.assertEqual(model.ep_info_buffer[0]["l"], 20)
        env.close()


class Example(unittest.TestCase):
    """python/examples/ppo_lstm_tmaze.py starts and updates (with torch), or
    says clearly that it needs torch (without)."""
    SCRIPT = os.path.join(ROOT, "python", "examples", "ppo_lstm_tmaze.py")

    def run_script(self, *args, path=()):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            list(path) + [os.path.join(ROOT, "python")] + sys.path[1:]))
        return subprocess.run([sys.executable, self.SCRIPT] + list(args), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)

    def test_without_torch(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.mkdir(os.path.join(tmp, "torch"))
            with open(os.path.join(tmp, "torch", "__init__.py"), "w") as f:
                f.write("raise ImportError('no torch in this test')\n")
            r = self.run_script("--help", path=[tmp])
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 1, out)
        self.assertIn("needs PyTorch", out)
        self.assertIn("apt-get install python3-torch", out)

    def test_a_few_updates(self):
        if subprocess.run([sys.executable, "-c", "import torch"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode:
            self.skipTest("torch is not importable (Debian: python3-torch): example not run")
        r = self.run_script("--total-timesteps", "384", "--num-envs", "4", "--num-steps", "32",
                            "--num-minibatches", "2", "--update-epochs", "2")
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        iters = [l for l in out.splitlines() if l.startswith("iter ")]
        self.assertEqual(len(iters), 3, out)
        self.assertIn("step      384", iters[-1])


class PipInstall(unittest.TestCase):
    """`pip install ./python` (offline, no build isolation) builds the library
    portably (-O2, no -march=native unless CPCRL_NATIVE=1) and the README
    example runs against the installed copy; so does an sdist made by
    `setup.py sdist`, installed where no checkout is near."""

    def setUp(self):
        py = sys.executable
        for mod in ("pip", "setuptools"):
            if subprocess.run([py, "-c", "import " + mod], stderr=subprocess.DEVNULL).returncode:
                self.skipTest("%s is not importable: pip install not checked" % mod)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        src = os.path.join(self.tmp.name, "src")  # a copy, so the build leaves the checkout clean
        shutil.copytree(os.path.join(ROOT, "env"), os.path.join(src, "env"))
        # env/ uses base/errs
        shutil.copytree(os.path.join(ROOT, "base"), os.path.join(src, "base"))
        shutil.copytree(os.path.join(ROOT, "python"), os.path.join(src, "python"),
                        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "*.so"))
        self.pkg = os.path.join(src, "python")
        self.env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        for k in ("CPCRL_LIB", "CPCRL_NATIVE", "CPCRL_CFLAGS", "CPCRL_SRC"):
            self.env.pop(k, None)

    def install(self, what, cwd, **env):
        """pip install what into a new target; returns (target, the compile line's flags)."""
        target = tempfile.mkdtemp(dir=self.tmp.name)
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-v", "--no-build-isolation",
                            "--no-deps", "--target", target, what], env=dict(self.env, **env),
                           cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out)
        said = [l for l in out.splitlines() if "cpcrl: compiling libcpcrl_env.so with" in l]
        self.assertEqual(len(said), 1, out)
        flags = said[0].split(" with ", 1)[1].split(" (", 1)[0].split()
        self.assertTrue(os.path.exists(os.path.join(target, "cpcrl", "py.typed")))
        return target, flags

    def run_example(self, target):
        env = dict(self.env, PYTHONPATH=target)
        r = subprocess.run([sys.executable, "-c", readme_example()], env=env, cwd=self.tmp.name,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        self.assertIn(os.path.join(target, "cpcrl", "libcpcrl_env.so"), r.stdout.decode())

    def test_install(self):
        target, flags = self.install(self.pkg, self.tmp.name)
        self.assertEqual(flags, ["-O2"])  # portable by default
        self.run_example(target)

    def test_install_native(self):
        target, flags = self.install(self.pkg, self.tmp.name, CPCRL_NATIVE="1")
        self.assertEqual(flags, ["-O2", "-march=native"])
        self.run_example(target)

    def test_sdist(self):
        import tarfile
        dist = os.path.join(self.tmp.name, "dist")
        r = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", dist], env=self.env,
                           cwd=self.pkg, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        (name,) = os.listdir(dist)
        with tarfile.open(os.path.join(dist, name)) as tf:
            members = {m.split("/", 1)[1] for m in tf.getnames() if "/" in m}
        need = ["capi.c", "cpcrl/py.typed", "csrc/base/errs.c", "csrc/base/errs.h"]
        need += ["csrc/env/" + os.path.basename(p)
                 for p in glob.glob(os.path.join(ROOT, "env", "*.[ch]"))]
        for f in need:
            self.assertIn(f, members)
        alone = tempfile.mkdtemp(dir=self.tmp.name)  # no env/ above it: the sdist must suffice
        shutil.move(os.path.join(dist, name), alone)
        shutil.rmtree(os.path.dirname(self.pkg))
        target, flags = self.install(os.path.join(alone, name), alone)
        self.assertEqual(flags, ["-O2"])
        self.run_example(target)


def readme_example():
    """The first ```python block of README.md's "Python" section, plus a line
    printing which library it loaded."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    sec = text.split("\n## Python\n", 1)[1]
    code = sec.split("```python\n", 1)[1].split("```", 1)[0]
    return code + "\nimport cpcrl._lib\nprint(cpcrl._lib.lib.path)\n"


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--cpcrl", default=os.path.join(ROOT, "cpcrl"))
    p.add_argument("--lib", default=os.path.join(ROOT, "build", "libcpcrl_env.so"))
    p.add_argument("--ref", default=os.path.join(ROOT, "build", "tests", "python", "ref_trace"))
    ARGS, rest = p.parse_known_args()
    os.environ["CPCRL_LIB"] = os.path.abspath(ARGS.lib)
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import cpcrl
    print("cpcrl binding: %s (gymnasium %s)" % (
        cpcrl._lib.lib.path, "importable" if cpcrl.HAVE_GYMNASIUM else "not importable"))
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
