"""Time from a Step click to the page being idle again, in headless Chromium against a real server.

Usage:  .venv/bin/python bench/browser_step.py [--clicks 20] [--warmup 3]

For each configuration it opens /train, clicks "Step" a few times to warm up, then clicks it N more times and
reports the median and p90 of the click-to-idle latency and the ratio of the median to the 300 ms target. A first
row times a one-button Streamlit app the same way: Streamlit's own floor on this machine, which the app cannot beat.

What is measured, and with which clock: the browser's own ``performance.now()``. A capture-phase click
listener stamps the click as the browser dispatches it; a MutationObserver on the app root stamps the first
moment after it at which the script state is ``notRunning`` and the Step metric shows the next step (so an
idle state left over from before the click never ends the measurement). Playwright's polling latency is thus
not counted; the Python-side wall time (``time.perf_counter`` around click and wait) is printed beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser_support import (  # noqa: E402
    REPO_ROOT,
    assert_no_exception,
    chromium,
    click_and_wait,
    metric_value,
    new_page,
    open_page,
    streamlit_server,
    wait_idle,
)

TARGET_MS = 300.0
FLOOR_APP = """import streamlit as st

st.session_state.setdefault("step", 0)
if st.button("Step"):
    st.session_state.step += 1
st.metric("Step", st.session_state.step)
"""
CONFIGS = [("default", "/train"), ("V x D = 10,000 x 128", "/train?vocab_size=10000&dim=128")]

# Installed once per page load. window.__stepTimer.arm(n): the next click starts a timing that ends when
# the app is idle with the Step metric showing n.
TIMER_JS = """() => {
  const timer = {clickAt: null, idleAt: null, expected: null};
  const app = document.querySelector("[data-testid='stApp']");
  const stepShown = () => {
    for (const m of document.querySelectorAll("[data-testid='stMetric']")) {
      const label = m.querySelector("[data-testid='stMetricLabel']");
      if (label && label.innerText.trim() === "Step") {
        return m.querySelector("[data-testid='stMetricValue']")?.innerText.trim();
      }
    }
    return null;
  };
  const check = () => {
    if (timer.clickAt === null || timer.idleAt !== null) return;
    if (app.getAttribute("data-test-script-state") === "notRunning" && stepShown() === timer.expected) {
      timer.idleAt = performance.now();
    }
  };
  new MutationObserver(check).observe(app, {attributes: true, childList: true, subtree: true,
                                            characterData: true});
  document.addEventListener("click", () => { if (timer.expected !== null && timer.clickAt === null)
                                               timer.clickAt = performance.now(); }, true);
  timer.arm = (n) => { timer.clickAt = null; timer.idleAt = null; timer.expected = String(n); };
  window.__stepTimer = timer;
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(browser, url: str, clicks: int, warmup: int) -> tuple[list[float], list[float], float]:
    """In-page and wall-clock click-to-idle times (ms) of ``clicks`` Step clicks, and the first load (s)."""
    page = new_page(browser)
    started = time.perf_counter()
    open_page(page, url, timeout=180_000)
    first_load = time.perf_counter() - started
    assert_no_exception(page)
    step = int(metric_value(page, "Step").inner_text().replace(",", ""))
    for _ in range(warmup):
        step += 1
        click_and_wait(page, "Step", step, timeout=120_000)
    page.evaluate(TIMER_JS)
    step_button = page.get_by_role("button", name="Step", exact=True)
    in_page, wall = [], []
    for _ in range(clicks):
        step += 1
        page.evaluate(f"window.__stepTimer.arm({step})")
        t0 = time.perf_counter()
        step_button.click()
        page.wait_for_function("() => window.__stepTimer.idleAt !== null", timeout=120_000, polling="raf")
        wall.append((time.perf_counter() - t0) * 1000)
        in_page.append(page.evaluate("window.__stepTimer.idleAt - window.__stepTimer.clickAt"))
        wait_idle(page)
    assert_no_exception(page)
    page.context.close()
    return in_page, wall, first_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20, help="timed Step clicks per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="untimed Step clicks before timing")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="folder holding app.py")
    parser.add_argument("--no-floor", action="store_true", help="skip the one-button app that shows Streamlit's floor")
    args = parser.parse_args()

    rows = []
    if not args.no_floor:
        with tempfile.TemporaryDirectory() as folder, chromium() as browser:
            (Path(folder) / "app.py").write_text(FLOOR_APP)
            with streamlit_server(cwd=Path(folder)) as server:
                in_page, wall, first_load = measure(browser, server.url("/"), args.clicks, args.warmup)
                rows.append(("floor: 1-button app", "/", in_page, wall, first_load))
    with streamlit_server(cwd=args.repo) as server, chromium() as browser:
        for name, path in CONFIGS:
            in_page, wall, first_load = measure(browser, server.url(path), args.clicks, args.warmup)
            rows.append((name, path, in_page, wall, first_load))

    print(f"Step click -> app idle, headless Chromium, {args.clicks} clicks after {args.warmup} warm-up clicks")
    columns = ("median ms", "p90 ms", "min ms", "/300ms", "wall med", "1st load s")
    header = f"{'config':<22} " + " ".join(f"{c:>{max(7, len(c))}}" for c in columns)
    print(header)
    print("-" * len(header))
    for name, _path, in_page, wall, first_load in rows:
        median = statistics.median(in_page)
        print(
            f"{name:<22} {median:>9.0f} {percentile(in_page, 0.9):>7.0f} {min(in_page):>7.0f} "
            f"{median / TARGET_MS:>7.2f} {statistics.median(wall):>8.0f} {first_load:>10.1f}"
        )
    print("median/p90/min: browser performance.now() from click dispatch to script idle with the metric advanced;")
    print("wall med: Python perf_counter around click + wait (adds Playwright round trips); target median <= 300 ms.")
    if not args.no_floor:
        print("floor: a Streamlit app holding only the Step button and metric, on the same machine, same moment.")


if __name__ == "__main__":
    main()
