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
import os
import shutil
import subprocess
import sys
import tempfile
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
                    self.assertIn("episode", info)
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
        for a, b in zip(out, out2):
            self.assertIs(a, b)  # written in place: no per-step copy
        self.assertIs(out[0], obs)
        self.assertEqual(out[1].dtype, np.float32)
        self.assertEqual(out[2].dtype, np.bool_)
        self.assertEqual(v.observation_space.shape, (8, 14, 7, 7))
        self.assertEqual(v.single_action_space.n, 4)
        self.assertEqual(v.render(2, tile=4).shape, (36, 36, 3))
        v.reset(seed=1)
        self.assertEqual(h, [v.env_hash(i) for i in range(8)])  # re-seeding restarts the batch
        v.close()


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


class PipInstall(unittest.TestCase):
    """`pip install ./python` (offline, no build isolation) builds the library
    and the README example runs against the installed copy."""

    def test_install(self):
        py = sys.executable
        for mod in ("pip", "setuptools"):
            if subprocess.run([py, "-c", "import " + mod], stderr=subprocess.DEVNULL).returncode:
                self.skipTest("%s is not importable: pip install not checked" % mod)
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")  # a copy, so the build leaves the checkout clean
            shutil.copytree(os.path.join(ROOT, "env"), os.path.join(src, "env"))
            shutil.copytree(os.path.join(ROOT, "base"), os.path.join(src, "base"))  # env/ uses base/errs
            shutil.copytree(os.path.join(ROOT, "python"), os.path.join(src, "python"),
                            ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info",
                                                          "*.so"))
            target = os.path.join(tmp, "site")
            env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
            env.pop("CPCRL_LIB", None)
            r = subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation",
                                "--no-deps", "--target", target, os.path.join(src, "python")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout.decode())
            example = readme_example()
            env["PYTHONPATH"] = target
            r = subprocess.run([py, "-c", example], env=env, cwd=tmp, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout.decode())
            self.assertIn(os.path.join(target, "cpcrl", "libcpcrl_env.so"), r.stdout.decode())


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
