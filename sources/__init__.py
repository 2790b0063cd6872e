"""Sources: one module per source with the same small surface.

Each source module defines ``SOURCE_ID``, ``fetch(ctx) -> list[Fetched]`` (live, over HTTP with
``sources.http``) and ``parse(data: bytes, name: str) -> dict[str, polars.DataFrame]`` (raw bytes of
one snapshot to one frame per staging table). The registry (``sources.registry``) names them all.
"""
