"""SQLite: query and change a database file, with values always bound as parameters."""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import execute, query, test_connection

__all__ = ["execute", "query", "test_connection"]
