"""Steps about what Kratix reports on its objects: status fields, conditions, events, status history.

Generic over Promises and resource requests of any kind. Every check waits a little (tier "short"): Kratix
writes conditions, status fields and events in separate API calls, so one may land a moment after another.
"""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, then, when

from harness import conditions as cond
from harness import platform_ops as ops
from harness.kube import Ref
from harness.status_history import StatusHistory, field_value, start_history
from harness.targets import Clusters
from harness.waits import NotYet, wait_for


def _request(name: str, resource_request: dict[str, Any], clusters: Clusters) -> tuple[Ref, dict[str, Any]]:
    ref = ops.request_ref(resource_request)
    assert ref.name == name, f"the last request was {ref}, not {name}"
    obj = ops.get_request(clusters.platform, ref)
    if obj is None:
        raise NotYet(f"{ref} not found")
    return ref, obj


# When


# Recording starts when the step runs, between the actions of a scenario, hence When (Given, too, for a
# scenario that starts with it).
@given(parsers.parse('the status changes of the promise "{name}" are recorded from now on'),
       target_fixture="promise_history")
@when(parsers.parse('the status changes of the promise "{name}" are recorded from now on'),
      target_fixture="promise_history")
def _(name: str, clusters: Clusters) -> StatusHistory:
    return start_history(clusters.platform, ops.PROMISE_API, "Promise", name)


# Then


@then(parsers.parse('the promise "{name}" goes from "{first}" to "{last}"'))
def _(name: str, first: str, last: str, promise_history: StatusHistory) -> None:
    assert promise_history.name == name, f"the recorded history is of {promise_history.what}, not Promise/{name}"
    seen = promise_history.read_until(lambda values: bool(values) and values[-1] == last)
    assert seen[-1:] == [last], f"{promise_history.what} never became {last!r}; its status went {seen}"
    assert first in seen[:-1], f"{promise_history.what} became {last!r} without being seen {first!r}: {seen}"


@then(parsers.parse('the request "{name}" has the condition "{type_}" "{status}"'))
def _(name: str, type_: str, status: str, resource_request: dict[str, Any], clusters: Clusters) -> None:
    def probe() -> None:
        _, obj = _request(name, resource_request, clusters)
        if not cond.condition_is(obj, type_, status):
            raise NotYet(cond.conditions_summary(obj))

    wait_for(probe, what=f"request {name}", condition=f"condition {type_}={status}", tier="short")


@then(parsers.parse('the request "{name}" has "{key}" "{value}" in its status'))
def _(name: str, key: str, value: str, resource_request: dict[str, Any], clusters: Clusters) -> None:
    def probe() -> None:
        _, obj = _request(name, resource_request, clusters)
        found = field_value(obj.get("status") or {}, key)
        if found is None or str(found) != value:
            raise NotYet(f"status.{key} is {found!r}; status: {obj.get('status')}")

    wait_for(probe, what=f"request {name}", condition=f"status.{key}={value}", tier="short")


@then(parsers.parse('the events of request "{name}" include:'))
def _(name: str, datatable: list[list[str]], resource_request: dict[str, Any], clusters: Clusters) -> None:
    header, *rows = datatable
    expected = [dict(zip(header, row, strict=True)) for row in rows]

    def probe() -> None:
        ref, _ = _request(name, resource_request, clusters)
        events = clusters.platform.events(about=ref)
        seen = {(str(e.get("reason")), str(e.get("message"))) for e in events}
        missing = [f"{row['reason']}: {row['message']}" for row in expected
                   if (row["reason"], row["message"]) not in seen]
        if missing:
            observed = "; ".join(f"{reason}: {message}" for reason, message in sorted(seen)) or "no events"
            raise NotYet(f"missing {missing}; observed: {observed}")

    wait_for(probe, what=f"the events of request {name}", condition="complete", tier="short")
