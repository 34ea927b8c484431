"""The store: where a target's jobs table is, and reading it without writing a byte.

- ``place``: a target resolved once into a ``Place`` (dialect family, SQLite file, quoted
  table name, masked URL); every other module takes its SQL names from it.
- ``reader``: ``JobStoreReader``, one read path per dialect family (sqlite3 for SQLite
  files, SQLAlchemy for servers), incremental, decoding through ``core.decode``.
- ``sqlite_light``: read-only sqlite3 connections and the SQLite messages (no SQLAlchemy).
- ``db``: read-only and write engines, error translation (SQLAlchemy).
- ``mysql``: MySQL/MariaDB connection options and error numbers.
- ``discover``: finding the job-store tables of a database.
- ``rawrows``: the stored rows as bytes (live or from a backup), for undelete and preflight.
- ``txn``: the one write transaction every writer uses.

Nothing is imported here: a plain SQLite read never loads SQLAlchemy.
"""
