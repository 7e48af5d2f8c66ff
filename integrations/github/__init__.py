"""GitHub: create repositories, open, list and comment on issues, over the REST API with a token."""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import comment_issue, create_issue, create_repo, list_issues, test_connection

__all__ = ["comment_issue", "create_issue", "create_repo", "list_issues", "test_connection"]
