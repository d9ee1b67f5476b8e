"""The built-in benchmark suites. Each module follows bench.suite's protocol and registers
under the entry-point group `gan_bench.suites` in pyproject.toml, as a third party's would."""
