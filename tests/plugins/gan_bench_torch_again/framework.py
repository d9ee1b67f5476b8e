"""The declaration of `torch_again`: PyTorch under another name, eager only."""

from bench.framework import EAGER, Framework, Mode

FRAMEWORK = Framework(name="torch_again", module="torch",
                      install="pip install gan-bench-torch-again", colour="#56b4e9",
                      modes=(Mode(EAGER, "eager"),), default_mode=EAGER)
