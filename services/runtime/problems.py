"""RFC 9457 problem details for every HTTP service: one shape for every error a client sees."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://impactline.dev/problems/"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        kind: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.kind if problem.kind == "about:blank" else TYPE_BASE + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    body.update(problem.extensions)
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def json_pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    """RFC 6901 pointer into the request body for a pydantic error location."""
    parts = [str(p) for p in loc if p != "body"]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def invalid_fields(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The `errors` extension: which field broke which rule, as pointers into the body."""
    out = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if loc and loc[0] == "body":
            loc = loc[1:]
        out.append({"pointer": json_pointer(loc), "field": _field_name(loc), "detail": err["msg"]})
    return out


def _field_name(loc: tuple[Any, ...]) -> str:
    names = [str(p) for p in loc if not isinstance(p, int)]
    return names[-1] if names else "(body)"


def validation_problem(errors: list[dict[str, Any]], title: str = "Invalid request") -> Problem:
    fields = invalid_fields(errors)
    summary = "; ".join(f"{f['pointer']}: {f['detail']}" for f in fields[:5])
    if len(fields) > 5:
        summary += f"; and {len(fields) - 5} more"
    return Problem(422, title, summary, kind="validation", errors=fields)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, including FastAPI's own, as problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(exc.errors())), request.url.path)

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(exc.errors())), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        problem = Problem(exc.status_code, title, str(exc.detail), headers=exc.headers)
        return problem_response(problem, request.url.path)
