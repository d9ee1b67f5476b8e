"""Neural style transfer in JAX / Flax NNX (docs/models.md#style_transfer).

Mirror of implementations/torch/style_transfer.py. Not a GAN: a training step is one Adam step
of the image plus a clip to [0, 1], and a sample is the current image. Inside, images are NHWC
in [0, 1]; VGG19's weights are torchvision's (or the spec's seeded ones), moved through
bench.layouts, the one weight set every framework loads.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from bench import layouts
from implementations.jax.base import JAXAdapter, State, WeightMap, same, to_numpy
from implementations.spec.style_transfer import (
    CONTENT_LAYER,
    IMAGENET_MEAN,
    IMAGENET_STD,
    STYLE_LAYERS,
    TAPS,
    StyleTransferConfig,
)


class VGG(nnx.Module):
    """torchvision's vgg19().features up to relu5_1: convolutions keyed by their index there;
    a call returns the features at every tap."""

    def __init__(self, cfg: StyleTransferConfig, rngs: nnx.Rngs) -> None:
        self.layers = cfg.vgg_layers()
        self.features = nnx.Dict({
            str(layer.index): nnx.Conv(layer.in_channels, layer.out_channels, (3, 3),
                                       padding=((1, 1), (1, 1)), rngs=rngs)
            for layer in self.layers if layer.kind == "conv"})

    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        index_to_name = {index: name for name, index in TAPS.items()}
        taps = {}
        for layer in self.layers:
            if layer.kind == "conv":
                x = self.features[str(layer.index)](x)
            elif layer.kind == "relu":
                x = jax.nn.relu(x)
            else:
                x = max_pool(x)
            if layer.index in index_to_name:
                taps[index_to_name[layer.index]] = x
        return taps


def max_pool(x: jax.Array) -> jax.Array:
    """2x2 max pool, stride 2, through lax.reduce_window: its gradient goes to one maximum of a
    tie, as PyTorch's does (a max over a reshape would split it among the tied values)."""
    return nnx.max_pool(x, (2, 2), strides=(2, 2))


def make_vgg(cfg: StyleTransferConfig, rngs: nnx.Rngs) -> VGG:
    return VGG(cfg, rngs)


def normalize(image: jax.Array) -> jax.Array:
    return (image - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)


def vgg_taps(vgg: VGG, image: jax.Array) -> dict[str, jax.Array]:
    """Features at every tap (NHWC) of an image in [0, 1]."""
    return vgg(normalize(image))


def gram(features: jax.Array) -> jax.Array:
    """F^T F / (H * W) of one image's (1, H, W, C) features: a C x C matrix."""
    _, h, w, c = features.shape
    f = features.reshape(h * w, c)
    return f.T @ f / (h * w)


def abs_with_zero_subgradient(x: jax.Array) -> jax.Array:
    """|x| whose gradient at 0 is 0, as PyTorch's abs has; jnp.abs's is 1 there, and the
    content image (uint8) has many equal neighbours, where the TV term sits at 0."""
    return x * jnp.sign(x)


def total_variation(image: jax.Array) -> jax.Array:
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return abs_with_zero_subgradient(dx).sum() + abs_with_zero_subgradient(dy).sum()


def loss_terms(cfg: StyleTransferConfig, image: jax.Array, taps: dict[str, jax.Array],
               content_target: jax.Array,
               style_targets: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The weighted content, style and TV terms and their sum (docs/models.md#style_transfer)."""
    content = cfg.content_weight * jnp.mean((taps[CONTENT_LAYER] - content_target) ** 2)
    style_per_layer = [jnp.mean((gram(taps[n]) - style_targets[n]) ** 2) for n in STYLE_LAYERS]
    style = cfg.style_weight * jnp.mean(jnp.stack(style_per_layer))
    tv = cfg.tv_weight * total_variation(image)
    return {"loss_content": content, "loss_style": style, "loss_tv": tv,
            "loss_total": content + style + tv}


class StyleTransferAdapter(JAXAdapter):
    """Gatys style transfer behind the GAN contract: train_step is one Adam step of the image
    (then a clip to [0, 1]); sample returns the current image. The staged batch is the content
    image, whose relu4_2 features stage computes as the target (so stage after set_weights);
    set_weights recomputes the style targets, the style image's Gram matrices, which the step
    takes as an argument (a jit-compiled step would keep captured arrays as constants)."""

    family = "style_transfer"

    def __init__(self, config: StyleTransferConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.add_networks(lambda: {"vgg": make_vgg(config, nnx.Rngs(self.seed))})
        # The optimised image, kept as a network of one parameter for the optimiser's sake.
        self.state["image"] = self.to_device(
            {"params": np.zeros((1, *config.sample_shape()), np.float32)})
        self.set_weights(config.initial_weights())
        self.adam("image", config.lr, (config.beta1, config.beta2), config.eps)
        self._step = self.compile_step(self._train_step)
        self._forward = self.compile(self._forward_pass)
        self._losses: dict[str, jax.Array] | None = None

    def weight_map(self) -> WeightMap:
        rules: WeightMap = {}
        for conv in self.config.conv_layers():
            path = ("vgg", "params", "features", str(conv.index))
            rules[f"features.{conv.index}.weight"] = (path + ("kernel",), layouts.conv_to_keras,
                                                      layouts.conv_from_keras)
            rules[f"features.{conv.index}.bias"] = (path + ("bias",), same, same)
        rules["image"] = (("image", "params"), layouts.nchw_to_nhwc, layouts.nhwc_to_nchw)
        return rules

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        super().set_weights(weights)
        self._refresh_style_targets()

    def _refresh_style_targets(self) -> None:
        taps = vgg_taps(self.network(self.state, "vgg"),
                        self.to_device(self.config.style_image()[None]))
        self.style_targets = {name: gram(taps[name]) for name in STYLE_LAYERS}

    def stage(self, batch: np.ndarray, noise: Mapping[str, np.ndarray] | None = None):
        """The content image (boundary format) -> its relu4_2 features, the content target."""
        content = self.to_device(self.config.unit_content(batch))
        return vgg_taps(self.network(self.state, "vgg"), content)[CONTENT_LAYER]

    def _train_step(self, state: State, content_target: jax.Array,
                    style_targets: dict[str, jax.Array]):
        vgg = self.network(state, "vgg")

        def total(image):
            terms = loss_terms(self.config, image, vgg_taps(vgg, image), content_target,
                               style_targets)
            return terms["loss_total"], terms

        (_, terms), grad = jax.value_and_grad(total, has_aux=True)(state["image"]["params"])
        state = self.apply_gradients(state, "image", grad)
        image = jnp.clip(state["image"]["params"], 0.0, 1.0)
        return {**state, "image": {**state["image"], "params": image}}, terms

    def train_step(self, staged) -> None:
        self.state, self._losses = self._step(self.state, staged, self.style_targets)

    def losses(self) -> dict[str, float]:
        return {name: float(value) for name, value in self._losses.items()}

    def _forward_pass(self, state: State, content_target: jax.Array,
                      style_targets: dict[str, jax.Array]) -> dict[str, jax.Array]:
        image = state["image"]["params"]
        taps = vgg_taps(self.network(state, "vgg"), image)
        return {**taps, **loss_terms(self.config, image, taps, content_target, style_targets)}

    def forward(self, staged) -> dict[str, np.ndarray]:
        """Features (NHWC) at every tap and the loss terms, for the current image."""
        return to_numpy(self._forward(self.state, staged, self.style_targets))

    def sample(self, n: int, seed: int) -> np.ndarray:
        """The current image, n times, in the boundary format; the seed changes nothing."""
        image = np.asarray(self.state["image"]["params"]) * 2.0 - 1.0
        return np.repeat(image, n, axis=0)

    def tags(self) -> dict[str, str]:
        return {"weights": self.config.weights_label()}
