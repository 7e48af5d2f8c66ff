"""A stand-in for GitHub's REST API v3, answering with GitHub's documented statuses and error bodies.

Errors look like GitHub's: ``{"message": ..., "documentation_url": ..., "status": "404"}``;
a 422 adds ``errors`` (``[{"resource": "Issue", "field": "title", "code": "missing_field"}]``);
401 is ``Bad credentials``; a used-up rate limit is a 403 with ``X-RateLimit-Remaining: 0``.
Lists paginate with a ``Link`` header. A `prefix` such as ``/api/v3`` stands in for
GitHub Enterprise Server.
"""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import urlencode

from .server import FakeServer, Recorded, Reply

DOCS = "https://docs.github.com/rest"


def error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return Reply(status, body)


class FakeGitHub(FakeServer):
    """GitHub with one user, its token, an organisation, and in-memory repositories and issues."""

    def __init__(self, *, token: str = "ghp_valid", login: str = "octocat", prefix: str = "") -> None:
        super().__init__()
        self.token, self.login, self.prefix = token, login, prefix
        self.orgs = {"flowkit-org"}
        self.repos: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, list[dict[str, Any]]] = {}
        self.comments: list[dict[str, Any]] = []
        self.rate_limited = False
        self.missing_permission: str | None = None
        self._ids = itertools.count(1000)

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    # -- fixtures for tests -------------------------------------------------------------
    def add_repo(self, full_name: str, *, private: bool = False, description: str = "") -> dict[str, Any]:
        owner, name = full_name.split("/")
        repo = {
            "id": next(self._ids),
            "node_id": f"R_{name}",
            "name": name,
            "full_name": full_name,
            "private": private,
            "owner": {"login": owner},
            "description": description or None,
            "html_url": f"https://github.com/{full_name}",
            "url": f"{self.api_url}/repos/{full_name}",
            "clone_url": f"https://github.com/{full_name}.git",
            "ssh_url": f"git@github.com:{full_name}.git",
            "default_branch": "main",
        }
        self.repos[full_name] = repo
        self.issues[full_name] = []
        return repo

    def add_issue(
        self, full_name: str, title: str, *, state: str = "open", labels: tuple[str, ...] = (), pull: bool = False
    ) -> dict[str, Any]:
        issues = self.issues[full_name]
        number = len(issues) + 1
        issue = {
            "id": next(self._ids),
            "number": number,
            "title": title,
            "body": None,
            "state": state,
            "html_url": f"https://github.com/{full_name}/{'pull' if pull else 'issues'}/{number}",
            "url": f"{self.api_url}/repos/{full_name}/issues/{number}",
            "user": {"login": self.login},
            "labels": [{"name": label} for label in labels],
            "assignees": [],
            "comments": 0,
            "created_at": "2024-05-01T12:00:00Z",
            "updated_at": "2024-05-01T12:00:00Z",
        }
        if pull:
            issue["pull_request"] = {"url": f"{self.api_url}/repos/{full_name}/pulls/{number}"}
        issues.append(issue)
        return issue

    # -- routing -------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        if not request.path.startswith(self.prefix + "/"):
            return error(404, "Not Found")
        path = request.path[len(self.prefix) :]
        auth = request.headers.get("authorization", "")
        if not auth:
            return error(401, "Requires authentication")
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            return error(401, "Bad credentials")
        if self.rate_limited:
            reply = error(403, "API rate limit exceeded for user ID 1.")
            reply.headers.update(
                {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1893456000"}
            )
            return reply
        if self.missing_permission and request.method != "GET":
            reply = error(403, "Resource not accessible by personal access token")
            reply.headers["X-Accepted-GitHub-Permissions"] = self.missing_permission
            return reply
        for pattern, method, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and request.method == method:
                return handler(request, *match.groups())  # type: ignore[no-any-return]
        return error(404, "Not Found")

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            (r"/user", "GET", self._user),
            (r"/user/repos", "POST", self._create_user_repo),
            (r"/orgs/([^/]+)/repos", "POST", self._create_org_repo),
            (r"/repos/([^/]+/[^/]+)/issues", "GET", self._list_issues),
            (r"/repos/([^/]+/[^/]+)/issues", "POST", self._create_issue),
            (r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", "POST", self._comment),
        ]

    def _user(self, request: Recorded) -> Reply:
        body = {"login": self.login, "id": 1, "name": "The Octocat", "html_url": f"https://github.com/{self.login}"}
        return Reply(200, body, {"X-OAuth-Scopes": "repo, workflow"})

    def _create_repo(self, owner: str, request: Recorded) -> Reply:
        fields = request.json or {}
        name = fields.get("name")
        if not name:
            return error(
                422,
                "Repository creation failed.",
                [{"resource": "Repository", "code": "missing_field", "field": "name"}],
            )
        if f"{owner}/{name}" in self.repos:
            return error(
                422,
                "Repository creation failed.",
                [
                    {
                        "resource": "Repository",
                        "code": "custom",
                        "field": "name",
                        "message": "name already exists on this account",
                    }
                ],
            )
        repo = self.add_repo(
            f"{owner}/{name}", private=bool(fields.get("private")), description=fields.get("description") or ""
        )
        repo["auto_init"] = bool(fields.get("auto_init"))
        return Reply(201, repo)

    def _create_user_repo(self, request: Recorded) -> Reply:
        return self._create_repo(self.login, request)

    def _create_org_repo(self, request: Recorded, org: str) -> Reply:
        if org not in self.orgs:
            return error(404, "Not Found")
        return self._create_repo(org, request)

    def _list_issues(self, request: Recorded, full_name: str) -> Reply:
        if full_name not in self.repos:
            return error(404, "Not Found")
        state = request.query.get("state", "open")
        wanted = {label for label in request.query.get("labels", "").split(",") if label}
        found = [
            issue
            for issue in self.issues[full_name]
            if (state == "all" or issue["state"] == state) and wanted <= {label["name"] for label in issue["labels"]}
        ]
        per_page = min(int(request.query.get("per_page", 30)), 100)
        page = int(request.query.get("page", 1))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            query = {**request.query, "page": str(page + 1)}
            headers["Link"] = f'<{self.api_url}/repos/{full_name}/issues?{urlencode(query)}>; rel="next"'
        return Reply(200, chunk, headers)

    def _create_issue(self, request: Recorded, full_name: str) -> Reply:
        if full_name not in self.repos:
            return error(404, "Not Found")
        fields = request.json or {}
        if not fields.get("title"):
            return error(422, "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}])
        for login in fields.get("assignees") or []:
            if login != self.login:
                return error(
                    422,
                    "Validation Failed",
                    [{"resource": "Issue", "code": "invalid", "field": "assignees", "value": login}],
                )
        issue = self.add_issue(full_name, fields["title"], labels=tuple(fields.get("labels") or ()))
        issue["body"] = fields.get("body")
        issue["assignees"] = [{"login": login} for login in fields.get("assignees") or []]
        return Reply(201, issue)

    def _comment(self, request: Recorded, full_name: str, number: str) -> Reply:
        issues = self.issues.get(full_name, [])
        if not 1 <= int(number) <= len(issues):
            return error(404, "Not Found")
        body = (request.json or {}).get("body")
        if not body:
            return error(
                422, "Validation Failed", [{"resource": "IssueComment", "code": "missing_field", "field": "body"}]
            )
        issue = issues[int(number) - 1]
        issue["comments"] += 1
        comment = {
            "id": next(self._ids),
            "body": body,
            "user": {"login": self.login},
            "html_url": f"{issue['html_url']}#issuecomment-{len(self.comments) + 1}",
            "issue_url": issue["url"],
        }
        self.comments.append(comment)
        return Reply(201, comment)
