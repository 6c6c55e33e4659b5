"""The HTML report in a real browser: Debian's chromium, driven by Playwright (which never
downloads a browser here; .ci/run installs chromium with apt-get)."""

import io
import os
from pathlib import Path

import pandas as pd
import pytest

from archspace.analysis.report import write_compare, write_report
from report_helpers import TRIALS, XSS, make_run

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.xdist_group("browser")  # one worker starts the browser, once

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs /usr/bin/chromium for the browser tests (.ci/run installs it)")
    pytest.skip("no /usr/bin/chromium here (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Page:
    """A page with everything it logs, requests and asks recorded."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.url = path.resolve().as_uri()
        self.errors, self.requests, self.dialogs = [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=true]", timeout=60_000)

    def rendered_points(self, figure: str) -> dict:
        """{trace kind or state: points drawn} of a figure, counted in its SVG."""
        return self.page.evaluate("""(id) => {
            const div = document.getElementById(id);
            const traces = div.querySelectorAll('g.scatterlayer g.trace');
            const out = {};
            div.data.forEach((t, k) => {
                const key = t.meta.kind === 'state' ? t.meta.state : t.meta.kind;
                out[key] = (out[key] || 0) + traces[k].querySelectorAll('path.point').length;
            });
            return out;
        }""", figure)

    def point(self, figure: str, state: str, index: int):
        """The centre of a drawn point of the trace of `state`."""
        k = self.page.evaluate("([id, state]) => document.getElementById(id).data.findIndex("
                               "t => t.meta.kind === 'state' && t.meta.state === state)", [figure, state])
        box = self.page.locator(f"#{figure} g.scatterlayer g.trace").nth(k).locator("path.point").nth(index).bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_report_renders_hovers_and_clicks_offline(browser, tmp_path):
    run = make_run(tmp_path / "run")
    results_md = f"# An experiment's tables\n\n| name | top-1 |\n|---|---|\n| {XSS} | 12.5 |\n"
    (run / "results.md").write_text(results_md)  # what `archspace experiment` writes beside its table
    report = write_report(run)
    table = pd.read_parquet(run / "trials.parquet")
    searched = table[~table["reference"]]
    expected = {s: int((searched["state"] == s).sum()) for s in ("complete", "pruned", "failed")}
    page = Page(browser, report)
    try:
        for figure in ("fig-gflops", "fig-params_m"):
            drawn = page.rendered_points(figure)
            assert {s: drawn[s] for s in expected} == expected == {"complete": 5, "pruned": 2, "failed": 1}
            assert drawn["reference"] == int(table["reference"].sum()) == 2
        assert page.page.locator("#fig-latency_ms").count() == 0  # the table has no latency
        labels = page.page.locator("#fig-gflops g.scatterlayer text").all_text_contents()
        assert sorted(labels) == ["VoV3D-M", "X3D-M"]
        complete = searched[searched["state"] == "complete"]
        assert page.page.evaluate("document.getElementById('fig-knobs').data[0].dimensions[0].values.length") == len(complete)
        curves = page.page.evaluate("document.getElementById('fig-curves').data.length")
        assert curves == int((table["accuracy_by_epoch"] != "[]").sum()) == 9  # the failed trial has none
        assert page.page.evaluate("document.getElementById('fig-hypervolume').data[0].x.length") == len(searched)
        assert page.page.locator("[id^=fig-edf-]").count() == 3  # block, width, depths

        # hover trial 3 (the third complete trial): its knobs and genome, its knob shown as text
        x, y = page.point("fig-gflops", "complete", list(complete["trial"]).index(3))
        page.page.mouse.move(x, y)
        hover = page.page.locator("#fig-gflops .hoverlayer .hovertext")
        hover.wait_for(timeout=10_000)
        text = hover.text_content()
        assert "trial 3" in text and f"block={XSS}" in text
        assert "inner_widths: [56, 112, 224, 448]" in text and "depths: [1, 2, 5, 3]" in text
        # click: the genome YAML and the exact train command
        page.page.mouse.click(x, y)
        page.page.locator("#selection-command").wait_for(timeout=10_000)
        command = page.page.locator("#selection-command").text_content()
        assert command == "archspace train --genome trial-0003.yaml --data '/data/synth dir' --out runs/handmade-trial-0003"
        assert "inner_widths: [56, 112, 224, 448]" in page.page.locator("#selection-yaml").text_content()

        # an experiment's results.md, shown as the text it is
        assert page.page.locator("#results-md").text_content() == results_md

        # nothing from data ran or loaded: no dialog, no image element, no request but the page
        assert page.dialogs == [] and page.page.locator("img").count() == 0
        assert set(page.requests) == {page.url}, page.requests
        assert page.errors == []
        _assert_not_blank(page.page.screenshot())
    finally:
        page.page.close()


def test_compare_renders_offline(browser, tmp_path):
    a = make_run(tmp_path / "a", name="vov3d")
    b = make_run(tmp_path / "b", name="x3d", trials=[t for t in TRIALS if t[0] != 3])
    page = Page(browser, write_compare([a, b], tmp_path / "compare.html"))
    try:
        drawn = page.page.evaluate("document.getElementById('fig-gflops').data"
                                   ".filter(t => t.meta.kind === 'state').map(t => t.x.length)")
        assert drawn == [5, 4]  # the complete trials of each run
        assert page.page.evaluate("document.getElementById('fig-hypervolume').data.length") == 2
        assert page.errors == [] and page.dialogs == [] and set(page.requests) == {page.url}
        _assert_not_blank(page.page.screenshot())
    finally:
        page.page.close()


def _assert_not_blank(png: bytes) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(image.getdata())
    inked = sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)
    assert inked > 0.03 and len(set(pixels)) > 50, (inked, len(set(pixels)))
