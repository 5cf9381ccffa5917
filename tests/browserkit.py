"""Headless Chromium for the browser tests (the static site, the Label Studio labeling view)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def need_browser() -> None:
    """Skip when Chromium or Playwright is missing, unless PACTNEWS_REQUIRE_BROWSER=1 makes it a failure."""
    reason = None
    if not CHROMIUM.is_file():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is missing (pip install -e '.[test]')"
    if reason:
        if os.environ.get("PACTNEWS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PACTNEWS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
