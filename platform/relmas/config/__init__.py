"""Typed, validated configuration (pure data; loading from files lives in ``relmas.loaders``)."""
