"""The dashboard as files and as served: vendored code matches its recorded hashes, nothing is
loaded from elsewhere, the gateway serves page and configuration."""

from __future__ import annotations

import hashlib
import re

import httpx

from tests.servers import ROOT, Server

SITE = ROOT / "dashboard"


def test_vendored_files_match_versions() -> None:
    lines = [line.split() for line in (SITE / "vendor" / "VERSIONS").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    packages = [line for line in lines if len(line) == 3 and not line[0].count(".")]
    files = {line[0]: line[1] for line in lines if "." in line[0]}
    assert packages == [["uplot", "1.6.32", packages[0][2]]]
    assert set(files) == {"uPlot.esm.js", "uPlot.min.css", "uPlot.LICENSE"}
    for name, digest in files.items():
        assert hashlib.sha256((SITE / "vendor" / name).read_bytes()).hexdigest() == digest, name
    vendored = {p.name for p in (SITE / "vendor").iterdir()} - {"VERSIONS"}
    assert vendored == set(files)  # nothing unrecorded


def test_everything_is_local() -> None:
    for path in SITE.glob("*.*"):
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert not re.search(r"from \"(https?:)?//", text), path.name


def test_the_gateway_serves_the_site(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/dashboard").headers["location"] == "/dashboard/"
        page = http.get("/dashboard/")
        assert page.status_code == 200 and 'data-testid="connection-status"' in page.text
        for asset in ("app.js", "api.js", "live.js", "tank.js", "charts.js", "style.css",
                      "vendor/uPlot.esm.js", "vendor/uPlot.min.css"):
            answer = http.get(f"/dashboard/{asset}")
            assert answer.status_code == 200, asset
            if asset.endswith(".js"):
                assert "javascript" in answer.headers["content-type"]
        assert http.get("/dashboard/nope.js").status_code == 404
        config = http.get("/dashboard/config.json").json()
        assert config == {"namespace": "guest", "package": "brewery", "channel": "brewery",
                          "minutes": 60, "title": "Brewery"}
