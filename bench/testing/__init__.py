"""The adapter contract and cross-framework parity as tests any adapter package can run.

Installed with gan-bench and registered as a pytest plug-in (bench.testing.plugin, through
pytest's `pytest11` entry point), so an adapter written outside this repository is tested by

    pytest --pyargs bench.testing --gan-bench-framework NAME

in a process that imports that framework alone. The tests are parametrised over the
registered adapters of that framework: test_contract.py checks each against the adapter
contract (bench.adapter), test_parity.py each family against the reference framework's
implementation (bench.parity; the reference runs in its own fresh process).
"""
