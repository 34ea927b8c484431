"""schedtui: a safe console and health probe for APScheduler 3.x job stores."""

__version__ = "0.1.0"
