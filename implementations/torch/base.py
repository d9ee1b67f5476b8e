"""What every PyTorch adapter shares: runtime settings, devices, modes, optimiser, weights."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.adapter import Adapter, FamilyConfig, check_weight_keys
from bench.op_profile import OpProfile
from bench.timing import best_seconds, matmul_size
from implementations.torch import profiling

#: PyTorch's fused Adam: one kernel for all tensors' updates, the fastest of its three
#: implementations on CPU and GPU alike (scripts/torch_adam_variants.py measures them), with the
#: same formula as the loop and foreach ones, so parity holds.
TORCH_ADAM = "torch.optim.Adam(fused=True)"


def make_adam(params: Any, lr: float, betas: tuple[float, float],
              eps: float) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=True)


class TorchAdapter(Adapter):
    framework = "torch"

    @classmethod
    def configure(cls, threads: int) -> None:
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # set once per process: the first value stays
            torch.set_num_interop_threads(threads)
        # TF32 off on both frameworks: parity and comparable FLOP rates
        # (docs/models.md#parity-pitfalls).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        # Let cuDNN pick its fastest convolution per shape, as TensorFlow autotunes by default.
        torch.backends.cudnn.benchmark = True

    @classmethod
    def device_available(cls, device: str) -> bool:
        return device == "cpu" or (device == "cuda" and torch.cuda.is_available())

    @classmethod
    def environment(cls, device: str) -> dict[str, str]:
        gpu = torch.cuda.get_device_name() if device == "cuda" else ""
        autotune = {"cudnn_autotune": "on"} if device == "cuda" else {}
        return {"framework_version": torch.__version__, "gpu": gpu, "tf32": "off", **autotune}

    @classmethod
    def peak_memory_bytes(cls, device: str) -> int | None:
        return torch.cuda.max_memory_allocated() if device == "cuda" else None

    @classmethod
    def matmul_flops_per_s(cls, device: str, n: int | None = None,
                           dtype: str = "float32") -> float:
        n = n or matmul_size(device)
        a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))
        b = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))

        def product() -> None:
            torch.mm(a, b)
            if device == "cuda":
                torch.cuda.synchronize()

        return 2 * n**3 / best_seconds(product)

    def __init__(self, config: FamilyConfig, *, seed: int = 0, device: str = "cpu",
                 mode: str = "eager") -> None:
        super().__init__(config, seed=seed, device=device, mode=mode)
        torch.manual_seed(seed)
        self.torch_device = torch.device(device)
        self.generator = torch.Generator(device=self.torch_device).manual_seed(seed)

    def networks(self) -> dict[str, nn.Module]:
        """The named networks whose state makes up the canonical weights."""
        return {"G": self.G, "D": self.D}

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        # A copy in torch's own (64-byte aligned) memory, not a view of numpy's buffer.
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.torch_device, copy=True)

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.generator, device=self.torch_device)

    def compile_step(self, step: Callable[..., Any]) -> Callable[..., Any]:
        return torch.compile(step) if self.mode == "compiled" else step

    def adam(self, params: Any, lr: float, betas: tuple[float, float],
             eps: float) -> torch.optim.Adam:
        self.optimizer_name = TORCH_ADAM
        return make_adam(params, lr, betas, eps)

    def sync(self) -> None:
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize()

    def op_profile(self, staged: Any, steps: int) -> OpProfile | None:
        if self.torch_device.type != "cpu":
            return None  # CPU op times say nothing of the GPU's kernels
        return profiling.profile_ops(lambda: self.train_step(staged), self.sync, steps)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {
            f"{net}.{key}": value.detach().cpu().numpy().copy()
            for net, module in self.networks().items()
            for key, value in module.state_dict().items()
            if not key.endswith("num_batches_tracked")
        }

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weight_keys(self.config.weight_shapes(), weights)
        with torch.no_grad():
            for net, module in self.networks().items():
                for key, value in module.state_dict().items():
                    name = f"{net}.{key}"
                    if name in weights:
                        value.copy_(torch.from_numpy(np.asarray(weights[name])))
