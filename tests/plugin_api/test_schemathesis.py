"""Fuzz the API from its own spec: no 5xx, every response matches the spec."""

from __future__ import annotations

from typing import Iterator

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings

from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.auth import LockoutPolicy
from notewell.plugin_api.limits import Limits
from notewell.plugin_api.server import ApiServer
from tests.plugin_api.conftest import TOKEN


@pytest.fixture(scope="module")
def fuzz_schema(index: NotesIndex) -> Iterator[schemathesis.BaseSchema]:
    # Fuzzing sends wrong tokens and many requests on purpose: lift the lockout and rate
    # limit so every example reaches the endpoints (their own tests cover those limits).
    config = ApiConfig(
        limits=Limits(rate_per_minute=10**6, rate_burst=10**6),
        lockout=LockoutPolicy(max_failures=10**6),
    )
    server = ApiServer(create_app(index, config, token=lambda: TOKEN), port=0)
    server.start()
    # 413 is how an over-long body is rejected (the byte limit is not in the schema).
    fuzz_config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 404, 413, 422, 429]}}}
    )
    yield schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=fuzz_config)
    server.stop()


# schemathesis.pytest.from_fixture does not run under pytest 9 ("no attribute _nodeid"),
# so each operation's strategy is driven with Hypothesis directly.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_matches_its_spec(fuzz_schema: schemathesis.BaseSchema, mode: GenerationMode) -> None:
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert {op.path for op in operations} == {"/query", "/notes/{note_id}"}
    for operation in operations:

        @given(operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

        check()
