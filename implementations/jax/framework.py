"""JAX's declaration (bench.framework). Imports no JAX.

Its default mode is how JAX's users train: the whole training step under `jax.jit`, traced
once and compiled by XLA at its first call. Eager (no jit: each operation dispatched as the
code reaches it) is the diagnostic, and a slow starter: JAX compiles each primitive for its
shapes on first use, a minute for the progressive GAN's first step of a phase, so a profile
that cannot pay for that leaves it out. The jit compile of these models takes seconds on a
CPU (tens for the progressive GAN's double backward, once per phase), not the minutes of
torch.compile or TF's XLA, and it is the default: every profile pays for it, and
throughput's first-step time shows it.
"""

from bench.framework import EAGER, Framework, Mode

FRAMEWORK = Framework(
    name="jax",
    module="jax",
    install="pip install 'gan-bench[jax]'",
    colour="#009e73",
    modes=(Mode(EAGER, "eager"), Mode("jit", "jax.jit")),
    default_mode="jit",
    default_mode_source="JAX's training loops jit the whole step (jax.jit; Flax NNX's nnx.jit)",
    packages=("jax", "jaxlib", "flax", "optax"),
)
