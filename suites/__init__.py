"""The built-in benchmark suites. Each suite module (throughput, overhead, fid, mode_collapse,
convergence) follows bench.suite's contract and registers under the entry-point group
`gan_bench.suites` in pyproject.toml, as a third party's would; quality_engine.py (with
growth.py) is no suite but the training and evaluation the quality suites share."""
