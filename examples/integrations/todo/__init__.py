"""To-do list: add, list and complete to-dos on a to-do API with a bearer token.

An example integration to copy: `CREDENTIALS` describes the credentials (one
of them a password), each task declares its params with `flowkit.task`,
`test_connection` reports its steps, and every refusal of the API comes back
as ``success: False`` with a message a person can act on.
"""

from .tasks import CREDENTIALS as CREDENTIALS
from .tasks import add_todo, complete_todo, list_todos, test_connection

__all__ = ["add_todo", "complete_todo", "list_todos", "test_connection"]
