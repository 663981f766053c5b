"""Debian's Chromium for page tests: where it is and how it starts here (never a downloaded browser)."""
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--no-proxy-server"]
