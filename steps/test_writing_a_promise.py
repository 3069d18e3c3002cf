"""Binds features/writing-a-promise.feature (the "Writing a Promise" guide). The only thing this module does."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("writing-a-promise.feature")
