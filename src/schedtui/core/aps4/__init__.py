"""APScheduler 4 (pre-release 4.0.0a6) SQLAlchemy data stores: read-only, plain columns only.

``layout`` detects such a database and checks its ``schema_version``; ``reader`` turns its
``schedules`` (joined with ``tasks``) into the ``JobInfo``/``StoreSnapshot`` model;
``history`` reads ``job_results`` as run history; ``leases`` reports leases held past
their expiry. Serialized columns are never unpickled: triggers and arguments are described
only when the store uses the JSON serializer, otherwise shown as opaque.
"""

from schedtui.core.aps4.layout import READ_ONLY, SCHEMA_VERSION, TABLE, is_aps4_target

__all__ = ["READ_ONLY", "SCHEMA_VERSION", "TABLE", "is_aps4_target"]
