"""One registry for families, adapters and suites, found without importing any framework.

Everything registers through entry points, the built-ins (this distribution's pyproject.toml)
and third-party packages alike:

- `gan_bench.families`: `<family> = package.module:FamilyConfigSubclass`, the spec;
- `gan_bench.adapters`: `<family>.<framework> = package.module:AdapterClass`;
- `gan_bench.suites`: `<suite> = package.module` (a module or object with the suite protocol,
  bench.suite);
- `gan_bench.frameworks`: `<framework> = package.module:FRAMEWORK`, its declaration
  (bench.framework: modes, default mode, install command, colour), from a module that
  imports no framework.

A later distribution may replace an earlier name (a plug-in's `dcgan.torch` wins over the
built-in). A third-party adapter of a built-in family (say `dcgan.jax`) gets that family's
spec, and so its parity checks and FLOP counts, for free.
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from bench.errors import UsageError
from bench.framework import Framework, undeclared

FAMILIES_GROUP = "gan_bench.families"
ADAPTERS_GROUP = "gan_bench.adapters"
SUITES_GROUP = "gan_bench.suites"
FRAMEWORKS_GROUP = "gan_bench.frameworks"
THIS_DISTRIBUTION = "gan-bench"


@dataclass(frozen=True)
class Entry:
    """One registered name: what it points to and which distribution registered it."""

    name: str
    target: str  # "package.module:Attribute" or "package.module"
    source: str  # "built-in" or the registering distribution's name

    def load(self) -> Any:
        return load_target(self.target)


@dataclass(frozen=True)
class AdapterEntry(Entry):
    model: str = ""
    framework: str = ""

    def installed(self) -> bool:
        return framework(self.framework).installed()


def load_target(target: str) -> Any:
    """Import `package.module:Attribute` (or a bare module): only workers load adapters."""
    module, _, name = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, name) if name else loaded


@functools.lru_cache(maxsize=8)
def _group(group: str, path: tuple[str, ...]) -> dict[str, Entry]:
    """Name -> entry of one group; built-ins first so that plug-ins may replace them."""
    found = sorted(entry_points(group=group),
                   key=lambda ep: (ep.dist is None or ep.dist.name != THIS_DISTRIBUTION))
    entries: dict[str, Entry] = {}
    for ep in found:
        dist = ep.dist.name if ep.dist else "plug-in"
        entries[ep.name] = Entry(ep.name, ep.value,
                                 "built-in" if dist == THIS_DISTRIBUTION else dist)
    if not entries and group == FAMILIES_GROUP:
        raise UsageError("no model family is registered: install gan-bench (pip install -e .)")
    return entries


def group(name: str) -> dict[str, Entry]:
    return _group(name, tuple(sys.path))  # keyed on sys.path: a new path may add plug-ins


# --- families -------------------------------------------------------------------------------


def families() -> dict[str, Entry]:
    return group(FAMILIES_GROUP)


def registered(entries: dict[str, Entry], kind: str, name: str) -> Entry:
    """The entry of a registered name, or the one-line error that lists the registered ones."""
    if name not in entries:
        raise UsageError(f"unknown {kind} {name!r}; `gan-bench list` shows: {', '.join(entries)}")
    return entries[name]


def family_config(model: str) -> Any:
    """The family's FamilyConfig subclass (bench.adapter)."""
    return registered(families(), "model", model).load()


def models() -> list[str]:
    return list(families())


# --- adapters -------------------------------------------------------------------------------


def adapters() -> list[AdapterEntry]:
    """Every registered (family, framework) pair whose family is registered too."""
    out = []
    for entry in group(ADAPTERS_GROUP).values():
        model, _, framework = entry.name.rpartition(".")
        if model in families() and framework:
            out.append(AdapterEntry(entry.name, entry.target, entry.source, model, framework))
    return out


def frameworks() -> list[str]:
    """Every framework some adapter implements, in their declared order (the first is the
    default reference of comparisons), undeclared ones last."""
    implemented = {e.framework for e in adapters()}
    return sorted(implemented, key=lambda name: (framework(name).order, name))


@functools.lru_cache(maxsize=32)
def _declaration(name: str, path: tuple[str, ...]) -> Framework:
    entry = group(FRAMEWORKS_GROUP).get(name)
    return entry.load() if entry else undeclared(name)


def framework(name: str) -> Framework:
    """A framework's declaration (bench.framework); an undeclared one runs eager only."""
    return _declaration(name, tuple(sys.path))


def implements(model: str, framework: str) -> bool:
    return any(e.model == model and e.framework == framework for e in adapters())


def find(model: str, framework: str) -> AdapterEntry:
    for entry in adapters():
        if entry.model == model and entry.framework == framework:
            return entry
    family_config(model)  # an unknown model says so
    raise UsageError(
        f"no {framework!r} implementation of {model}; frameworks: {', '.join(frameworks())}"
    )


# --- suites ---------------------------------------------------------------------------------


def suites() -> dict[str, Entry]:
    return group(SUITES_GROUP)


def load_suite(name: str) -> Any:
    """A registered suite by name (bench.suite's protocol)."""
    return registered(suites(), "suite", name).load()


# --- command-line lists ---------------------------------------------------------------------


def split_list(text: str | None) -> tuple[str, ...]:
    """A comma-separated option value as a tuple of its non-empty items."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def parse_models(text: str | None) -> list[str]:
    """A comma-separated list of model names, checked; None means every model."""
    if not text:
        return models()
    names = list(split_list(text))
    for name in names:
        registered(families(), "model", name)
    return names


def installed_frameworks() -> list[str]:
    return [name for name in frameworks() if framework(name).installed()]


def parse_frameworks(text: str | None, require_installed: bool = True) -> list[str]:
    """A comma-separated list of frameworks, checked; None means every installed one."""
    if not text:
        names = installed_frameworks()
        if not names:
            raise UsageError("no framework is installed; pip install 'gan-bench[torch]' "
                             "(or [tf], [jax])")
        return names
    names = list(split_list(text))
    for name in names:
        if name not in frameworks():
            raise UsageError(
                f"unknown framework {name!r}; use one of {', '.join(frameworks())}"
            )
        if require_installed and not framework(name).installed():
            raise UsageError(f"framework {name!r} is not installed; "
                             f"{framework(name).install}")
    return names
