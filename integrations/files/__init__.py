"""Files: read, write and list files inside one root folder, with no way out of it."""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import list, read, test_connection, write

__all__ = ["list", "read", "test_connection", "write"]
