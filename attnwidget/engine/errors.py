"""Errors raised by attnwidget, each meant to be read as one line by a person."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A model spec could not be turned into a model: unknown name, not available offline, or broken files."""


class AttentionUnavailableError(RuntimeError):
    """The model runs, but no faithful attention weights can be obtained from it."""
