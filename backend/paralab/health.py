"""Readiness: named checks that services register; ready only when every check passes."""

from __future__ import annotations

from collections.abc import Callable

import msgspec


class CheckResult(msgspec.Struct, frozen=True):
    ready: bool
    detail: str = ""


class ReadinessReport(msgspec.Struct, frozen=True):
    ready: bool
    checks: dict[str, CheckResult]


class Readiness:
    """Holds the checks; the app asks it, the services fill it."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], CheckResult]] = {}

    def register(self, name: str, check: Callable[[], CheckResult]) -> None:
        self._checks[name] = check

    def report(self) -> ReadinessReport:
        results = {name: check() for name, check in self._checks.items()}
        ready = bool(results) and all(result.ready for result in results.values())
        return ReadinessReport(ready=ready, checks=results)
