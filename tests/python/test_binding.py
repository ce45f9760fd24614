"""The Python binding (python/cpcrl) against the C side.

    /usr/bin/python3 tests/python/test_binding.py --cpcrl ./cpcrl \
        --lib build/libcpcrl_env.so --ref build/tests/python/ref_trace

Needs Debian's python3 and python3-numpy only; `make test` runs it. Every
comparison is with something C computed on its own: the map and agent view
that `cpcrl show` prints, and the per-step CRC32 lines of ref_trace (tests/
python/ref_trace.c), a C program that steps env/ directly with the actions
Python chose. The CRCs are zlib's on the C side and Python's zlib here. With
gymnasium importable, gymnasium.utils.env_checker.check_env runs too (skipped
otherwise). With pip and setuptools importable, `pip install ./python` is
checked offline in a temporary directory (skipped otherwise).
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
    """env/rng.h's rng_derive, in Python: env i of a batch seeded `seed`."""
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
        fns = [cpcrl.make, cpcrl.make_vec, cpcrl.rng_derive]
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
