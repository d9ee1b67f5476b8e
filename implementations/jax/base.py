"""What every JAX adapter shares: runtime settings, devices, modes, optimiser, weights.

Mirror of implementations/torch/base.py and implementations/tf/base.py. The networks are Flax
NNX modules, split once into their graph (static) and their state (pure dicts of arrays: the
parameters, BatchNorm's batch statistics, the optimiser's moments). A training step is a pure
function of that state, merged back into modules inside it: `jax.jit` of the whole step in
mode "jit", the same function run op by op in mode "eager".
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from bench import layouts
from bench.adapter import Adapter, FamilyConfig, check_weight_keys
from bench.timing import best_seconds, matmul_size

#: canonical name -> (path into the adapter's state, numpy layout rule to JAX, rule back to the
#: canonical layout). The rules are bench.layouts': NNX's layouts are Keras' (NHWC; Linear
#: kernels (in, out); Conv kernels (kh, kw, in, out)).
WeightMap = dict[str, tuple[tuple[str, ...], Callable[[np.ndarray], np.ndarray],
                            Callable[[np.ndarray], np.ndarray]]]
#: network name -> {"params": ..., "stats": ..., "opt": ...}, every leaf an array.
State = dict[str, dict[str, Any]]

#: XLA's CPU backend runs a computation on a pool as wide as the machine; these flags keep it
#: to the calling thread. XLA reads them once, when JAX starts its backend.
SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def same(x: np.ndarray) -> np.ndarray:
    return x


class AdamMoments(NamedTuple):
    """One parameter's Adam state, PyTorch's names: steps taken, first and second moments."""

    step: jax.Array
    exp_avg: jax.Array
    exp_avg_sq: jax.Array


def is_moments(node: Any) -> bool:
    return isinstance(node, AdamMoments)


def torch_adam(lr: float, betas: tuple[float, float],
               eps: float) -> optax.GradientTransformation:
    """Adam with PyTorch's update, term for term: bias-corrected moments, eps added after the
    root, step = lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    optax.adam has the same formula, but computes 1 - b^t in float32 from float32(b), which
    loses digits to cancellation (1 - float32(0.999) is 1.3e-5 off, relative); PyTorch computes
    it in Python floats. Here 1 - b^t = -expm1(t log b), log b taken in double precision on
    the host: accurate to float32's own rounding at every t. The step count is per parameter,
    as PyTorch's: a parameter a step leaves out (JAXAdapter.apply_gradients) keeps its count.
    """
    b1, b2 = betas
    log_b1, log_b2 = (math.log(b) if b > 0 else -math.inf for b in betas)

    def init(params: Any) -> Any:
        return jax.tree.map(lambda p: AdamMoments(jnp.zeros([], jnp.int32), jnp.zeros_like(p),
                                                  jnp.zeros_like(p)), params)

    def step(state: AdamMoments, grad: jax.Array) -> tuple[jax.Array, AdamMoments]:
        m = state.exp_avg + (grad - state.exp_avg) * (1 - b1)
        v = state.exp_avg_sq * b2 + grad * grad * (1 - b2)
        count = state.step + 1
        t = count.astype(jnp.float32)
        step_size = lr / -jnp.expm1(t * log_b1)
        denom = jnp.sqrt(v) / jnp.sqrt(-jnp.expm1(t * log_b2)) + eps
        return -step_size * m / denom, AdamMoments(count, m, v)

    def update(grads: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        pairs = jax.tree.map(step, state, grads, is_leaf=is_moments)
        # grads' structure is a prefix of pairs': each of its leaves holds one pair.
        return (jax.tree.map(lambda _, pair: pair[0], grads, pairs),
                jax.tree.map(lambda _, pair: pair[1], grads, pairs))

    return optax.GradientTransformation(init, update)


def leaky_relu(x: jax.Array) -> jax.Array:
    """The spec's LeakyReLU, slope 0.2 (jax.nn.leaky_relu's default is 0.01)."""
    return jax.nn.leaky_relu(x, 0.2)


def batch_norm(features: int, momentum: float, epsilon: float, rngs: nnx.Rngs) -> nnx.BatchNorm:
    """BatchNorm with PyTorch's settings: `momentum` in PyTorch's convention (the weight of the
    batch), where NNX's momentum is the weight of the old average; the variance in two passes
    (NNX's default, E[x^2] - E[x]^2, loses digits where the mean is large)."""
    return nnx.BatchNorm(features, momentum=1 - momentum, epsilon=epsilon,
                         use_fast_variance=False, rngs=rngs)


def dense_rules(net: str, name: str, bias: bool = True) -> WeightMap:
    """A Linear's weight (and bias) in network `net`'s state."""
    path = (net, "params", name)
    rules = {f"{net}.{name}.weight": (path + ("kernel",), layouts.dense_to_keras,
                                      layouts.dense_from_keras)}
    if bias:
        rules[f"{net}.{name}.bias"] = (path + ("bias",), same, same)
    return rules


def batch_norm_rules(net: str, name: str) -> WeightMap:
    """A BatchNorm's scale and shift (parameters) and running statistics (batch stats).

    NNX's running variance is the biased one, PyTorch's the unbiased: after a step they differ
    by Bessel's correction, which the parity checks allow for (bench.parity)."""
    return {f"{net}.{name}.{stat}": ((net, kind, name, key), same, same)
            for stat, kind, key in (("weight", "params", "scale"), ("bias", "params", "bias"),
                                    ("running_mean", "stats", "mean"),
                                    ("running_var", "stats", "var"))}


def split(module: nnx.Module) -> tuple[nnx.GraphDef, dict[str, Any]]:
    """A module's graph and its state as pure dicts: trainable parameters and batch statistics."""
    graphdef, params, stats = nnx.split(module, nnx.Param, nnx.BatchStat)
    return graphdef, {"params": params.to_pure_dict(), "stats": stats.to_pure_dict()}


def batch_stats(module: nnx.Module) -> dict[str, Any]:
    """The batch statistics a module holds now (a call in training mode moves them)."""
    return nnx.state(module, nnx.BatchStat).to_pure_dict()


def leaf(tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def with_leaf(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of the nested dict `tree` with the leaf at `path` replaced."""
    head, *rest = path
    return {**tree, head: with_leaf(tree[head], tuple(rest), value) if rest else value}


def to_numpy(arrays: Mapping[str, jax.Array]) -> dict[str, np.ndarray]:
    return {name: np.asarray(value) for name, value in arrays.items()}


class JAXAdapter(Adapter):
    framework = "jax"

    @classmethod
    def configure(cls, threads: int) -> None:
        from jax._src import xla_bridge

        if threads == 1 and not xla_bridge.backends_are_initialized():
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_XLA_FLAGS}".strip()
        # Full float32 matrix products on GPUs too (no TF32), as in the other frameworks.
        jax.config.update("jax_default_matmul_precision", "highest")

    @classmethod
    def device_available(cls, device: str) -> bool:
        return device == "cpu" or (device == "cuda" and bool(gpu_devices()))

    @classmethod
    def environment(cls, device: str) -> dict[str, str]:
        import flax

        gpu = jax_device(device).device_kind if device == "cuda" else ""
        versions = (f"jax {jax.__version__}, jaxlib {jax.lib.__version__}, "
                    f"flax {flax.__version__}, optax {optax.__version__}")
        return {"framework_version": versions, "gpu": gpu, "tf32": "off"}

    @classmethod
    def peak_memory_bytes(cls, device: str) -> int | None:
        if device != "cuda":
            return None
        return (jax_device(device).memory_stats() or {}).get("peak_bytes_in_use")

    @classmethod
    def matmul_flops_per_s(cls, device: str, n: int | None = None,
                           dtype: str = "float32") -> float:
        n = n or matmul_size(device)
        keys = jax.random.split(jax.random.key(0))
        a, b = (jax.device_put(jax.random.normal(k, (n, n), dtype), jax_device(device))
                for k in keys)
        matmul = jax.jit(jnp.matmul)
        matmul(a, b).block_until_ready()  # compiled before it is timed
        return 2 * n**3 / best_seconds(lambda: matmul(a, b).block_until_ready())

    def __init__(self, config: FamilyConfig, *, seed: int = 0, device: str = "cpu",
                 mode: str = "eager") -> None:
        super().__init__(config, seed=seed, device=device, mode=mode)
        self.jax_device = jax_device(device)
        self.key = jax.random.key(seed)
        self.graphdefs: dict[str, nnx.GraphDef] = {}
        self.optimizers: dict[str, optax.GradientTransformation] = {}
        self.state: State = {}

    def add_networks(self, build: Callable[[], Mapping[str, nnx.Module]]) -> None:
        """Keep each network `build` makes, by name, as its graph and its state (on the
        device): zeros until set_weights loads the spec's initial weights. The modules are made
        under nnx.eval_shape, shapes without values: NNX's own initialisers, whose values the
        spec's replace, never run (op by op, each would compile at its first dispatch). A leaf
        the weights do not name (PacGAN's per-step sums) is one NNX starts at 0 as well
        (tests/jax/test_networks.py)."""
        for name, module in nnx.eval_shape(build).items():
            self.graphdefs[name], state = split(module)
            self.state[name] = self.to_device(
                jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), state))

    def network(self, state: State, name: str) -> nnx.Module:
        """The network `name` as a module holding `state`'s arrays (inside a step: tracers)."""
        return nnx.merge(self.graphdefs[name], state[name]["params"], state[name]["stats"])

    def weight_map(self) -> WeightMap:
        """Every canonical weight name with its path in the state and its layout rules."""
        raise NotImplementedError

    def to_device(self, tree: Any) -> Any:
        return jax.device_put(jax.tree.map(np.asarray, tree), self.jax_device)

    def randn(self, *shape: int) -> jax.Array:
        self.key, key = jax.random.split(self.key)
        return jax.device_put(jax.random.normal(key, shape), self.jax_device)

    def compile_step(self, step: Callable[..., Any],
                     static_argnames: tuple[str, ...] = ()) -> Callable[..., Any]:
        """jax.jit of the whole step in mode "jit"; `static_argnames` are python values the
        step branches on (one compile per value)."""
        # The state (argument 0) is replaced by the step's result: its buffers are reused.
        return self.compile(step, static_argnames, donate_argnums=0)

    def compile(self, function: Callable[..., Any], static_argnames: tuple[str, ...] = (),
                donate_argnums: int | tuple[int, ...] = ()) -> Callable[..., Any]:
        """jax.jit of a pure function of the state in mode "jit": the step, and forward and
        sampling as JAX's users compile their generate function (run op by op, each operation
        would compile at its first dispatch for every new batch size); as it is in eager."""
        if self.mode != "jit":
            return function
        return jax.jit(function, static_argnames=static_argnames, donate_argnums=donate_argnums)

    def adam(self, name: str, lr: float, betas: tuple[float, float], eps: float) -> None:
        """Network `name`'s optimiser, with fresh moments."""
        self.optimizers[name] = torch_adam(lr, betas, eps)
        self.optimizer_name = "torch_adam (optax.GradientTransformation)"
        self.state[name]["opt"] = self.to_device(
            self.optimizers[name].init(self.state[name]["params"]))

    def apply_gradients(self, state: State, name: str, grads: Any,
                        trains: Callable[[tuple[str, ...]], bool] | None = None) -> State:
        """One optimiser step of network `name` (pure: returns the new state). With `trains`,
        only the parameters at the paths it accepts move; the others keep their values and
        moments, as PyTorch's optimisers skip a parameter without a gradient."""
        net = state[name]
        updates, opt = self.optimizers[name].update(grads, net["opt"], net["params"])
        params = optax.apply_updates(net["params"], updates)
        if trains is not None:
            params, opt = (
                jax.tree_util.tree_map_with_path(
                    lambda path, new, old: new if trains(key_path(path)) else old,
                    new_tree, old_tree, is_leaf=is_moments)
                for new_tree, old_tree in ((params, net["params"]), (opt, net["opt"])))
        return {**state, name: {**net, "params": params, "opt": opt}}

    def sync(self) -> None:
        jax.block_until_ready(self.state)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {name: np.array(from_jax(np.asarray(leaf(self.state, path))), copy=True)
                for name, (path, _, from_jax) in self.weight_map().items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weight_keys(self.config.weight_shapes(), weights)
        self.state = load_weights(self.state, self.weight_map(), weights, self.jax_device)


def load_weights(state: State, rules: WeightMap, weights: Mapping[str, np.ndarray],
                 device: jax.Device) -> State:
    """`state` with every weight `rules` names replaced by the canonical `weights`."""
    for name, (path, to_jax, _) in rules.items():
        value = to_jax(np.asarray(weights[name], np.float32))
        state = with_leaf(state, path, jax.device_put(value, device))
    return state


def key_path(path: tuple[Any, ...]) -> tuple[str, ...]:
    """A pytree key path of nested dicts as the tuple of its keys."""
    return tuple(str(entry.key) for entry in path)


def with_stats(state: State, name: str, stats: dict[str, Any]) -> State:
    return {**state, name: {**state[name], "stats": stats}}


def gpu_devices() -> list[jax.Device]:
    try:
        return jax.devices("gpu")
    except RuntimeError:  # no GPU backend in this installation
        return []


def jax_device(device: str) -> jax.Device:
    return gpu_devices()[0] if device == "cuda" else jax.devices("cpu")[0]
