"""The engines: one module per backend; :mod:`dropscribe.backends.registry` lists them."""

from __future__ import annotations

from dropscribe.backends.registry import create_backend

__all__ = ["create_backend"]
