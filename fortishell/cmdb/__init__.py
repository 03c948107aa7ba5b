"""The configuration database: schema, types, model, rendering, factory defaults, file store.

No I/O except ``store.py``; see ``fortishell/ARCHITECTURE.md``.
"""
