"""GitHub tasks over the REST API v3 with a token, through requests.

GitHub's refusals come back as ``success: False`` with GitHub's own ``message``
and its ``errors`` details turned into sentences (401 bad token, 403 missing
permission or rate limit, 404 unknown or invisible, 422 validation); so do
refused connections and timeouts. Every failure carries ``status`` (None when
GitHub never answered) and ``errors``. The token never appears in a result.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import requests

import flowkit
from flowkit.errors import ParamsError, TaskFailed

Result = dict[str, Any]

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"

CREDENTIALS = [
    flowkit.Param(
        "token",
        kind="password",
        required=True,
        help="A personal access token (classic or fine-grained) or an app installation token.",
    ),
    flowkit.Param(
        "base_url",
        default=DEFAULT_BASE_URL,
        help="API root; for GitHub Enterprise Server use https://HOST/api/v3.",
    ),
]

# owner/name as GitHub allows them: a login of letters, digits and single hyphens; a name of [A-Za-z0-9._-].
_REPO = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100})$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_CODES = {
    "missing": "does not exist",
    "missing_field": "is required",
    "invalid": "is invalid",
    "already_exists": "already exists",
    "unprocessable": "could not be processed",
}
_TIMEOUT = flowkit.Param("timeout", kind="number", default=30, help="Seconds to wait for GitHub before giving up.")
_REPO_PARAM = flowkit.Param("repo", required=True, help="The repository as owner/name, e.g. octocat/hello-world.")


class _Bearer(requests.auth.AuthBase):
    """The token as a request auth: requests drops it when a redirect leaves the host, and skips ~/.netrc."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class _GitHub:
    """One conversation with the API: base URL, token and timeout; every answer checked."""

    def __init__(self, credentials: dict[str, Any], timeout: float) -> None:
        token = credentials.get("token")
        if not token:
            raise TaskFailed(
                "Set token in the integration's credentials (a GitHub personal access token).", status=None, errors=[]
            )
        base = str(credentials.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base).scheme not in ("http", "https"):
            raise TaskFailed("base_url must be an http(s) URL such as https://api.github.com.", status=None, errors=[])
        self.base, self.timeout = base, timeout
        self.session = requests.Session()
        self.session.auth = _Bearer(str(token))
        self.session.headers.update(
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": "flowkit"}
        )

    def __enter__(self) -> _GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def call(self, method: str, path: str, *, what: str, **kwargs: Any) -> requests.Response:
        """Send one request (`path` under the base URL, or a full URL on the same host)."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        host = urlsplit(self.base).netloc
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise TaskFailed(
                f"GitHub ({host}) did not answer within {self.timeout:g} s (timed out).", status=None, errors=[]
            ) from exc
        except requests.ConnectionError as exc:
            raise TaskFailed(_connection_problem(exc, host), status=None, errors=[]) from exc
        except requests.RequestException as exc:
            raise TaskFailed(
                f"The request to GitHub ({host}) failed: {exc.__class__.__name__}.", status=None, errors=[]
            ) from exc
        if response.status_code >= 400:
            raise _refusal(response, what)
        return response

    def json(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        return _parse(self.call(method, path, what=what, **kwargs))

    def pages(self, path: str, *, what: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        """Each page of a list, following GitHub's Link header while it stays on the API's host."""
        url: str | None = path
        while url:
            response = self.call("GET", url, what=what, params=params)
            params = {}  # the next link already carries the query
            yield _parse(response)
            following = response.links.get("next", {}).get("url")
            same_host = following and urlsplit(following).netloc == urlsplit(self.base).netloc
            url = following if same_host else None


def _parse(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise TaskFailed(
            f"GitHub answered {response.status_code} with something that is not JSON "
            f"({response.headers.get('Content-Type') or 'no content type'}): is base_url the API root?",
            status=None,
            errors=[],
        ) from exc


def _connection_problem(exc: requests.ConnectionError, host: str) -> str:
    text = str(exc)
    if "Connection refused" in text or "[Errno 111]" in text:
        return f"Could not connect to GitHub ({host}): connection refused. Check base_url."
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return f"Could not resolve {host}; check the network and base_url."
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS with GitHub ({host}) failed: the certificate could not be verified or the handshake failed."
    return f"Could not reach GitHub ({host}): {exc.__class__.__name__}."


def _detail(item: Any) -> str:
    """One entry of GitHub's ``errors`` list as a phrase."""
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in (item.get("resource"), item.get("field")) if part)
    text = item.get("message") or _CODES.get(item.get("code", ""), item.get("code") or "is invalid")
    value = f" ({item['value']!r})" if "value" in item else ""
    return f"{where}{value}: {text}" if where else str(text)


def _refusal(response: requests.Response, what: str) -> TaskFailed:
    """GitHub's error answer as a sentence saying what to do."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    status = response.status_code
    said = body.get("message") or response.reason or "no message"
    details = [_detail(item) for item in body.get("errors") or []]
    headers = response.headers
    if status == 401:
        message = f"GitHub rejected the token (401 {said}): check that it is right and not expired or revoked."
    elif status in (403, 429) and headers.get("X-RateLimit-Remaining") == "0":
        reset = headers.get("X-RateLimit-Reset", "")
        when = (
            datetime.datetime.fromtimestamp(int(reset), tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            if reset.isdigit()
            else "later"
        )
        message = f"GitHub's rate limit is used up ({status} {said}); it resets at {when}."
    elif status in (403, 429) and headers.get("Retry-After"):
        message = f"GitHub asks to slow down ({status} {said}): retry in {headers['Retry-After']} s."
    elif status == 403:
        needed = headers.get("X-Accepted-GitHub-Permissions") or headers.get("X-Accepted-OAuth-Scopes")
        hint = f"the token needs {needed}" if needed else "the token lacks a permission this needs"
        message = f"GitHub refused access to {what} (403 {said}): {hint}."
    elif status == 404:
        message = (
            f"GitHub found no {what} (404 {said}): check the spelling, and that the token may see it "
            "(GitHub answers 404 for private things a token cannot see)."
        )
    elif status == 422:
        message = f"GitHub refused the request (422 {said})" + (f": {'; '.join(details)}." if details else ".")
    elif status >= 500:
        message = f"GitHub had a server error ({status} {said}); try again later."
    else:
        message = f"GitHub answered {status}: {said}."
    return TaskFailed(message, status=status, errors=details)


def _repo_path(repo: str) -> str:
    """``/repos/owner/name`` for a checked owner/name; anything else is refused before a request."""
    match = _REPO.match(repo.strip())
    if not match or match.group(2) in (".", ".."):
        raise TaskFailed(f"repo must be owner/name, like octocat/hello-world; got {repo!r}.", status=None, errors=[])
    return f"/repos/{quote(match.group(1))}/{quote(match.group(2))}"


def _strings(params: dict[str, Any], name: str, task: str) -> list[str]:
    value = params.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ParamsError(f'github.{task} params: {name!r} must be a list of names, e.g. ["bug"].')
    return value


def _issue_view(issue: dict[str, Any]) -> Result:
    return {
        "number": issue.get("number"),
        "id": issue.get("id"),
        "title": issue.get("title"),
        "state": issue.get("state"),
        "html_url": issue.get("html_url"),
        "user": (issue.get("user") or {}).get("login"),
        "labels": [label.get("name") for label in issue.get("labels") or [] if isinstance(label, dict)],
        "comments": issue.get("comments"),
        "created_at": issue.get("created_at"),
        "updated_at": issue.get("updated_at"),
        "pull_request": "pull_request" in issue,
    }


# -- tasks -----------------------------------------------------------------------
@flowkit.task(
    params=[flowkit.Param("timeout", kind="number", default=10, help="Seconds to wait for GitHub.")],
)
def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Check the token: GET /user, and report who it is and its scopes."""
    report = flowkit.ConnectionReport()
    with report:
        report.step("config")
        with _GitHub(credentials, float(params["timeout"])) as api:
            report.passed(f"Using the API at {api.base}.")
            report.step("auth")
            response = api.call("GET", "/user", what="user for this token")
            login = (_parse(response) or {}).get("login", "?")
            scopes = response.headers.get("X-OAuth-Scopes")
            extra = f" (scopes: {scopes})" if scopes else ""
            report.passed(f"Authenticated as {login}{extra}.")
    return report.result()


@flowkit.task(
    params=[
        flowkit.Param("name", required=True, help="The new repository's name."),
        flowkit.Param("description", help="A one-line description."),
        flowkit.Param("private", kind="boolean", default=True, help="Create it private (the safe default)."),
        flowkit.Param("org", help="Create it in this organisation instead of the token's account."),
        flowkit.Param("auto_init", kind="boolean", default=False, help="Start it with a README commit."),
        _TIMEOUT,
    ],
)
def create_repo(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Create a repository for the token's user or an organisation.

    Returns ``id``, ``full_name``, ``html_url`` (also as ``url``), ``clone_url`` and ``ssh_url``.
    """
    org = params.get("org")
    if org and not _LOGIN.match(org):
        raise TaskFailed(
            f"org must be an organisation's login (letters, digits, hyphens); got {org!r}.", status=None, errors=[]
        )
    body = {key: params[key] for key in ("name", "description", "private", "auto_init") if key in params}
    path = f"/orgs/{org}/repos" if org else "/user/repos"
    with _GitHub(credentials, float(params["timeout"])) as api:
        repo = api.json("POST", path, what=f"organisation {org!r}" if org else "account", json=body)
    return {
        "success": True,
        "message": f"Created repository {repo.get('full_name')}.",
        "id": repo.get("id"),
        "name": repo.get("name"),
        "full_name": repo.get("full_name"),
        "private": repo.get("private"),
        "html_url": repo.get("html_url"),
        "url": repo.get("html_url"),
        "api_url": repo.get("url"),
        "clone_url": repo.get("clone_url"),
        "ssh_url": repo.get("ssh_url"),
        "default_branch": repo.get("default_branch"),
    }


@flowkit.task(
    params=[
        _REPO_PARAM,
        flowkit.Param("title", required=True, help="The issue's title."),
        flowkit.Param("body", help="The issue's text (Markdown)."),
        flowkit.Param("labels", kind="json", help='Label names, e.g. ["bug"].'),
        flowkit.Param("assignees", kind="json", help='Logins to assign, e.g. ["octocat"].'),
        _TIMEOUT,
    ],
)
def create_issue(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Open an issue in a repository.

    Returns ``number``, ``id``, ``html_url`` (also as ``url``) and ``state``.
    """
    path = _repo_path(params["repo"]) + "/issues"
    body: dict[str, Any] = {"title": params["title"]}
    if params.get("body"):
        body["body"] = params["body"]
    for name in ("labels", "assignees"):
        if params.get(name):
            body[name] = _strings(params, name, "create_issue")
    with _GitHub(credentials, float(params["timeout"])) as api:
        issue = api.json("POST", path, what=f"repository {params['repo']!r}", json=body)
    return {
        "success": True,
        "message": f"Opened issue #{issue.get('number')} in {params['repo']}.",
        "number": issue.get("number"),
        "id": issue.get("id"),
        "html_url": issue.get("html_url"),
        "url": issue.get("html_url"),
        "state": issue.get("state"),
        "title": issue.get("title"),
    }


@flowkit.task(
    params=[
        _REPO_PARAM,
        flowkit.Param("state", kind="choice", choices=["open", "closed", "all"], default="open", help="Which issues."),
        flowkit.Param("labels", help="Only issues with all these labels, comma-separated: bug,ui."),
        flowkit.Param("include_pull_requests", kind="boolean", default=False, help="GitHub lists pull requests too."),
        flowkit.Param("limit", kind="integer", default=100, help="At most this many issues (1–1000)."),
        _TIMEOUT,
    ],
)
def list_issues(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """List a repository's issues, newest first, following GitHub's pages up to `limit`.

    Returns ``issues`` (number, title, state, html_url, user, labels...), ``count`` and ``truncated``.
    """
    limit = params["limit"]
    if not 1 <= limit <= 1000:
        raise ParamsError(f"github.list_issues params: 'limit' must be between 1 and 1000, got {limit}.")
    query: dict[str, Any] = {"state": params["state"], "per_page": min(100, limit)}
    if params.get("labels"):
        query["labels"] = params["labels"]
    path = _repo_path(params["repo"]) + "/issues"
    found: list[Result] = []
    truncated = False
    with _GitHub(credentials, float(params["timeout"])) as api:
        for page in api.pages(path, what=f"repository {params['repo']!r}", params=query):
            for issue in page:
                if "pull_request" in issue and not params["include_pull_requests"]:
                    continue
                if len(found) == limit:
                    truncated = True
                    break
                found.append(_issue_view(issue))
            if truncated:
                break
    more = " (more not listed: raise limit)" if truncated else ""
    return {
        "success": True,
        "message": f"Found {len(found)} {params['state']} issue(s) in {params['repo']}{more}.",
        "issues": found,
        "count": len(found),
        "truncated": truncated,
    }


@flowkit.task(
    params=[
        _REPO_PARAM,
        flowkit.Param("number", kind="integer", required=True, help="The issue (or pull request) number."),
        flowkit.Param("body", required=True, help="The comment (Markdown)."),
        _TIMEOUT,
    ],
)
def comment_issue(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Comment on an issue or pull request.

    Returns the comment's ``id`` and ``html_url`` (also as ``url``).
    """
    number = params["number"]
    if number < 1:
        raise ParamsError(f"github.comment_issue params: 'number' must be 1 or more, got {number}.")
    path = f"{_repo_path(params['repo'])}/issues/{number}/comments"
    with _GitHub(credentials, float(params["timeout"])) as api:
        comment = api.json("POST", path, what=f"issue #{number} in {params['repo']!r}", json={"body": params["body"]})
    return {
        "success": True,
        "message": f"Commented on {params['repo']}#{number}.",
        "id": comment.get("id"),
        "html_url": comment.get("html_url"),
        "url": comment.get("html_url"),
    }
