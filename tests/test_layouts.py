"""Weight layout rules torch -> Keras: exact inverses, and each computes the same layer.

The cross-framework test runs each framework in its own process: PyTorch computes every
layer on seeded weights and inputs, Keras loads the converted weights and must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import layouts
from conftest import run_python

RNG = np.random.default_rng(0)
CHW = (3, 4, 5)


@pytest.mark.parametrize("to_keras, from_keras, shape", [
    (layouts.dense_to_keras, layouts.dense_from_keras, (7, 5)),
    (layouts.conv_to_keras, layouts.conv_from_keras, (6, 3, 4, 4)),
    (layouts.conv_transpose_to_keras, layouts.conv_transpose_from_keras, (3, 6, 4, 4)),
    (lambda w: layouts.dense_after_flatten_to_keras(w, CHW),
     lambda k: layouts.dense_after_flatten_from_keras(k, CHW), (7, 60)),
    (lambda w: layouts.dense_before_reshape_to_keras(w, CHW),
     lambda k: layouts.dense_before_reshape_from_keras(k, CHW), (60, 7)),
])
def test_rules_are_exact_inverses(to_keras, from_keras, shape):
    w = RNG.standard_normal(shape).astype(np.float32)
    assert np.array_equal(from_keras(to_keras(w)), w)


def test_flatten_permutation_matches_numpy_transpose():
    x = RNG.standard_normal(CHW)
    perm = layouts.chw_to_hwc_index(*CHW)
    assert np.array_equal(x.ravel()[perm], x.transpose(1, 2, 0).ravel())


TORCH_SIDE = """
import numpy as np, torch
from torch import nn
torch.manual_seed(0)
rng = np.random.default_rng(0)
x_img = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
x_vec = rng.standard_normal((2, 60)).astype(np.float32)
layers = {
    "dense": nn.Linear(60, 7),
    "conv": nn.Conv2d(3, 6, 4, 2, 1),
    "convt": nn.ConvTranspose2d(3, 6, 4, 2, 1, bias=False),
    "bn": nn.BatchNorm2d(3),
    "flat": nn.Linear(60, 7),
    "reshape": nn.Linear(7, 60),
}
with torch.no_grad():
    layers["bn"].weight.normal_(1, 0.1); layers["bn"].bias.normal_(0, 0.1)
out = {"x_img": x_img, "x_vec": x_vec}
t_img, t_vec = torch.from_numpy(x_img), torch.from_numpy(x_vec)
with torch.no_grad():
    out["y_dense"] = layers["dense"](t_vec).numpy()
    out["y_conv"] = layers["conv"](t_img).numpy().transpose(0, 2, 3, 1)
    out["y_convt"] = layers["convt"](t_img).numpy().transpose(0, 2, 3, 1)
    out["y_bn"] = layers["bn"].train()(t_img).numpy().transpose(0, 2, 3, 1)
    chw = t_vec.reshape(2, 3, 4, 5)
    out["x_hwc"] = chw.permute(0, 2, 3, 1).numpy()
    out["y_flat"] = layers["flat"](chw.flatten(1)).numpy()
    out["y_reshape"] = layers["reshape"](t_vec[:, :7]).reshape(2, 3, 4, 5).permute(
        0, 2, 3, 1).numpy()
for name, layer in layers.items():
    for key, value in layer.state_dict().items():
        out[f"{name}.{key}"] = value.numpy()
np.savez(PATH, **out)
"""

KERAS_SIDE = """
import numpy as np, keras
from keras import layers
from bench import layouts as L
d = dict(np.load(PATH))
CHW = (3, 4, 5)
nhwc = d["x_img"].transpose(0, 2, 3, 1)
def check(name, got, want):
    err = np.abs(got - want).max() / np.abs(want).max()
    assert err < 1e-5, (name, err)
    print(name, err)
dense = layers.Dense(7); dense.build((None, 60))
dense.set_weights([L.dense_to_keras(d["dense.weight"]), d["dense.bias"]])
check("dense", dense(d["x_vec"]).numpy(), d["y_dense"])
conv = keras.Sequential([layers.ZeroPadding2D(1), layers.Conv2D(6, 4, 2, "valid")])
conv.build((None, 8, 8, 3))
conv.layers[1].set_weights([L.conv_to_keras(d["conv.weight"]), d["conv.bias"]])
check("conv", conv(nhwc).numpy(), d["y_conv"])
convt = layers.Conv2DTranspose(6, 4, 2, "same", use_bias=False); convt.build((None, 8, 8, 3))
convt.set_weights([L.conv_transpose_to_keras(d["convt.weight"])])
check("convt", convt(nhwc).numpy(), d["y_convt"])
bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-5); bn.build((None, 8, 8, 3))
bn.set_weights([d["bn.weight"], d["bn.bias"], d["bn.running_mean"], d["bn.running_var"]])
check("bn", bn(nhwc, training=True).numpy(), d["y_bn"])
flat = layers.Dense(7); flat.build((None, 60))
flat.set_weights([L.dense_after_flatten_to_keras(d["flat.weight"], CHW), d["flat.bias"]])
check("flat", flat(d["x_hwc"].reshape(2, -1)).numpy(), d["y_flat"])
rs = layers.Dense(60); rs.build((None, 7))
rs.set_weights([L.dense_before_reshape_to_keras(d["reshape.weight"], CHW),
                d["reshape.bias"][L.chw_to_hwc_index(*CHW)]])
check("reshape", rs(d["x_vec"][:, :7]).numpy().reshape(2, 4, 5, 3), d["y_reshape"])
"""


@pytest.mark.slow
def test_every_rule_computes_the_same_layer_in_both_frameworks(tmp_path):
    path = str(tmp_path / "layers.npz")
    run_python(f"PATH = {path!r}\n" + TORCH_SIDE)
    done = run_python(f"PATH = {path!r}\n" + KERAS_SIDE)
    checked = [line.split()[0] for line in done.stdout.splitlines()]
    assert checked == ["dense", "conv", "convt", "bn", "flat", "reshape"]
