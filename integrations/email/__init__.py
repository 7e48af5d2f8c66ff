"""Email: send messages through an SMTP server (STARTTLS or SSL, with login)."""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import send_email, test_connection

__all__ = ["send_email", "test_connection"]
