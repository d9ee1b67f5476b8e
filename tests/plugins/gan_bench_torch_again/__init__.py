"""A fourth framework through the plug-in door: PyTorch's MLP GAN under the name `torch_again`.

A thin subclass of the built-in adapter and a framework declaration, registered by entry
points as any out-of-tree package would: gan-bench's contract and parity tests
(bench.testing) then test it with no edit of bench/, suites/ or tests/.
"""
