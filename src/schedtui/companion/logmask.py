"""Credentials never reach the application's logs through the companion's messages.

The companion logs driver errors (a heartbeat that cannot be written, a command that
failed); a driver may quote its connection string in them. A filter on the companion's
loggers masks every URL- or conninfo-shaped credential, and every literal secret of the
databases the companion was attached to, in the message and in a logged traceback.
"""

from __future__ import annotations

import logging

from schedtui.core.urls import mask_text

LOGGERS = ("schedtui.companion", "schedtui.companion.commands", "schedtui.companion.backup", "schedtui.backup")


class MaskSecrets(logging.Filter):
    """Rewrites a record's message (and traceback text) with credentials masked."""

    def __init__(self) -> None:
        super().__init__("")
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        masked = mask_text(message, *self.urls)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info), *self.urls)
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text, *self.urls)
        return True


_FILTER = MaskSecrets()


def mask_logs(url: str | None = None) -> MaskSecrets:
    """Install the filter on the companion's loggers (once) and add ``url``'s secrets."""
    if url:
        _FILTER.urls.add(url)
    for name in LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
    return _FILTER
