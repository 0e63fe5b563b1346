"""Walk the two-click route of docs/tracking_and_sweeps.md in headless Chromium; save screenshots.

Why a script and not a test: it needs a browser (Debian's ``chromium``) and Playwright, which
relmas does not depend on, and a store with real runs; it documents how the screenshots in
docs/img/ were made and lets anyone re-check the route after an MLflow upgrade.

Setup, once (outside the project's venv)::

    apt-get install chromium
    python3 -m venv /tmp/pw && /tmp/pw/bin/pip install playwright

Then, with ``relmas ui`` running on a store with a few ``relmas compare`` runs, pass the link
it prints for ``relmas-compare`` (quoted: it holds ``#`` and ``&``)::

    /tmp/pw/bin/python scripts/mlflow_screenshots.py 'LINK' docs/img

It opens the link (click 1), closes MLflow's assistant panel, saves ``mlflow_1_view.png``,
expands the newest parent run (click 2), saves ``mlflow_2_expanded.png``, then opens that parent
and saves ``mlflow_3_parent.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The flags that make Chromium work on a closed, screenless machine.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
NAME_CELL = "[col-id='attributes.`Run Name`']"


def main(link: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)  # fmt: skip
        page = browser.new_page(viewport={"width": 1440, "height": 860})
        page.goto(link)  # click 1: the link relmas ui prints
        page.wait_for_selector("[row-index]", timeout=120_000)
        page.wait_for_timeout(2000)
        close = page.locator("button[aria-label='Close']")  # MLflow's assistant panel
        if close.count():
            close.last.click()
            page.wait_for_timeout(800)
        page.screenshot(path=str(out / "mlflow_1_view.png"))
        page.locator(f"[row-index='0'] {NAME_CELL} button").first.click()  # click 2: expand
        page.wait_for_timeout(3000)
        page.screenshot(path=str(out / "mlflow_2_expanded.png"))
        page.locator(f"[row-index='0'] {NAME_CELL} a").first.click()  # the parent run's page
        page.wait_for_timeout(6000)
        page.screenshot(path=str(out / "mlflow_3_parent.png"))
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]))
