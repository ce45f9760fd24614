"""Build step of the cpcrl package: compile the simulator (../env/*.c and
../base/errs.c, no SDL, no BLAS) and capi.c into cpcrl/libcpcrl_env.so next
to the Python files.

Environment: CC (default cc); CPCRL_CFLAGS (default "-O2 -march=native", as
the Makefile's OPT: the library is built for this machine); CPCRL_SRC, the
cpcrl checkout holding env/ (default: this directory's parent)."""
import glob
import os
import shlex
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def lib_sources():
    root = os.environ.get("CPCRL_SRC") or os.path.dirname(HERE)
    env = sorted(glob.glob(os.path.join(root, "env", "*.c")))
    if not env:
        raise SystemExit("cpcrl: no env/*.c under %s: install from the cpcrl checkout "
                         "(pip install ./python) or set CPCRL_SRC to it" % root)
    return root, env + [os.path.join(root, "base", "errs.c"), os.path.join(HERE, "capi.c")]


class BuildPyWithLib(build_py):
    def run(self):
        super().run()
        root, srcs = lib_sources()
        out_dir = os.path.join(self.build_lib, "cpcrl")
        os.makedirs(out_dir, exist_ok=True)
        cmd = ([os.environ.get("CC", "cc")]
               + shlex.split(os.environ.get("CPCRL_CFLAGS", "-O2 -march=native"))
               + ["-std=c11", "-D_GNU_SOURCE", "-fPIC", "-shared", "-I", root] + srcs
               + ["-o", os.path.join(out_dir, "libcpcrl_env.so"), "-lm"])
        print(" ".join(cmd))
        subprocess.check_call(cmd)


class PlatformDistribution(Distribution):
    """The package carries a compiled library: a platform wheel, installed to platlib."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithLib}, distclass=PlatformDistribution)
