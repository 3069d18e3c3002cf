"""Binds features/customising-a-promise.feature (workshop Part 3). The only thing this module does."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("customising-a-promise.feature")
