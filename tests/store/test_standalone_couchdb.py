"""``pwsk standalone`` on CouchDB: the whole platform with ``PWSK_STORE=couchdb://…``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.servers import start_server
from tests.store.couch import PouchServer

pytestmark = pytest.mark.couchdb

NS = "/api/v1/namespaces/_"


def test_create_invoke_and_list_activations(pouchdb: PouchServer, tmp_path: Path) -> None:
    store_url = pouchdb.store_url()
    server = start_server(tmp_path, env={"PWSK_STORE": store_url})
    try:
        with server.client() as api:
            code = "def main(a):\n    return {'hi': a.get('name')}\n"
            r = api.put(f"{NS}/actions/hello", json={"exec": {"kind": "python:3.11",
                                                               "code": code}})
            assert r.status_code == 200, r.text
            assert api.put(f"{NS}/actions/hello", json={}).status_code == 409
            assert [a["name"] for a in api.get(f"{NS}/actions").json()] == ["hello"]

            r = api.post(f"{NS}/actions/hello", params={"blocking": "true"},
                         json={"name": "couch"})
            assert r.status_code == 200, r.text
            run = r.json()
            assert run["response"]["result"] == {"hi": "couch"}

            # The record is written off the response path: wait for it to be listed.
            deadline = time.monotonic() + 20
            listed: list[dict[str, object]] = []
            while time.monotonic() < deadline and not listed:
                listed = api.get(f"{NS}/activations", params={"name": "hello"}).json()
                time.sleep(0.05)
            assert [a["activationId"] for a in listed] == [run["activationId"]]
            assert api.get(f"{NS}/activations", params={"count": "true"}).json() == {
                "activations": 1}
            got = api.get(f"{NS}/activations/{run['activationId']}").json()
            assert got["response"]["result"] == {"hi": "couch"}
            assert not any(k.startswith("pwsk_") for k in got)
    finally:
        assert server.stop() == 0, server.log()

    # Everything lives in the CouchDB databases, not in the data directory's SQLite file.
    assert not (tmp_path / "pwsk.db").exists()
    prefix = store_url.rsplit("prefix=", 1)[1]
    docs = httpx.get(f"{pouchdb.http_url}/{prefix}activations/_all_docs").json()
    assert f"guest/{run['activationId']}" in [row["id"] for row in docs["rows"]]
