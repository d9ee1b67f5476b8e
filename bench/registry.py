"""Which families and adapters exist, found without importing any framework.

Built-in adapters are listed here by module path; third-party packages add theirs under the
entry-point group `gan_bench.adapters`, named `<model>.<framework>` with the value
`package.module:AdapterClass`. A third-party adapter of a built-in family (say `dcgan.jax`)
gets that family's spec, and so its parity checks and FLOP counts, for free.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from importlib.metadata import entry_points

from bench.adapter import Adapter, FamilyConfig
from bench.errors import UsageError

ENTRY_POINT_GROUP = "gan_bench.adapters"

FAMILIES = {
    "mlp_gan": "implementations.spec.mlp_gan:MLPGANConfig",
    "dcgan": "implementations.spec.dcgan:DCGANConfig",
    "progan": "implementations.spec.progan:ProGANConfig",
    "style_transfer": "implementations.spec.style_transfer:StyleTransferConfig",
}

FRAMEWORK_MODULES = {"torch": "torch", "tf": "tensorflow", "jax": "jax"}
FRAMEWORK_EXTRAS = {"torch": "pip install 'gan-bench[torch]'", "tf": "pip install 'gan-bench[tf]'"}

_BUILT_IN_CLASSES = {
    "mlp_gan": "MLPGANAdapter",
    "dcgan": "DCGANAdapter",
    "progan": "ProGANAdapter",
    "style_transfer": "StyleTransferAdapter",
}


@dataclass(frozen=True)
class AdapterEntry:
    model: str
    framework: str
    target: str  # "package.module:Class"
    source: str  # "built-in" or the distribution that registered it

    def installed(self) -> bool:
        module = FRAMEWORK_MODULES.get(self.framework, self.target.split(".")[0])
        return importlib.util.find_spec(module) is not None

    def load(self) -> type[Adapter]:
        """Import the adapter class: this imports its framework, so only workers call it."""
        return load_target(self.target)


def load_target(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def built_in_entries() -> list[AdapterEntry]:
    return [
        AdapterEntry(model, framework, f"implementations.{framework}.{model}:{cls}", "built-in")
        for model, cls in _BUILT_IN_CLASSES.items()
        for framework in ("torch", "tf")
    ]


def plugin_entries() -> list[AdapterEntry]:
    entries = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        model, _, framework = ep.name.rpartition(".")
        if model and framework:
            source = ep.dist.name if ep.dist else "plugin"
            entries.append(AdapterEntry(model, framework, ep.value, source))
    return entries


def all_entries() -> list[AdapterEntry]:
    return built_in_entries() + plugin_entries()


def models() -> list[str]:
    return list(dict.fromkeys(e.model for e in all_entries()))


def frameworks() -> list[str]:
    return list(dict.fromkeys(e.framework for e in all_entries()))


def find(model: str, framework: str) -> AdapterEntry:
    for entry in reversed(all_entries()):  # a plugin may replace a built-in
        if entry.model == model and entry.framework == framework:
            return entry
    if model not in models():
        raise UsageError(f"unknown model {model!r}; `gan-bench list` shows: {', '.join(models())}")
    raise UsageError(
        f"no {framework!r} implementation of {model}; frameworks: {', '.join(frameworks())}"
    )


def family_config(model: str) -> type[FamilyConfig]:
    if model not in FAMILIES:
        raise UsageError(f"unknown model {model!r}; `gan-bench list` shows: {', '.join(models())}")
    return load_target(FAMILIES[model])


def parse_models(text: str | None) -> list[str]:
    """A comma-separated list of model names, checked; None means every model."""
    if not text:
        return models()
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in models():
            raise UsageError(
                f"unknown model {name!r}; `gan-bench list` shows: {', '.join(models())}"
            )
    return names


def parse_frameworks(text: str | None, require_installed: bool = True) -> list[str]:
    names = [n.strip() for n in (text or "torch,tf").split(",") if n.strip()]
    for name in names:
        if name not in frameworks():
            raise UsageError(
                f"unknown framework {name!r}; use one of {', '.join(frameworks())}"
            )
        module = FRAMEWORK_MODULES.get(name, name)
        if require_installed and importlib.util.find_spec(module) is None:
            fix = FRAMEWORK_EXTRAS.get(name, f"install {module}")
            raise UsageError(f"framework {name!r} is not installed; {fix}")
    return names
