"""The embedded CouchDB-compatible store actions use at /couch/{ns}/."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import invoke, put_action
from tests.conftest import DEPLOYMENT
from tests.servers import SYSTEM, Server

BASE = "/couch/_"
# The distributed deployment gives actions real CouchDB instead.
pytestmark = pytest.mark.skipif(DEPLOYMENT != "standalone",
                                reason="the embedded document store is part of standalone")


def test_documents_revisions_and_conflicts(api: httpx.Client, name: str) -> None:
    assert api.put(f"{BASE}/{name}").status_code == 201
    r = api.put(f"{BASE}/{name}")
    assert r.status_code == 412 and r.json()["error"] == "file_exists"
    created = api.put(f"{BASE}/{name}/doc1", json={"v": 1})
    assert created.status_code == 201
    rev = created.json()["rev"]
    assert api.get(f"{BASE}/{name}/doc1").json() == {"_id": "doc1", "_rev": rev, "v": 1}
    stale = api.put(f"{BASE}/{name}/doc1", json={"v": 2})
    assert stale.status_code == 409 and stale.json()["error"] == "conflict"
    updated = api.put(f"{BASE}/{name}/doc1", json={"v": 2, "_rev": rev})
    assert updated.status_code == 201
    posted = api.post(f"{BASE}/{name}", json={"v": 3})
    assert posted.status_code == 201 and len(posted.json()["id"]) == 32
    listed = api.get(f"{BASE}/{name}/_all_docs", params={"include_docs": "true"}).json()
    assert listed["total_rows"] == 2
    r = api.delete(f"{BASE}/{name}/doc1", params={"rev": updated.json()["rev"]})
    assert r.status_code == 200
    assert api.get(f"{BASE}/{name}/doc1").json()["error"] == "not_found"
    assert api.get(f"{BASE}/nodb-{name}/x").status_code == 404


def test_mango_find(api: httpx.Client, name: str) -> None:
    api.put(f"{BASE}/{name}")
    for i in range(6):
        api.post(f"{BASE}/{name}", json={"type": "reading", "tank": "mash" if i % 2 else "boil",
                                          "ts": i, "value": i * 1.5})
    assert api.post(f"{BASE}/{name}/_index", json={"index": {"fields": ["ts"]}}).json()[
        "result"] == "created"
    r = api.post(f"{BASE}/{name}/_find", json={
        "selector": {"tank": "mash", "ts": {"$gte": 2}}, "sort": [{"ts": "desc"}],
        "limit": 5, "fields": ["ts", "value"]})
    assert r.status_code == 200
    assert r.json()["docs"] == [{"ts": 5, "value": 7.5}, {"ts": 3, "value": 4.5}]
    r = api.post(f"{BASE}/{name}/_find", json={"selector": {"$or": [{"ts": 0}, {"ts": {
        "$in": [4]}}]}, "sort": ["ts"]})
    assert [d["ts"] for d in r.json()["docs"]] == [0, 4]
    bad = api.post(f"{BASE}/{name}/_find", json={"selector": {"ts": {"$regex": "x"}}})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"


def test_namespaces_are_isolated(server: Server, api: httpx.Client, name: str) -> None:
    api.put(f"{BASE}/{name}")
    api.put(f"{BASE}/{name}/secret", json={"k": 1})
    with server.client(SYSTEM) as system:
        assert system.get(f"{BASE}/{name}/secret").status_code == 404
        assert system.get(f"/couch/guest/{name}/secret").status_code == 403
    assert httpx.get(f"{server.url}{BASE}/{name}/secret").status_code == 401


def test_actions_reach_the_store(api: httpx.Client, name: str) -> None:
    code = '''
import base64, json, os, urllib.request
def main(a):
    url = os.environ["__OW_API_HOST"] + "/couch/_/" + a["db"]
    auth = base64.b64encode(os.environ["__OW_API_KEY"].encode()).decode()
    def call(method, path, body=None):
        req = urllib.request.Request(url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": "Basic " + auth, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return json.load(e)
    call("PUT", "")
    call("PUT", "/k", {"v": a["v"]})
    return call("GET", "/k")
'''
    put_action(api, name, code, annotations=[{"key": "provide-api-key", "value": True}])
    result = invoke(api, name, {"db": name, "v": 42}, result="true").json()
    assert result["v"] == 42 and result["_id"] == "k"
