"""HTTP: call any web API, signed with a bearer token, basic auth or an API key from the credentials."""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import request, test_connection

__all__ = ["request", "test_connection"]
