"""Screenshots of the essay page for the docs: phone and desktop, light and dark.

    python -m kizuna.screenshots [--out docs]

Builds the site (development settings) into a temporary folder, serves it with
kizuna.serve on loopback, photographs the essay with Debian's chromium through
Playwright, and stops the server by its process id. Nothing in output/ changes.
"""

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kizuna import CONTENT, DEV_SETTINGS, ROOT
from kizuna.browser import launch
from kizuna.build import build
from kizuna.processes import free_port, server
from kizuna.serve import command as site_server

ESSAY = "/essays/unresolved-desire-to-connect/"
MAX_BYTES = 400_000  # keep the docs light: a screenshot is an illustration, not an archive


@dataclass(frozen=True)
class Shot:
    name: str  # file name without .png
    width: int
    height: int
    scale: int  # device pixels per CSS pixel
    scheme: str  # the reader's system setting: "light" or "dark"
    phone: bool = False
    full_page: bool = False


SHOTS = [
    Shot("essay-phone-light", 390, 844, 2, "light", phone=True),
    Shot("essay-phone-dark", 390, 844, 2, "dark", phone=True),
    # The whole essay at one device pixel per CSS pixel: at 2x it would be several MB.
    Shot("essay-phone-light-full", 390, 844, 1, "light", phone=True, full_page=True),
    Shot("essay-desktop-light", 1280, 900, 1, "light"),
    Shot("essay-desktop-dark", 1280, 900, 1, "dark"),
]


def photograph(base_url: str, out: Path, shots=SHOTS) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for shot in shots:
                context = browser.new_context(
                    viewport={"width": shot.width, "height": shot.height},
                    device_scale_factor=shot.scale, is_mobile=shot.phone, has_touch=shot.phone,
                    color_scheme=shot.scheme, reduced_motion="reduce",
                )
                try:
                    page = context.new_page()
                    page.goto(base_url + ESSAY, wait_until="load")
                    page.evaluate("document.fonts.ready.then(() => true)")
                    path = out / f"{shot.name}.png"
                    page.screenshot(path=str(path), full_page=shot.full_page, animations="disabled")
                    written.append(path)
                finally:
                    context.close()
        finally:
            browser.close()
    return written


def take_screenshots(out: Path) -> list[Path]:
    """Build, serve, photograph; the server is stopped by pid whatever happens."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kizuna-shots-") as folder:
        site = build(DEV_SETTINGS, Path(folder) / "output", CONTENT, quiet=True)
        port = free_port()
        with server(site_server(site, port), port, cwd=ROOT):
            return photograph(f"http://127.0.0.1:{port}", out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot the essay page (phone and desktop, light and dark).")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs/)")
    args = parser.parse_args(argv)
    status = 0
    for path in take_screenshots(args.out):
        size = path.stat().st_size
        note = ""
        if size > MAX_BYTES:
            note, status = f"  (over {MAX_BYTES // 1000} KB)", 1
        print(f"{path}  {size // 1024} KB{note}")
    return status


if __name__ == "__main__":
    sys.exit(main())
