"""The github integration against a local stand-in for GitHub's REST API v3."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fakes import recorded_task
from fakes.github_api import FakeGitHub, error
from fakes.server import FunctionServer, Reply, black_hole, refused_port
from helpers import find_canary

from flowkit.errors import ParamsError
from flowkit.integrations.registry import Registry

TOKEN = "ghp_valid"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo("octocat/hello")
        yield server


def creds(github: FakeGitHub) -> dict[str, str]:
    return {"token": TOKEN, "base_url": github.api_url}


def run(task: str, credentials: dict[str, str], **params: object) -> dict:
    return recorded_task("github", task)(credentials, params)


def test_module_declares_credentials_and_params() -> None:
    module = Registry(builtins=True, entry_points=False).module("github")
    assert {param.name: param.kind for param in module.credentials or []} == {"token": "password", "base_url": "text"}
    assert set(module.tasks) == {"test_connection", "create_repo", "create_issue", "list_issues", "comment_issue"}
    assert all(spec.declared and spec.summary for spec in module.tasks.values())


# -- test_connection ---------------------------------------------------------------------
def test_connection_reports_login_and_scopes(github: FakeGitHub) -> None:
    result = run("test_connection", creds(github))
    assert result["success"] is True
    assert result["message"] == "Authenticated as octocat (scopes: repo, workflow)."
    assert [(step["name"], step["ok"]) for step in result["steps"]] == [("config", True), ("auth", True)]
    (request,) = github.requests
    assert request.path == "/user"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"


def test_connection_bad_token(github: FakeGitHub) -> None:
    result = run("test_connection", {"token": "ghp_wrong", "base_url": github.api_url})
    assert result["success"] is False
    assert result["steps"][-1]["name"] == "auth"
    assert result["message"].startswith("GitHub rejected the token (401 Bad credentials)")


def test_connection_without_token() -> None:
    result = run("test_connection", {})
    assert result["success"] is False and result["steps"] == [
        {"name": "config", "ok": False, "message": result["message"]}
    ]
    assert "Set token" in result["message"]


def test_enterprise_base_url_keeps_its_path() -> None:
    with FakeGitHub(token=TOKEN, prefix="/api/v3") as ghe:
        result = run("test_connection", {"token": TOKEN, "base_url": ghe.api_url + "/"})
    assert result["success"] is True
    assert ghe.requests[0].path == "/api/v3/user"


# -- create_repo ---------------------------------------------------------------------------
def test_create_repo(github: FakeGitHub) -> None:
    result = run("create_repo", creds(github), name="tools", description="Helpers")
    assert result["success"] is True
    assert result["full_name"] == "octocat/tools" and result["private"] is True
    assert result["html_url"] == result["url"] == "https://github.com/octocat/tools"
    assert result["clone_url"].endswith("tools.git") and isinstance(result["id"], int)
    request = github.requests[-1]
    assert (request.method, request.path) == ("POST", "/user/repos")
    assert request.json == {"name": "tools", "description": "Helpers", "private": True, "auto_init": False}


def test_create_repo_that_exists_shows_github_details(github: FakeGitHub) -> None:
    result = run("create_repo", creds(github), name="hello")
    assert result == {
        "success": False,
        "message": "GitHub refused the request (422 Repository creation failed.): "
        "Repository.name: name already exists on this account.",
        "status": 422,
        "errors": ["Repository.name: name already exists on this account"],
    }


def test_create_repo_in_an_organisation(github: FakeGitHub) -> None:
    result = run("create_repo", creds(github), name="shared", org="flowkit-org", private=False)
    assert result["success"] is True and result["full_name"] == "flowkit-org/shared" and result["private"] is False
    unknown = run("create_repo", creds(github), name="shared", org="nope")
    assert unknown["success"] is False and unknown["status"] == 404
    assert "GitHub found no organisation 'nope' (404 Not Found)" in unknown["message"]
    count = len(github.requests)
    hostile = run("create_repo", creds(github), name="x", org="../../user")
    assert hostile["success"] is False and "org must be" in hostile["message"]
    assert len(github.requests) == count


# -- issues ----------------------------------------------------------------------------------
def test_create_issue(github: FakeGitHub) -> None:
    result = run(
        "create_issue",
        creds(github),
        repo="octocat/hello",
        title="Broken build",
        body="It fails",
        labels=["bug"],
        assignees=["octocat"],
    )
    assert result["success"] is True
    assert result["number"] == 1 and result["state"] == "open"
    assert result["html_url"] == result["url"] == "https://github.com/octocat/hello/issues/1"
    assert github.requests[-1].json == {
        "title": "Broken build",
        "body": "It fails",
        "labels": ["bug"],
        "assignees": ["octocat"],
    }


def test_create_issue_refusals(github: FakeGitHub) -> None:
    missing = run("create_issue", creds(github), repo="octocat/nothing", title="x")
    assert missing["success"] is False and missing["status"] == 404
    assert "repository 'octocat/nothing'" in missing["message"] and "token may see it" in missing["message"]
    invalid = run("create_issue", creds(github), repo="octocat/hello", title="x", assignees=["ghost"])
    assert invalid["status"] == 422
    assert invalid["errors"] == ["Issue.assignees ('ghost'): is invalid"]
    with pytest.raises(ParamsError, match="'labels' must be a list"):
        run("create_issue", creds(github), repo="octocat/hello", title="x", labels="bug")
    with pytest.raises(ParamsError, match="'title' is required"):
        run("create_issue", creds(github), repo="octocat/hello")


def test_missing_field_is_explained() -> None:
    answer = error(422, "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}])
    with FunctionServer(lambda request: answer) as server:
        result = run("create_issue", {"token": TOKEN, "base_url": server.url}, repo="o/r", title=" ")
    assert result["message"] == "GitHub refused the request (422 Validation Failed): Issue.title: is required."


@pytest.mark.parametrize("repo", ["../etc", "octocat", "a/b/c", "octocat/..", "/octocat/hello", "octo cat/x"])
def test_hostile_repo_names_never_reach_github(github: FakeGitHub, repo: str) -> None:
    result = run("create_issue", creds(github), repo=repo, title="x")
    assert result["success"] is False and "repo must be owner/name" in result["message"]
    assert github.requests == []


def test_list_issues_follows_pages_and_skips_pull_requests(github: FakeGitHub) -> None:
    for n in range(150):
        github.add_issue("octocat/hello", f"issue {n}", pull=n % 10 == 0, labels=("bug",) if n % 2 else ())
    github.add_issue("octocat/hello", "done", state="closed")
    result = run("list_issues", creds(github), repo="octocat/hello", limit=120)
    assert result["success"] is True
    assert result["count"] == 120 and result["truncated"] is True
    assert all(not issue["pull_request"] for issue in result["issues"])
    assert [r.query.get("page") for r in github.requests] == [None, "2"]
    assert github.requests[0].query == {"state": "open", "per_page": "100"}
    everything = run(
        "list_issues", creds(github), repo="octocat/hello", state="all", include_pull_requests=True, limit=1000
    )
    assert everything["count"] == 151 and everything["truncated"] is False
    bugs = run("list_issues", creds(github), repo="octocat/hello", labels="bug")
    assert bugs["count"] == 75 and all(issue["labels"] == ["bug"] for issue in bugs["issues"])
    with pytest.raises(ParamsError, match="between 1 and 1000"):
        run("list_issues", creds(github), repo="octocat/hello", limit=0)


def test_list_issues_never_follows_a_link_to_another_host() -> None:
    with FunctionServer(lambda request: Reply(200, [])) as elsewhere:
        link = {"Link": f'<{elsewhere.url}/repos/o/r/issues?page=2>; rel="next"'}
        with FunctionServer(lambda request: Reply(200, [], link)) as api:
            result = run("list_issues", {"token": TOKEN, "base_url": api.url}, repo="o/r")
    assert result["success"] is True and result["count"] == 0
    assert elsewhere.requests == []


def test_comment_issue(github: FakeGitHub) -> None:
    github.add_issue("octocat/hello", "first")
    result = run("comment_issue", creds(github), repo="octocat/hello", number=1, body="Looking into it")
    assert result["success"] is True
    assert result["html_url"] == result["url"] == "https://github.com/octocat/hello/issues/1#issuecomment-1"
    assert github.comments[0]["body"] == "Looking into it"
    missing = run("comment_issue", creds(github), repo="octocat/hello", number=7, body="x")
    assert missing["success"] is False and "issue #7 in 'octocat/hello'" in missing["message"]
    with pytest.raises(ParamsError, match="'number' must be 1 or more"):
        run("comment_issue", creds(github), repo="octocat/hello", number=0, body="x")


# -- GitHub saying no in other ways ------------------------------------------------------------
def test_rate_limit(github: FakeGitHub) -> None:
    github.rate_limited = True
    result = run("create_issue", creds(github), repo="octocat/hello", title="x")
    assert result["success"] is False and result["status"] == 403
    assert "rate limit is used up" in result["message"] and "resets at 2030-01-01 00:00 UTC" in result["message"]


def test_missing_permission_names_it(github: FakeGitHub) -> None:
    github.missing_permission = "issues=write"
    result = run("create_issue", creds(github), repo="octocat/hello", title="x")
    assert result["message"] == (
        "GitHub refused access to repository 'octocat/hello' (403 Resource not accessible by personal access "
        "token): the token needs issues=write."
    )


def test_server_errors_and_non_json_answers() -> None:
    with FunctionServer(lambda request: Reply(502, "<html>Bad gateway</html>")) as server:
        broken = run("create_repo", {"token": TOKEN, "base_url": server.url}, name="x")
    assert broken["status"] == 502 and "server error (502 Bad Gateway)" in broken["message"]
    with FunctionServer(lambda request: Reply(200, "<html>GitHub</html>")) as site:
        html = run("create_repo", {"token": TOKEN, "base_url": site.url}, name="x")
    assert html["success"] is False and "not JSON" in html["message"] and "API root" in html["message"]


def test_redirect_to_another_host_drops_the_token() -> None:
    with FunctionServer(lambda request: Reply(200, {"login": "moved"})) as target:
        moved = {"Location": target.url.replace("127.0.0.1", "localhost") + "/user"}
        with FunctionServer(lambda request: Reply(302, "", moved)) as origin:
            result = run("test_connection", {"token": TOKEN, "base_url": origin.url})
    assert result["success"] is True and "moved" in result["message"]
    assert "authorization" in origin.requests[0].headers
    assert "authorization" not in target.requests[0].headers


def test_refused_connection_and_timeout() -> None:
    refused = run("create_repo", {"token": TOKEN, "base_url": f"http://127.0.0.1:{refused_port()}"}, name="x")
    assert refused["success"] is False and "connection refused" in refused["message"]
    with black_hole() as (host, port):
        started = time.monotonic()
        slow = run("list_issues", {"token": TOKEN, "base_url": f"http://{host}:{port}"}, repo="o/r", timeout=0.3)
        assert time.monotonic() - started < 3
    assert slow["success"] is False and "did not answer within 0.3 s" in slow["message"]
    assert run("test_connection", {"token": TOKEN, "base_url": "ftp://x"})["steps"][-1]["name"] == "config"


# -- secrets ---------------------------------------------------------------------------------
def test_no_token_in_any_result(canary: str) -> None:
    results = []
    with FakeGitHub(token=canary) as github:
        github.add_repo("octocat/hello")
        github.add_issue("octocat/hello", "first")
        for token in (canary, canary + "-wrong"):
            c = {"token": token, "base_url": github.api_url}
            results += [
                run("test_connection", c),
                run("create_repo", c, name="new"),
                run("create_repo", c, name="hello"),
                run("create_issue", c, repo="octocat/hello", title="t"),
                run("create_issue", c, repo="octocat/none", title="t"),
                run("list_issues", c, repo="octocat/hello"),
                run("comment_issue", c, repo="octocat/hello", number=1, body="b"),
                run("comment_issue", c, repo="octocat/hello", number=9, body="b"),
            ]
        github.rate_limited = True
        results.append(
            run("create_issue", {"token": canary, "base_url": github.api_url}, repo="octocat/hello", title="t")
        )
    assert {True, False} <= {result["success"] for result in results}
    results.append(run("test_connection", {"token": canary, "base_url": f"http://127.0.0.1:{refused_port()}"}))

    def echo(request):  # a server that quotes the token back in its error
        return error(422, request.headers["authorization"], [{"message": request.headers["authorization"]}])

    with FunctionServer(echo) as server:
        echoed = run("create_repo", {"token": canary, "base_url": server.url}, name="x")
    assert "Bearer ***" in echoed["message"]
    results.append(echoed)
    assert not find_canary(canary, json.dumps(results))
