"""Loggers that write once per run: on the global rank zero only, under DDP too."""

from __future__ import annotations

import logging

from .ranks import global_rank


class RankZeroLogger(logging.LoggerAdapter):
    def log(self, level: int, msg: object, *args, **kwargs) -> None:
        if global_rank() == 0:
            super().log(level, msg, *args, **kwargs)


def get_logger(name: str) -> RankZeroLogger:
    return RankZeroLogger(logging.getLogger(name), {})
