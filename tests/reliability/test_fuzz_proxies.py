"""Property-based fuzzing of the runtime proxies' ``/init`` and ``/run`` (python, nodejs,
blackbox), each a real process on loopback.

Whatever arrives, a proxy answers (no hang), never with a 500 (its "internal error": 4xx is a
bad request, 502 a broken action, as the upstream runtimes do), every error is a JSON
``{"error": message}``, the sentinel closes each activation's output, and the process keeps
running.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import FIGURES
from tests.runtimes.proxy_harness import ECHO_ACTIONS, FAMILIES, Proxy, make_zip

EXAMPLES = 80
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids,
                                                              max_size=4),
    max_leaves=15)
# Text that is not a script with a shebang: blackbox code is executed as it is.
CODE = st.text(max_size=200).filter(lambda s: not s.lstrip().startswith("#!"))
GARBAGE = st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode())


def _start_all(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Proxy]]:
    started = {}
    for family in FAMILIES:
        workdir: Path = tmp_path_factory.mktemp(f"fuzz-{family}")
        started[family] = Proxy(family, workdir, {"PROXY_ALLOW_REINIT": "1"})
    for proxy in started.values():
        proxy.wait_ready()
    yield started
    for proxy in started.values():
        proxy.stop()


@pytest.fixture(scope="module")
def init_proxies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Proxy]]:
    """One proxy per family, for /init (which random code hardly ever gets through)."""
    yield from _start_all(tmp_path_factory)


@pytest.fixture(scope="module")
def run_proxies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Proxy]]:
    """One proxy per family, initialised with the echo action before /run is fuzzed."""
    yield from _start_all(tmp_path_factory)


def _check(proxy: Proxy, response: httpx.Response) -> None:
    assert response.status_code != 500, response.text
    assert response.status_code < 600
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), response.text
        assert isinstance(body.get("error"), str) and body["error"].strip(), response.text
    assert proxy.process.poll() is None, f"{proxy.family} proxy died: {proxy.stderr()[-2000:]}"


def _init_value(family: str, data: st.DataObject) -> dict[str, Any]:
    value: dict[str, Any] = {}
    code = data.draw(st.one_of(st.none(), CODE,
                               st.binary(max_size=100).map(lambda b: base64.b64encode(b)
                                                           .decode()),
                               st.just(make_zip({"junk.txt": "x"}))), label="code")
    if code is not None:
        value["code"] = code
    for key, strategy in (("binary", st.booleans() | JSON), ("main", st.text(max_size=20)
                                                             | JSON),
                          ("env", st.dictionaries(st.text(max_size=10), JSON, max_size=3)
                           | JSON), ("name", JSON)):
        if data.draw(st.booleans(), label=f"has {key}"):
            value[key] = data.draw(strategy, label=key)
    return value


@pytest.mark.timeout(300)
@pytest.mark.parametrize("family", FAMILIES)
def test_init_never_crashes(init_proxies: dict[str, Proxy], family: str) -> None:
    proxy = init_proxies[family]

    @FUZZ
    @given(data=st.data())
    def init(data: st.DataObject) -> None:
        if data.draw(st.booleans(), label="raw"):
            response = proxy.client.post("/init", content=data.draw(GARBAGE, label="body"))
        else:
            response = proxy.client.post("/init", json={"value": _init_value(family, data)})
        FIGURES["runtime proxy requests fuzzed"] += 1
        _check(proxy, response)

    init()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("family", FAMILIES)
def test_run_never_crashes(run_proxies: dict[str, Proxy], family: str) -> None:
    proxy = run_proxies[family]
    assert proxy.init(ECHO_ACTIONS[family]).status_code == 200

    @FUZZ
    @given(raw=st.booleans(), body=GARBAGE, value=JSON,
           keys=st.dictionaries(st.sampled_from(["namespace", "action_name", "activation_id",
                                                 "deadline", "transaction_id", "api_key"]),
                                JSON, max_size=3))
    def run(raw: bool, body: bytes, value: Any, keys: dict[str, Any]) -> None:
        response = proxy.client.post("/run", content=body) if raw else proxy.run(value, **keys)
        FIGURES["runtime proxy requests fuzzed"] += 1
        _check(proxy, response)
        if not raw and isinstance(value, dict) and response.status_code == 200:
            assert response.json()["args"] == json.loads(json.dumps(value)) or family == "nodejs"

    run()
    # Every activation's output is closed by its sentinel on both streams, nothing after.
    assert proxy.activations("stdout") and proxy.activations("stderr")


@pytest.mark.parametrize("family", FAMILIES)
def test_env_that_cannot_be_an_environment(run_proxies: dict[str, Proxy], family: str,
                                           tmp_path: Path) -> None:
    """Names with ``=`` or NUL, values with NUL, lone surrogates: skipped, never a 500."""
    proxy = Proxy(family, tmp_path, {})
    try:
        proxy.wait_ready()
        env = {"": 1, "A=B": 2, "NUL\u0000": 3, "V": "nul\u0000", "\ud800": "x", "OK": "yes"}
        raw = json.dumps({"value": {"code": ECHO_ACTIONS[family], "env": env}})
        response = proxy.client.post("/init", content=raw.encode("utf-8", "surrogatepass"))
        _check(proxy, response)
        assert response.status_code == 200, response.text
        response = proxy.run({"show": ["OK"]}, **{"x=y": "1", "nul\u0000": "2", "k": "\u0000"})
        _check(proxy, response)
        assert response.status_code == 200, response.text
        assert family == "blackbox" or response.json()["env"]["OK"] == "yes"
    finally:
        proxy.stop()
