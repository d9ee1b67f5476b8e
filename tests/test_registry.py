"""The registry: built-in adapters, third-party entry points, installed frameworks."""

from __future__ import annotations

import sys

import pytest

from bench import registry
from bench.errors import UsageError


def test_built_in_pairs_resolve_without_importing_a_framework():
    entry = registry.find("mlp_gan", "tf")
    assert entry.target == "implementations.tf.mlp_gan:MLPGANAdapter"
    assert "tensorflow" not in sys.modules


def test_a_missing_framework_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(registry.FRAMEWORK_MODULES, "tf", "tensorflow_not_here")
    with pytest.raises(UsageError, match=r"not installed; pip install 'gan-bench\[tf\]'"):
        registry.parse_frameworks("torch,tf")


def test_third_party_adapters_register_by_entry_point(tmp_path, monkeypatch):
    dist = tmp_path / "gan_bench_jax-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gan-bench-jax\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[gan_bench.adapters]\nmlp_gan.jax = gan_bench_jax.mlp:MLPGANAdapter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = registry.find("mlp_gan", "jax")
    assert entry.source == "gan-bench-jax"
    assert entry.target == "gan_bench_jax.mlp:MLPGANAdapter"
    assert "jax" in registry.frameworks()
    assert registry.family_config("mlp_gan").family == "mlp_gan"  # it gets the family's spec


def test_unknown_names_are_usage_errors():
    with pytest.raises(UsageError, match="unknown model 'gan9000'"):
        registry.parse_models("mlp_gan,gan9000")
    with pytest.raises(UsageError, match="unknown framework 'caffe'"):
        registry.parse_frameworks("caffe")
