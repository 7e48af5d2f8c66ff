"""Slack: post messages and notifications and upload files, with a bot token or an incoming webhook."""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import send_message, send_notification, test_connection, upload_file

__all__ = ["send_message", "send_notification", "test_connection", "upload_file"]
