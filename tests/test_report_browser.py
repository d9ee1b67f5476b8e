"""report.html in a real browser (headless Chromium, 1366 px wide): every figure loads, no table
runs past the viewport (a wide one scrolls inside its wrapper), the Summary comes first.

A copy of the page gets a small script that measures the laid-out page and writes what it
found into the DOM as JSON; --dump-dom reads it back. Skipped where no Chromium is
installed (.ci/run installs Debian's).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.jobs import Job
from bench.report.pages import Section, html_page, write_report
from gan_bench_testing.runs import artifact_records, quality_records, throughput_records, write_run

VIEWPORT = (1366, 900)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium found (apt-get install chromium; .ci/run does)")

PROBE = """<script>
window.addEventListener("load", () => {
  const width = document.documentElement.clientWidth;
  const tables = [...document.querySelectorAll("table")].map((table) => {
    const wrap = table.closest(".table-wrap");
    const box = (wrap || table).getBoundingClientRect();
    const scrolls = wrap !== null && ["auto", "scroll"].includes(getComputedStyle(wrap).overflowX);
    return {inside_viewport: box.left >= 0 && box.right <= width + 0.5,
            table_wider_than_box: table.getBoundingClientRect().width > box.width + 0.5,
            scrolls: scrolls};
  });
  const images = [...document.images].map((img) => ({
    alt: img.alt, loaded: img.complete && img.naturalWidth > 0}));
  const found = {viewport: width, page_width: document.documentElement.scrollWidth,
                 first_section: (document.querySelector("h2") || {}).textContent,
                 tables: tables, images: images};
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""


def probe(page: Path, tmp_path: Path) -> dict:
    """Lay the page out at 1366 x 900 in headless Chromium; what the probe script measured."""
    probed = tmp_path / f"probed-{page.name}"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "--virtual-time-budget=10000",
               "--dump-dom", probed.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe script did not run; Chromium printed:\n{dom[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture
def report_page(tmp_path):
    """A report with a throughput and a quality suite, trained and untrained samples."""
    run = tmp_path / "run"
    rng = np.random.default_rng(0)
    samples = []
    for framework in ("torch", "tf"):
        fid = Job(suite="fid", model="mlp_gan", framework=framework)
        samples += artifact_records(run, fid, rng.uniform(-1, 1, (64, 8, 8, 1)),
                                    dataset="digits", step=500, trained=True)
        timed = Job(suite="throughput", model="mlp_gan", framework=framework,
                    params={"variant": "points"})
        samples += artifact_records(run, timed, rng.normal(size=(500, 2)), variant="points",
                                    trained=False, step=40)
    quality = [{**r, "dataset": "digits", "n_samples": 1000} for r in quality_records()]
    write_run(run, throughput_records() + quality + samples, suites=("throughput", "fid"))
    write_report(run, ["md", "html"])
    return run / "report.html"


def test_the_report_reads_in_a_browser_at_laptop_width(report_page, tmp_path):
    found = probe(report_page, tmp_path)
    assert found["viewport"] <= VIEWPORT[0]
    assert found["first_section"] == "Summary"
    figures = len(list((report_page.parent / "figures").glob("*.png")))
    assert len(found["images"]) == figures > 0
    assert [i["alt"] for i in found["images"] if not i["loaded"]] == []
    assert len(found["tables"]) >= 5
    assert all(t["inside_viewport"] for t in found["tables"]), found["tables"]
    assert all(t["scrolls"] or not t["table_wider_than_box"] for t in found["tables"])
    assert found["page_width"] <= found["viewport"]  # nothing sticks out sideways


def test_a_table_too_wide_for_the_screen_scrolls_inside_the_page(tmp_path):
    wide = pd.DataFrame(np.arange(3 * 40, dtype=float).reshape(3, 40) * 1e4,
                        columns=[f"a long column name {i}" for i in range(40)])
    page = tmp_path / "wide.html"
    page.write_text(html_page("wide", [Section("Summary", {"wide": wide})]))
    found = probe(page, tmp_path)
    (table,) = found["tables"]
    assert table["table_wider_than_box"] and table["scrolls"] and table["inside_viewport"]
    assert found["page_width"] <= found["viewport"]
