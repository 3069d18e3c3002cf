"""Tests of the real-cluster path (kind/existing targets, bootstrap, plan) run without Docker or kind."""

from __future__ import annotations
