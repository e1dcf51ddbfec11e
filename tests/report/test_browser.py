"""The report as a person sees it: headless Chromium draws every plot, logs no error, runs no
planted script, and the run selector hides a run on every plot. Saves a screenshot.

    apt-get install chromium && pytest tests/report/test_browser.py
"""

from __future__ import annotations

import html as htmllib
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fakes import EVIL, EVIL_RUN

logger = logging.getLogger(__name__)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium not installed: apt-get install chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=10000"]

# Clicks "none", then seed0's box, as a person would; records what each plot shows.
CLICKS = """
(function () {
  function visible(run) {
    var n = 0;
    document.querySelectorAll(".js-plotly-plot").forEach(function (div) {
      div.data.forEach(function (t) {
        var name = t.name || "";
        if ((name === run || name.indexOf(run + " ") === 0) && t.visible !== "legendonly" && t.visible !== false) { n += 1; }
      });
    });
    return n;
  }
  var s = document.getElementById("pathdep-status");
  var timer = setInterval(function () {
    if (s.getAttribute("data-done") !== "1") { return; }
    clearInterval(timer);
    var before = [visible("seed0"), visible("threshold")];
    document.getElementById("runs-none").click();
    var none = [visible("seed0"), visible("seed1"), visible("threshold")];
    document.querySelector('#run-selector input[data-run="seed0"]').click();
    var one = [visible("seed0"), visible("seed1"), document.getElementById("runs-shown").textContent];
    s.setAttribute("data-clicks", JSON.stringify({before: before, none: none, one: one}));
  }, 50);
})();
"""


def chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr",
           "--v=0", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def status(dom: str) -> dict[str, str]:
    tag = re.search(r'<div id="pathdep-status"[^>]*>', dom)
    assert tag, "no #pathdep-status in the rendered page"
    return {k: htmllib.unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', tag.group(0))}


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def rendered(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chromium")
    res = chromium(built[1], tmp, "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout, res.stderr


def test_every_plot_draws_without_console_errors(rendered):
    dom, stderr = rendered
    st = status(dom)
    assert st["done"] == "1", "the page never finished drawing"
    assert json.loads(st["errors"]) == []
    assert st["plots-drawn"] == st["plots-expected"] == "8"
    assert dom.count('class="main-svg"') >= 8
    assert not [c for c in console(stderr) if re.search(r"Uncaught|violates|Refused|rror|Failed", c)]


def test_planted_scripts_show_as_text(rendered):
    dom, stderr = rendered
    assert "alert() called" not in dom and "alert(" not in "".join(console(stderr))
    assert "<script>alert" not in dom.replace(_plotly_bundle(), "")
    assert htmllib.escape(EVIL, quote=False) in dom  # the token, as text in a table cell
    assert "Outliers " + htmllib.escape(EVIL, quote=False) in dom  # as text in a plot title
    assert htmllib.escape(EVIL_RUN, quote=False) in dom  # the run name, in the selector


def test_run_selector_hides_a_run_on_every_plot(built, tmp_path):
    html = built[1].read_text()
    nonce = re.search(r'<script nonce="([^"]+)"', html).group(1)
    page = tmp_path / "clicks.html"
    page.write_text(html.replace("</body>", f'<script nonce="{nonce}">{CLICKS}</script></body>'))
    res = chromium(page, tmp_path, "--dump-dom")
    st = status(res.stdout)
    assert "clicks" in st, f"the clicks did not run: {st}"
    clicks = json.loads(st["clicks"])
    # seed0 on 6 curve plots (+ its interval band on one), the threshold line on each
    assert clicks["before"] == [7, 6]
    assert clicks["none"] == [0, 0, 6]  # runs hidden everywhere, non-run traces untouched
    assert clicks["one"] == [7, 0, "1 of 3 shown"]


def test_screenshot(built, tmp_path):
    shot = tmp_path / "report.png"
    res = chromium(built[1], tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 50_000, "the screenshot looks blank"
    logger.info("screenshot: %s", shot)


def _plotly_bundle() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
