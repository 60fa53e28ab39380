"""Debian's chromium as Playwright drives it here: one place for the binary and
the flags, shared by the browser tests and kizuna.screenshots."""

CHROMIUM = "/usr/bin/chromium"
# What works for Debian's chromium in this sandbox: no setuid sandbox, no GPU,
# and nothing that phones home (updates, sync, QUIC probes) while we test.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright, **options):
    """Headless Debian chromium from a started Playwright (sync or async API)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options)
