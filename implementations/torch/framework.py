"""PyTorch's declaration (bench.framework): eager is how its users train; torch.compile is
the compiled form, whose compile costs minutes on a CPU. Imports no torch."""

from bench.framework import EAGER, Framework, Mode

FRAMEWORK = Framework(
    name="torch",
    module="torch",
    install="pip install 'gan-bench[torch]'",
    colour="#d55e00",
    modes=(Mode(EAGER, "eager"), Mode("compiled", "torch.compile")),
    default_mode=EAGER,
    default_mode_source="PyTorch runs eagerly unless a model is wrapped in torch.compile",
    order=0,
    packages=("torch", "torch-fidelity"),
)
