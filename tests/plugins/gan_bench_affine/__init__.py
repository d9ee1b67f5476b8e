"""A third-party model family, as a separate distribution would ship it: the affine GAN.

The smallest real GAN on 2-D points: G(z) = A z + a, D(x) = w.x + b, trained with the built-in
non-saturating BCE iteration. It registers its spec and both adapters by entry point
(../gan_bench_affine-1.0.dist-info) and touches nothing in gan-bench.
"""
