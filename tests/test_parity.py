"""`gan-bench parity`: the two MLP GAN implementations compute the same function."""

from __future__ import annotations

import re

from conftest import run_cli


def worst_errors(output: str) -> dict[tuple[str, str], float]:
    rows = [re.split(r"\s{2,}", line) for line in output.splitlines()
            if line.startswith("mlp_gan ")]
    return {(variant, check): float(worst) for _, variant, check, worst, *_ in rows}


def test_mlp_gan_parity_checks_1_to_4():
    done = run_cli("parity", "--models", "mlp_gan", "--trajectory", "50")
    assert done.returncode == 0, done.stdout + done.stderr
    errors = worst_errors(done.stdout)
    for variant in ("points", "images"):
        assert errors[(variant, "1 round trip (bit-exact)")] == 0.0
        assert errors[(variant, "2 forward")] <= 1e-5
        assert errors[(variant, "3 one step: weights")] <= 1e-4
        assert errors[(variant, "3 one step: losses")] <= 1e-4
        assert errors[(variant, "4 trajectory 50 steps: |dloss|")] <= 1e-3
    assert "parity: 10 of 10 checks passed" in done.stdout


def test_parity_needs_two_frameworks():
    done = run_cli("parity", "--models", "mlp_gan", "--frameworks", "torch")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "two frameworks" in done.stderr
