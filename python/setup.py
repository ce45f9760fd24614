"""Build step of the cpcrl package: compile the simulator (env/*.c and
base/errs.c, no SDL, no BLAS) and capi.c into cpcrl/libcpcrl_env.so next to
the Python files.

Where the C sources come from, first match wins: $CPCRL_SRC (a cpcrl checkout
holding env/ and base/); csrc/ beside this file (an sdist: `setup.py sdist`
copies them there); this directory's parent (`pip install ./python` from the
checkout).

Flags: portable by default, plain -O2 (the library runs on any CPU of this
architecture, e.g. when a wheel or an environment is copied to another
machine). CPCRL_NATIVE=1 adds -march=native (this CPU only; what the
Makefile's `make lib` uses). CPCRL_CFLAGS replaces both. CC picks the compiler
(default cc). The build prints the command and which flags it chose (shown
by `pip install -v`)."""
import glob
import os
import shlex
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")  # only in an sdist


def c_root():
    """The directory holding env/ and base/ (see the module doc)."""
    for root in (os.environ.get("CPCRL_SRC"), CSRC, os.path.dirname(HERE)):
        if root and glob.glob(os.path.join(root, "env", "*.c")):
            return root
    raise SystemExit("cpcrl: no env/*.c in $CPCRL_SRC, %s or %s: install from the cpcrl checkout "
                     "(pip install ./python), from an sdist made by `setup.py sdist`, or set "
                     "CPCRL_SRC to a checkout" % (CSRC, os.path.dirname(HERE)))


def c_files(root):
    """What the library's build reads under root: env/'s sources and headers,
    and base/errs and base/rng.h (the helpers env/ uses), as paths relative to root."""
    env = sorted(glob.glob(os.path.join(root, "env", "*.[ch]")))
    base = [os.path.join(root, "base", f) for f in ("errs.c", "errs.h", "rng.h")]
    return [os.path.relpath(p, root) for p in env + base]


def cflags():
    """(flags, why) for the compiler."""
    if os.environ.get("CPCRL_CFLAGS"):
        return shlex.split(os.environ["CPCRL_CFLAGS"]), "CPCRL_CFLAGS"
    if os.environ.get("CPCRL_NATIVE", "") not in ("", "0"):
        return ["-O2", "-march=native"], "CPCRL_NATIVE=1: for this machine's CPU only"
    return ["-O2"], "portable; CPCRL_NATIVE=1 builds with -march=native"


class BuildPyWithLib(build_py):
    def run(self):
        super().run()
        root = c_root()
        srcs = [os.path.join(root, f) for f in c_files(root) if f.endswith(".c")]
        srcs.append(os.path.join(HERE, "capi.c"))
        out_dir = os.path.join(self.build_lib, "cpcrl")
        os.makedirs(out_dir, exist_ok=True)
        flags, why = cflags()
        cmd = ([os.environ.get("CC", "cc")] + flags
               + ["-std=c11", "-D_GNU_SOURCE", "-fPIC", "-shared", "-I", root] + srcs
               + ["-o", os.path.join(out_dir, "libcpcrl_env.so"), "-lm"])
        print("cpcrl: compiling libcpcrl_env.so with %s (%s)" % (" ".join(flags), why))
        print(" ".join(cmd))
        subprocess.check_call(cmd)


class SdistWithC(sdist):
    """An sdist that builds anywhere: the C sources from outside this
    directory (env/, base/errs) go into its csrc/."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        root = c_root()
        for f in c_files(root):
            dst = os.path.join(base_dir, "csrc", f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(root, f), dst)


class PlatformDistribution(Distribution):
    """The package carries a compiled library: a platform wheel, installed to platlib."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithLib, "sdist": SdistWithC}, distclass=PlatformDistribution)
