"""The dashboard: one static page served by the API at `/`, with its script and style sheet.

The page holds no data and needs no key to load; it asks the query API and the live stream for
everything with the key the user enters, so the files are public. Nothing is fetched from
anywhere but this API, which the Content-Security-Policy header enforces in the browser.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "whatif.js": "text/javascript; charset=utf-8",
}


@cache
def asset(name: str) -> bytes:
    return (resources.files(__package__) / name).read_bytes()


def _answer(name: str) -> Response:
    return Response(
        asset(name),
        media_type=TYPES[name],
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get("/")
async def page() -> Response:
    return _answer("index.html")


@router.get("/dashboard/app.js")
async def script() -> Response:
    return _answer("app.js")


@router.get("/dashboard/whatif.js")
async def whatif_script() -> Response:
    return _answer("whatif.js")


@router.get("/dashboard/app.css")
async def style() -> Response:
    return _answer("app.css")
