"""The registry: built-ins and plug-ins alike by entry point, installed frameworks, and the
one-line errors for names it does not know."""

from __future__ import annotations

import dataclasses
import sys
from importlib.metadata import entry_points

import pytest

from bench import registry
from bench.errors import UsageError

BUILT_IN_FAMILIES = {"mlp_gan", "dcgan", "progan", "style_transfer", "pacgan"}
BUILT_IN_SUITES = {"throughput", "fid", "mode-collapse", "overhead", "convergence"}


def write_distribution(folder, name: str, groups: str) -> None:
    """A fake installed distribution: a *.dist-info folder with METADATA and `groups` as its
    entry_points.txt."""
    dist = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(groups)


def test_built_in_pairs_resolve_without_importing_a_framework():
    entry = registry.find("mlp_gan", "tf")
    assert entry.target == "implementations.tf.mlp_gan:MLPGANAdapter"
    assert "tensorflow" not in sys.modules


def test_a_missing_framework_names_the_extra_to_install(monkeypatch):
    declared = registry.framework

    def missing_tf(name: str):
        fw = declared(name)
        return dataclasses.replace(fw, module="tensorflow_not_here") if name == "tf" else fw

    monkeypatch.setattr(registry, "framework", missing_tf)
    with pytest.raises(UsageError, match=r"not installed; pip install 'gan-bench\[tf\]'"):
        registry.parse_frameworks("torch,tf")
    installed = registry.parse_frameworks(None)  # the default: every installed one
    assert installed[0] == "torch" and "tf" not in installed


def test_frameworks_declare_their_modes_and_default_mode_per_device():
    """Keras' fit turns XLA on only where a GPU is present; PyTorch trains eagerly."""
    assert registry.frameworks()[:2] == ["torch", "tf"]  # the reference first
    tf = registry.framework("tf")
    assert (tf.default_for("cpu"), tf.default_for("cuda")) == ("compiled", "xla")
    assert registry.framework("torch").default_for("cuda") == "eager"
    with pytest.raises(UsageError, match="torch has no mode 'xla'; its modes: eager, compiled"):
        registry.framework("torch").mode("xla")
    assert registry.framework("caffe").mode_names() == ("eager",)  # undeclared: eager only


def test_third_party_adapters_register_by_entry_point(tmp_path, monkeypatch):
    write_distribution(tmp_path, "gan-bench-jax",
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


def test_built_ins_register_through_entry_points_as_built_in():
    declared = {group: {ep.name: ep.value for ep in entry_points(group=group)
                        if ep.dist and ep.dist.name == registry.THIS_DISTRIBUTION}
                for group in (registry.FAMILIES_GROUP, registry.ADAPTERS_GROUP,
                              registry.SUITES_GROUP)}
    assert set(declared[registry.FAMILIES_GROUP]) == BUILT_IN_FAMILIES
    assert set(declared[registry.SUITES_GROUP]) >= BUILT_IN_SUITES
    for name, target in declared[registry.FAMILIES_GROUP].items():
        assert registry.families()[name] == registry.Entry(name, target, "built-in")
    for name, target in declared[registry.SUITES_GROUP].items():
        assert registry.suites()[name] == registry.Entry(name, target, "built-in")
    built_in = {e.name: e for e in registry.adapters() if e.source == "built-in"}
    assert {name: e.target for name, e in built_in.items()} == declared[registry.ADAPTERS_GROUP]
    pairs = {(e.model, e.framework) for e in built_in.values()}
    assert pairs >= {(family, framework) for family in BUILT_IN_FAMILIES
                     for framework in ("torch", "tf")}
    assert {family for family, _ in pairs} == BUILT_IN_FAMILIES
    assert {framework for _, framework in pairs} <= set(registry.frameworks())
    assert registry.family_config("dcgan").family == "dcgan"


def test_an_adapter_of_an_unregistered_family_is_not_offered(tmp_path, monkeypatch):
    write_distribution(tmp_path, "gan-bench-gan9000",
                       "[gan_bench.adapters]\ngan9000.torch = gan_bench_gan9000:Adapter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "gan9000" not in registry.models()
    assert all(entry.model != "gan9000" for entry in registry.adapters())
    # Asked for by name, it is the one-line error of an unknown model, naming the known ones.
    with pytest.raises(UsageError, match="unknown model 'gan9000'.*mlp_gan") as error:
        registry.find("gan9000", "torch")
    assert "\n" not in str(error.value)


def test_an_unknown_suite_is_one_line_naming_the_registered_ones():
    with pytest.raises(UsageError, match="unknown suite 'speed'") as error:
        registry.load_suite("speed")
    message = str(error.value)
    assert "\n" not in message
    assert all(name in message for name in registry.suites())
    assert set(registry.suites()) >= BUILT_IN_SUITES


def test_a_plug_in_suite_registers_by_entry_point(tmp_path, monkeypatch):
    write_distribution(tmp_path, "gan-bench-extra",
                       "[gan_bench.suites]\nextra = gan_bench_extra_suite\n")
    (tmp_path / "gan_bench_extra_suite.py").write_text("PROFILES = {'quick': {}}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.suites()["extra"].source == "gan-bench-extra"
    assert registry.load_suite("extra").PROFILES == {"quick": {}}
