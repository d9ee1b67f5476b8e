"""A framework's declaration: how to find it, the modes its steps run in, and how it is shown.

Each framework registers one `Framework` under the entry-point group `gan_bench.frameworks`
(bench.registry), from a module that imports no framework: the main process plans jobs,
checks `--modes` and colours figures from it without loading torch, TensorFlow or JAX.
Its adapters (bench.adapter) run the modes it declares.

The *default mode* is the way the framework's users train by default: what a comparison
"as used" times. It may depend on the device (Keras' `fit` turns XLA on only where a GPU is
present), so a declaration names a default per device, with one for every other device.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.errors import UsageError

#: The mode every framework can run: each operation dispatched as the code reaches it. The
#: "eager" comparison pairs the frameworks in it, as a diagnostic of dispatch cost.
EAGER = "eager"
#: Colours of frameworks that declare none (colour-blind safe, apart from the built-ins').
UNDECLARED_COLOURS = ("#cc79a7", "#e69f00", "#56b4e9")


@dataclass(frozen=True)
class Mode:
    """One way a framework runs a training step."""

    name: str  # what --modes and every record say
    label: str  # what the framework's users call it: "tf.function", "torch.compile"


@dataclass(frozen=True)
class Framework:
    name: str
    module: str  # the import that must succeed for its adapters to run
    install: str  # the command that installs it, for the error that says it is missing
    colour: str  # its colour in every figure
    modes: tuple[Mode, ...]
    default_mode: str  # the way its users train, on any device not in device_default_modes
    device_default_modes: Mapping[str, str] = field(default_factory=dict)
    #: Where the default comes from, for the docs and the report.
    default_mode_source: str = ""
    packages: tuple[str, ...] = ()  # distributions whose versions every record carries
    #: Place in tables and figures; the lowest is the default reference of comparisons.
    order: int = 100

    def __post_init__(self) -> None:
        for name in (self.default_mode, *self.device_default_modes.values()):
            self.mode(name)  # a default must be a declared mode

    def mode_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modes)

    def mode(self, name: str) -> Mode:
        """The declared mode `name`, or one line naming the modes there are."""
        for mode in self.modes:
            if mode.name == name:
                return mode
        raise UsageError(f"{self.name} has no mode {name!r}; its modes: "
                         f"{', '.join(self.mode_names())}")

    def default_for(self, device: str) -> str:
        """The mode its users train in on this device."""
        return self.device_default_modes.get(device, self.default_mode)

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


def undeclared(name: str) -> Framework:
    """A framework some plug-in's adapter names without declaring it: eager only, its own
    name as the module to import."""
    return Framework(name, module=name, install=f"install the package that provides {name!r}",
                     colour=UNDECLARED_COLOURS[sum(map(ord, name)) % len(UNDECLARED_COLOURS)],
                     modes=(Mode(EAGER, EAGER),), default_mode=EAGER)


DEFAULT = "default"  # in --modes: each framework's default mode on the job's device


def check_requested_modes(requested: tuple[str, ...], frameworks: list[Framework]) -> None:
    """`--modes` items are `mode`, `framework:mode` or `default`: each must name a mode some
    selected framework declares (that framework, where one is named)."""
    names = {fw.name: fw for fw in frameworks}
    for item in requested:
        owner, _, mode = item.rpartition(":")
        if owner and owner not in names:
            raise UsageError(f"--modes {item}: {owner!r} is not among the selected frameworks "
                             f"({', '.join(names)})")
        if mode == DEFAULT:
            continue
        if owner:
            names[owner].mode(mode)
        elif not any(mode in fw.mode_names() for fw in frameworks):
            declared = sorted({m for fw in frameworks for m in fw.mode_names()})
            raise UsageError(f"unknown mode {mode!r}; the selected frameworks declare "
                             f"{', '.join(declared)} (or use {DEFAULT})")


def modes_to_run(fw: Framework, device: str, requested: tuple[str, ...],
                 every_mode: bool) -> tuple[str, ...]:
    """The modes a timing suite runs for `fw` on `device`, its default first.

    Without `requested`: every declared mode, or, for a profile that runs the default only
    (`every_mode` False), the way the framework's users train on that device. With it: the
    requested modes this framework declares (checked by check_requested_modes).
    """
    default = fw.default_for(device)
    if requested:
        chosen = []
        for item in requested:
            owner, _, mode = item.rpartition(":")
            mode = default if mode == DEFAULT else mode
            if owner in ("", fw.name) and mode in fw.mode_names():
                chosen.append(mode)
    else:
        chosen = [m.name for m in fw.modes if every_mode or m.name == default]
    ordered = sorted(dict.fromkeys(chosen), key=lambda m: m != default)
    return tuple(ordered)
