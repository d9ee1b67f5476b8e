"""Cross-framework parity (docs/methodology/parity.md): the implementations of a family compute
one function.

For every variant a family names (FamilyConfig.parity_configs), with the same weights (the
reference's initialisation, zero tensors filled with small noise), batch and noise from numpy:

1. round trip: reference -> numpy -> other -> numpy -> reference reproduces every weight bit
   for bit;
2. forward: every forward output, and samples (eval mode) from the same weights, agree to
   1e-5 relative;
3. one training step: every updated weight and every loss agrees to 1e-4 relative (BatchNorm
   running variances to 1e-3: torch keeps the unbiased variance, Keras the biased one);
4. (on request) a trajectory of N steps on the same batches and noise: the loss curves stay
   within the family's stated bound.

Each side runs in its own fresh process (bench.fresh_process); weights and outputs pass
through .npz files. Relative error of a tensor: max |a - b| / max |b|, b the reference.

A side is a framework on a device (CPU by default). One framework on two devices (torch on
the CPU against torch on cuda) checks a device path against the CPU path, which is checked
against the other framework: the chain a GPU machine without the other framework can close.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import UsageError
from bench.fresh_process import FreshProcessError, run_fresh
from bench.registry import family_config

FORWARD_TOL = 1e-5
STEP_TOL = 1e-4
#: torch tracks the unbiased batch variance, Keras the biased one (docs/models.md#parity-pitfalls):
#: after one step with momentum 0.1 they differ by 0.1 * var / (n - 1), n = batch x height x
#: width >= 128 here.
RUNNING_VAR_TOL = 1e-3
WORKER_TIMEOUT_S = 1800


@dataclass(frozen=True)
class ParityCheck:
    model: str
    variant: str
    check: str
    worst: float
    tolerance: float
    where: str

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = max(float(np.abs(b).max()), 1e-12)
    return float(np.abs(a - b).max() / scale)


# --- inside a framework's process ---

def _build(model: str, framework: str, label: str, seed: int, threads: int, device: str):
    from bench.build import require_device
    from bench.registry import find

    adapter_cls = find(model, framework).load()
    adapter_cls.configure(threads)
    require_device(adapter_cls, framework, device, "check parity on a device it has (--devices)")
    config = family_config(model).for_profile("quick").parity_configs()[label]
    return adapter_cls(config, seed=seed, device=device), config


def step_inputs(config, seed: int, steps: int) -> list[tuple[np.ndarray, dict]]:
    """The batch and noise of each of `steps` training steps, from numpy: same on every side."""
    from bench.data import batches, step_noise

    stream = batches(config.load_data(seed), config.examples_per_step(), seed)
    return [(next(stream), step_noise(config.noise_shapes(), seed, t)) for t in range(steps)]


def fill_zero_tensors(weights: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Zero-initialised tensors (biases, BN shifts) get N(0, 0.1) values from numpy.

    Zeros would hide a wrong bias layout from the forward check, and make a bias's first
    Adam update a bare sign of a gradient that may cancel to rounding noise.
    """
    rng = np.random.default_rng(seed)
    return {name: (0.1 * rng.standard_normal(w.shape)).astype(w.dtype) if not w.any() else w
            for name, w in sorted(weights.items())}


def probe(model: str, framework: str, labels: list[str], seed: int, trajectory: int,
          weights_dir: str | None, out_dir: str, threads: int = 2, device: str = "cpu") -> None:
    """Run checks 1-4 on one side for every variant; save each to <out_dir>/<label>.npz."""
    for label in labels:
        adapter, config = _build(model, framework, label, seed, threads, device)
        if weights_dir:
            adapter.set_weights(dict(np.load(Path(weights_dir) / f"{label}.npz")))
        else:
            adapter.set_weights(fill_zero_tensors(adapter.get_weights(), seed))
        saved = {f"w0/{k}": v for k, v in adapter.get_weights().items()}
        # Eval mode on the loaded weights: BatchNorm uses the (noise-filled) running means.
        saved["sample/G(z)"] = adapter.sample(config.batch_size, seed)
        (batch, noise), *rest = step_inputs(config, seed, max(1, trajectory))
        staged = adapter.stage(batch, noise)
        saved.update({f"fwd/{k}": v for k, v in adapter.forward(staged).items()})
        adapter.train_step(staged)
        saved.update({f"loss/{k}": np.float64(v) for k, v in adapter.losses().items()})
        saved.update({f"w1/{k}": v for k, v in adapter.get_weights().items()})
        curve = [adapter.losses()]
        for batch, noise in rest:
            adapter.train_step(adapter.stage(batch, noise))
            curve.append(adapter.losses())
        if trajectory:
            saved.update({f"traj/{k}": np.array([c[k] for c in curve]) for k in curve[0]})
        np.savez(Path(out_dir) / f"{label}.npz", **saved)


def reexport(model: str, framework: str, labels: list[str], weights_dir: str, out_dir: str,
             threads: int = 2, device: str = "cpu") -> None:
    """Load weights and export them again: the return leg of the round trip."""
    for label in labels:
        adapter, _ = _build(model, framework, label, 0, threads, device)
        adapter.set_weights(dict(np.load(Path(weights_dir) / f"{label}.npz")))
        np.savez(Path(out_dir) / f"{label}.npz", **adapter.get_weights())


# --- in the harness's process ---

def _call(function: str, **inputs) -> None:
    """One side of the checks, `probe` or `reexport`, in that framework's own process."""
    try:
        run_fresh(f"bench.parity:{function}", inputs, timeout_s=WORKER_TIMEOUT_S, threads=2)
    except FreshProcessError as exc:
        raise RuntimeError(f"parity {function} of {inputs['model']} in "
                           f"{inputs['framework']} on {inputs['device']} failed: {exc}") from None


def _section(archive: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in archive.items() if k.startswith(prefix)}


def _without(arrays: dict, names: list[str]) -> dict:
    return {k: v for k, v in arrays.items() if k not in names}


def _only(arrays: dict, names: list[str]) -> dict:
    return {k: arrays[k] for k in names if k in arrays}


def _worst(model: str, label: str, check: str, ref: dict, other: dict,
           tolerance: float) -> ParityCheck:
    if set(ref) != set(other):
        missing = sorted(set(ref) ^ set(other))[:3]
        return ParityCheck(model, label, check, float("inf"), tolerance, f"keys differ: {missing}")
    errors = {k: relative_error(other[k], ref[k]) for k in ref}
    where = max(errors, key=errors.get)
    return ParityCheck(model, label, check, errors[where], tolerance, where)


@dataclass(frozen=True)
class VariantRun:
    """What the three launches saved for one variant (probe archives, see `probe`)."""

    ref: dict[str, np.ndarray]  # the reference framework, from its own init or the start
    other: dict[str, np.ndarray]  # the other framework from the reference's weights
    returned: dict[str, np.ndarray]  # the other's export, loaded and exported by the reference


def probe_variants(model: str, frameworks: tuple[str, str], work: Path, seed: int = 0,
                   trajectory: int = 0, start_dir: Path | None = None,
                   devices: tuple[str, str] = ("cpu", "cpu")) -> dict[str, VariantRun]:
    """Both sides of every variant of one model: three worker launches in all.

    Both start from the reference's initialisation, or from <start_dir>/<label>.npz.
    """
    ref_fw, other_fw = frameworks
    ref_device, other_device = devices
    labels = list(family_config(model).for_profile("quick").parity_configs())
    dirs = {name: work / model / name for name in ("ref", "w0", "other", "w0-other", "back")}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    common = {"model": model, "labels": labels, "seed": seed, "trajectory": trajectory}
    _call("probe", framework=ref_fw, device=ref_device,
          weights_dir=str(start_dir) if start_dir else None, out_dir=str(dirs["ref"]), **common)
    refs = {label: dict(np.load(dirs["ref"] / f"{label}.npz")) for label in labels}
    for label, ref in refs.items():
        np.savez(dirs["w0"] / f"{label}.npz", **_section(ref, "w0/"))
    _call("probe", framework=other_fw, device=other_device, weights_dir=str(dirs["w0"]),
          out_dir=str(dirs["other"]), **common)
    others = {label: dict(np.load(dirs["other"] / f"{label}.npz")) for label in labels}
    for label, other in others.items():
        np.savez(dirs["w0-other"] / f"{label}.npz", **_section(other, "w0/"))
    _call("reexport", model=model, framework=ref_fw, device=ref_device, labels=labels,
          weights_dir=str(dirs["w0-other"]), out_dir=str(dirs["back"]))
    return {label: VariantRun(refs[label], others[label],
                              dict(np.load(dirs["back"] / f"{label}.npz")))
            for label in labels}


def check_model(model: str, frameworks: tuple[str, str], work: Path, seed: int = 0,
                trajectory: int = 0, trajectory_tol: float = 0.0,
                devices: tuple[str, str] = ("cpu", "cpu")) -> list[ParityCheck]:
    """All checks for every variant of one model."""
    runs = probe_variants(model, frameworks, work, seed, trajectory, devices=devices)
    return [check for label, run in runs.items()
            for check in compare_variant(model, label, run, trajectory, trajectory_tol)]


def compare_variant(model: str, label: str, run: VariantRun, trajectory: int,
                    trajectory_tol: float) -> list[ParityCheck]:
    ref, other = run.ref, run.other
    w0_ref = _section(ref, "w0/")
    exact = [k for k in w0_ref if not np.array_equal(w0_ref[k], run.returned.get(k))]
    results = [ParityCheck(model, label, "1 round trip (bit-exact)", float(len(exact)), 0.0,
                           exact[0] if exact else "all weights")]
    results.append(_worst(model, label, "2 forward", _section(ref, "fwd/"),
                          _section(other, "fwd/"), FORWARD_TOL))
    sample_tol = family_config(model).sample_tolerance or FORWARD_TOL
    results.append(_worst(model, label, "2 samples (eval mode)", _section(ref, "sample/"),
                          _section(other, "sample/"), sample_tol))
    w1_ref, w1_other = _section(ref, "w1/"), _section(other, "w1/")
    variances = [k for k in w1_ref if k.endswith("running_var")]
    results.append(_worst(model, label, "3 one step: weights", _without(w1_ref, variances),
                          _without(w1_other, variances), STEP_TOL))
    if variances:
        results.append(_worst(model, label, "3 one step: BN running var", _only(w1_ref, variances),
                              _only(w1_other, variances), RUNNING_VAR_TOL))
    results.append(_worst(model, label, "3 one step: losses", _section(ref, "loss/"),
                          _section(other, "loss/"), STEP_TOL))
    if trajectory:
        ref_t, other_t = _section(ref, "traj/"), _section(other, "traj/")
        diffs = {k: float(np.abs(ref_t[k] - other_t[k]).max()) for k in ref_t}
        where = max(diffs, key=diffs.get)
        results.append(ParityCheck(model, label, f"4 trajectory {trajectory} steps: |dloss|",
                                   diffs[where], trajectory_tol, where))
    return results


def run_parity(models: list[str], frameworks: tuple[str, str],
               trajectory: int = 0, seed: int = 0, on_result=None,
               devices: tuple[str, str] = ("cpu", "cpu")) -> list[ParityCheck]:
    results = []
    with tempfile.TemporaryDirectory(prefix="gan-bench-parity-") as tmp:
        for model in models:
            tolerance = family_config(model).trajectory_tolerance
            if trajectory and not tolerance:
                raise UsageError(f"{model} states no trajectory bound; run without --trajectory")
            for result in check_model(model, frameworks, Path(tmp), seed, trajectory,
                                      tolerance, devices):
                results.append(result)
                if on_result:
                    on_result(result)
    return results
