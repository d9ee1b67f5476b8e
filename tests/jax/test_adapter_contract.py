"""Every JAX adapter keeps the adapter contract: the shared tests of
tests/adapter_contract.py, collected here for this framework's own pytest process."""

from adapter_contract import *  # noqa: F403  (the shared tests and their parametrisation)

FRAMEWORK = "jax"
