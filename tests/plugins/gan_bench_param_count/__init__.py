"""A third-party suite, as a separate distribution would ship it (../gan_bench_param_count-1.0
.dist-info registers it as `param-count`)."""
