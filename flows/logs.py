"""The logger a step writes to: the Prefect run logger inside a run (shown in the UI and the
worker's output), the ``krafter`` logger elsewhere."""
from __future__ import annotations

import logging


def logger(name: str = "krafter") -> logging.Logger | logging.LoggerAdapter:
    try:
        from prefect import get_run_logger
        from prefect.context import FlowRunContext, TaskRunContext
        if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
            return get_run_logger()
    except Exception:  # pragma: no cover
        pass
    return logging.getLogger(name)
