"""The MLP GAN of `torch_again`: the built-in PyTorch adapter, renamed."""

from implementations.torch.mlp_gan import MLPGANAdapter as TorchMLPGANAdapter


class MLPGANAdapter(TorchMLPGANAdapter):
    framework = "torch_again"
