"""Findings: what a rule or a comparison reports about one place on a page."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """How much a finding matters; ``--fail-on`` compares against this order."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    """One problem at one page line.

    ``shown`` and ``observed`` carry the page's value and the run's value for drift and observed-vs-shown
    findings, so reports can put them side by side.
    """

    rule: str
    severity: Severity
    message: str
    source: str  # page path or URL
    line: int
    fix: str | None = None
    shown: str | None = None
    observed: str | None = None

    def format(self) -> str:
        """``file:line: severity RULE message (fix: ...)``: one line, grep- and editor-friendly."""
        text = f"{self.source}:{self.line}: {self.severity} {self.rule} {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.source, self.line, self.rule, self.message)
