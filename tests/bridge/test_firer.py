"""One fire against a scripted HTTP server: retries, 429, dead letters. No real waiting: the
firer's sleep is replaced by one that records the pauses."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bridge.config import ApiSettings, RetrySettings
from bridge.firer import MIN_THROTTLE_PAUSE, Firer, retry_after
from bridge.journal import DeadLetters, Entry
from bridge.metrics import Metrics

pytestmark = pytest.mark.anyio
KEY = "uuid-1:secret"
Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers in order (the last one repeats) and remembers the requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def accepted() -> httpx.Response:
    return httpx.Response(202, json={"activationId": "a" * 32})


def make(tmp_path: Path, script: Script, give_up_after: float = 60.0,
         namespace: str = "_") -> tuple[Firer, list[float], Metrics]:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    metrics = Metrics()
    firer = Firer(
        ApiSettings(host="http://pwsk.test", key=KEY, namespace=namespace),
        RetrySettings(initial=0.1, max=1.0, give_up_after=give_up_after), metrics,
        DeadLetters(tmp_path / "dead-letter.jsonl"),
        transport=httpx.MockTransport(script), sleep=sleep, rng=random.Random(1),
    )
    return firer, pauses, metrics


ENTRY = Entry(1, "measurement", {"tank": "mash", "value": 64.8}, "brewery/mash/temperature",
              1_700_000_000_000)


async def test_a_fire_posts_the_params_with_basic_auth(tmp_path: Path) -> None:
    script = Script(accepted())
    firer, pauses, metrics = make(tmp_path, script)
    outcome = await firer.fire(ENTRY)
    await firer.aclose()
    assert (outcome.result, outcome.activation_id, outcome.attempts) == ("fired", "a" * 32, 1)
    (request,) = script.requests
    assert request.method == "POST"
    assert request.url.path == "/api/v1/namespaces/_/triggers/measurement"
    assert request.headers["authorization"].startswith("Basic ")
    assert json.loads(request.content) == ENTRY.params
    assert (metrics.fired, metrics.retried, pauses) == (1, 0, [])


async def test_a_qualified_trigger_goes_to_its_namespace(tmp_path: Path) -> None:
    script = Script(httpx.Response(204))
    firer, _, metrics = make(tmp_path, script)
    entry = Entry(2, "/other/t", {}, "x", 0)
    outcome = await firer.fire(entry)
    await firer.aclose()
    assert outcome.result == "no_rule" and metrics.no_rule == 1
    assert script.requests[0].url.path == "/api/v1/namespaces/other/triggers/t"


async def test_5xx_and_network_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    script = Script(httpx.Response(503, json={"error": "down", "code": "x"}),
                    httpx.ConnectError("refused"), httpx.Response(500), accepted())
    firer, pauses, metrics = make(tmp_path, script)
    outcome = await firer.fire(ENTRY)
    await firer.aclose()
    assert (outcome.result, outcome.attempts, metrics.retried) == ("fired", 4, 3)
    # Doubling from 0.1, jittered into [half, all] of each step.
    for pause, ceiling in zip(pauses, [0.1, 0.2, 0.4], strict=True):
        assert ceiling / 2 <= pause <= ceiling


async def test_429_waits_for_retry_after_and_slows_every_fire(tmp_path: Path) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3"},
                                   json={"error": "Too many requests", "code": "t"}),
                    accepted())
    firer, pauses, _ = make(tmp_path, script)
    assert (await firer.fire(ENTRY)).result == "fired"
    assert pauses[0] == pytest.approx(3.0, abs=0.01)
    # The namespace is throttled, not one message: the next fire waits too, before sending.
    sent = len(script.requests)
    assert (await firer.fire(ENTRY)).result == "fired"
    assert pauses[-1] == pytest.approx(3.0, abs=0.1)
    assert len(script.requests) == sent + 1
    await firer.aclose()


async def test_429_without_retry_after_pauses_at_least_a_second(tmp_path: Path) -> None:
    script = Script(httpx.Response(429), accepted())
    firer, pauses, _ = make(tmp_path, script)
    assert (await firer.fire(ENTRY)).result == "fired"
    await firer.aclose()
    assert pauses[0] >= MIN_THROTTLE_PAUSE


def test_retry_after_forms() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "2.5"})) == 2.5
    assert retry_after(httpx.Response(429, headers={"Retry-After": "-1"})) == 0.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(httpx.Response(429, headers={"Retry-After": past})) == 0.0
    assert retry_after(httpx.Response(429)) is None


async def test_other_4xx_go_to_dead_letters_at_once(tmp_path: Path) -> None:
    script = Script(httpx.Response(404, json={"error": "The requested resource does not exist.",
                                              "code": "abc"}))
    firer, pauses, metrics = make(tmp_path, script)
    outcome = await firer.fire(ENTRY)
    await firer.aclose()
    assert (outcome.result, outcome.status, outcome.attempts) == ("dead_letter", 404, 1)
    assert pauses == [] and metrics.dead_lettered == 1
    (letter,) = firer.dead_letters.read()
    assert letter["trigger"] == "measurement"
    assert letter["params"] == ENTRY.params
    assert letter["topic"] == "brewery/mash/temperature"
    assert letter["status"] == 404
    assert letter["error"] == "The requested resource does not exist."


async def test_fires_that_keep_failing_give_up_into_dead_letters(tmp_path: Path) -> None:
    script = Script(httpx.ConnectError("refused"))
    firer, _, metrics = make(tmp_path, script, give_up_after=0.05)
    outcome = await firer.fire(ENTRY)
    await firer.aclose()
    assert outcome.result == "dead_letter" and outcome.status == 0
    assert "refused" in (outcome.error or "")
    assert metrics.dead_lettered == 1


async def test_an_unbuildable_fire_is_dead_lettered_without_a_request(tmp_path: Path) -> None:
    script = Script(accepted())
    firer, _, _ = make(tmp_path, script)
    outcome = await firer.fire(Entry(3, "m", {"payload": "x"}, "a", 0, "topic 'a' has no level 2"))
    bad_name = await firer.fire(Entry(4, "a/b/c/d", {}, "a", 0))
    await firer.aclose()
    assert outcome.result == bad_name.result == "dead_letter"
    assert script.requests == []
    assert [letter["error"] for letter in firer.dead_letters.read()] == [
        "topic 'a' has no level 2", "The name 'a/b/c/d' is not valid."]
