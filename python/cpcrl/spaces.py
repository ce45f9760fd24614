"""Observation and action spaces: Gymnasium's when it is importable, else
minimal stand-ins with the same attributes and methods (shape, dtype, low,
high, n, nvec, sample, contains, seed), so code written against Gymnasium's
spaces reads them the same way without the dependency."""
import numpy as np

try:
    import gymnasium
    from gymnasium.spaces import Box, Discrete, MultiDiscrete
    HAVE_GYMNASIUM = True
except ImportError:  # the binding needs only numpy
    gymnasium = None
    HAVE_GYMNASIUM = False

    class _Space:
        def __init__(self, shape, dtype, seed=None):
            self.shape = tuple(shape)
            self.dtype = np.dtype(dtype)
            self._np_random = np.random.default_rng(seed)

        def seed(self, seed=None):
            self._np_random = np.random.default_rng(seed)
            return [seed]

        @property
        def np_random(self):
            return self._np_random

        def __contains__(self, x):
            return self.contains(x)

    class Box(_Space):
        """Stand-in for gymnasium.spaces.Box (integer bounds are all cpcrl needs)."""

        def __init__(self, low, high, shape, dtype, seed=None):
            super().__init__(shape, dtype, seed)
            self.low = np.full(self.shape, low, dtype=self.dtype)
            self.high = np.full(self.shape, high, dtype=self.dtype)

        def sample(self):
            return self._np_random.integers(self.low, self.high, endpoint=True).astype(self.dtype)

        def contains(self, x):
            x = np.asarray(x)
            return (x.shape == self.shape and np.can_cast(x.dtype, self.dtype)
                    and bool(np.all(x >= self.low)) and bool(np.all(x <= self.high)))

        def __repr__(self):
            return "Box(%s, %s, %s, %s)" % (self.low.min(), self.high.max(), self.shape, self.dtype)

    class Discrete(_Space):
        """Stand-in for gymnasium.spaces.Discrete."""

        def __init__(self, n, seed=None, start=0):
            super().__init__((), np.int64, seed)
            self.n = int(n)
            self.start = int(start)

        def sample(self):
            return np.int64(self.start + self._np_random.integers(self.n))

        def contains(self, x):
            if isinstance(x, (int, np.integer)) or (isinstance(x, np.ndarray) and x.shape == ()
                                                    and np.issubdtype(x.dtype, np.integer)):
                return self.start <= int(x) < self.start + self.n
            return False

        def __repr__(self):
            return "Discrete(%d)" % self.n

    class MultiDiscrete(_Space):
        """Stand-in for gymnasium.spaces.MultiDiscrete (the batched action space)."""

        def __init__(self, nvec, dtype=np.int64, seed=None):
            self.nvec = np.asarray(nvec, dtype=dtype)
            super().__init__(self.nvec.shape, dtype, seed)

        def sample(self):
            return self._np_random.integers(self.nvec).astype(self.dtype)

        def contains(self, x):
            x = np.asarray(x)
            return (x.shape == self.shape and np.issubdtype(x.dtype, np.integer)
                    and bool(np.all(x >= 0)) and bool(np.all(x < self.nvec)))

        def __repr__(self):
            return "MultiDiscrete(%s)" % self.nvec
