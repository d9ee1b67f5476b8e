"""tests/jax runs in its own pytest process: JAX must never share one with torch or TensorFlow."""

import sys

assert not {"torch", "tensorflow"} & set(sys.modules), (
    "run tests/jax in a separate pytest process (see noxfile.py)")
