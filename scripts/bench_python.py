#!/usr/bin/env python3
"""Env steps/s of the Python binding's vectorized env vs the same envs stepped
in a C loop, observations written (B = 256 by default).

    make lib && /usr/bin/python3 scripts/bench_python.py [--B 256] [--seconds 1] [--cpcrl ./cpcrl]

Both sides step one CpcrlVecEnv (vec_step_final into the same numpy arrays,
final observations included) with the same pre-drawn random actions and are
timed in thread CPU time, as `cpcrl bench env` is, best of --rounds
interleaved measurements per side:
  C      cpcrl_vec_run: 256 steps per call, the loop in C (python/capi.c);
  Python CpcrlVecEnv.step(actions) once per step, the loop in Python.
--autoreset-mode NextStep times the Python side in next-step mode
(cpcrl_vec_step_next; the C loop stays same-step). With --cpcrl,
`cpcrl bench env` (the C bench, B = 32) is printed too.
Needs numpy; the library from $CPCRL_LIB or build/libcpcrl_env.so (`make lib`).
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402

import cpcrl  # noqa: E402
from cpcrl._lib import lib  # noqa: E402

CHUNK = 256  # steps per pre-drawn block of actions, as lab/bench.c


def rate(step_block, B, seconds):
    step_block()  # warm up
    t0 = t1 = time.thread_time()
    steps = 0
    while t1 - t0 < seconds:
        step_block()
        steps += CHUNK * B
        t1 = time.thread_time()
    return steps / (t1 - t0)


def bench(task, B, seconds, rounds, mode):
    v = cpcrl.CpcrlVecEnv(task, B, seed=1, autoreset_mode=mode)
    v.reset()
    actions = np.random.default_rng(0).integers(0, cpcrl.NUM_ACTIONS, (CHUNK, B)).astype(np.intc)
    pa = actions.ctypes.data
    args = v._args[2:7]  # the vector env's own observation/reward/flag/final arrays

    def c_block():
        if lib.cpcrl_vec_run(v._v, pa, CHUNK, *args) < 0:
            raise RuntimeError("bad action")

    def py_block():
        step = v.step
        for t in range(CHUNK):
            step(actions[t])

    c = py = 0.0
    for _ in range(rounds):  # interleaved, best of each: other load on the machine hits both
        c = max(c, rate(c_block, B, seconds))
        py = max(py, rate(py_block, B, seconds))
    v.close()
    return c, py


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--B", type=int, default=256, help="envs per batch (default 256)")
    p.add_argument("--seconds", type=float, default=0.5, help="CPU seconds per measurement")
    p.add_argument("--rounds", type=int, default=3, help="measurements per side (best counts)")
    p.add_argument("--tasks", default=",".join(cpcrl.TASKS))
    p.add_argument("--autoreset-mode", default="SameStep", choices=("SameStep", "NextStep"),
                   help="the Python side's autoreset mode (default SameStep)")
    p.add_argument("--cpcrl", help="path of the cpcrl binary: also print `cpcrl bench env`")
    a = p.parse_args()
    print("Python binding (%s) vs C loop, one thread, B=%d, observations written (%s):"
          % (a.autoreset_mode, a.B, lib.path))
    print("  %-11s %10s %10s %7s" % ("task", "C M/s", "Python M/s", "ratio"))
    ratios = []
    for task in a.tasks.split(","):
        c, py = bench(task, a.B, a.seconds, a.rounds, a.autoreset_mode)
        ratios.append(py / c)
        print("  %-11s %10.2f %10.2f %6.0f%%" % (task, c / 1e6, py / 1e6, 100 * py / c), flush=True)
    print("  Python/C: min %.0f%%, mean %.0f%% (target >= 80%%)"
          % (100 * min(ratios), 100 * sum(ratios) / len(ratios)))
    if a.cpcrl:
        sys.stdout.flush()
        subprocess.run([a.cpcrl, "bench", "env"], check=False)


if __name__ == "__main__":
    main()
