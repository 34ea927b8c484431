"""The Textual operations console (``schedtui`` with no subcommand); built on ``core``."""
