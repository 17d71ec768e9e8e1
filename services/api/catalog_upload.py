"""Read a catalog replacement from a request: JSON documents or a YAML stream, then validate it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import yaml
from fastapi import Request
from pydantic import ValidationError

from impactline.api.responses import CatalogUpload
from impactline.core import yaml_limits
from impactline.core.catalog import Catalog, CatalogInvalid
from impactline.core.values import unstorable_text
from impactline.runtime.problems import Problem, validation_problem

MAX_CATALOG_BYTES = 128 * 1024 * 1024
MAX_ERRORS_SHOWN = 1000
JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


async def read_body(request: Request, limit: int = MAX_CATALOG_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        "Body too large",
        f"a catalog upload may be at most {limit // (1024 * 1024)} MiB",
        kind="too-large",
    )


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


def documents_from(body: bytes, content_type: str, names: list[str]) -> dict[str, Any]:
    """Document name -> content, from a JSON upload or a YAML stream."""
    if content_type in YAML_TYPES:
        return _yaml_documents(body, names)
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        if names:
            raise Problem(
                422,
                "Unexpected parameter",
                "`document` names YAML uploads only; a JSON upload names its documents as "
                'the keys of "documents"',
                kind="validation",
            )
        return _json_documents(body)
    raise Problem(
        415,
        "Unsupported media type",
        f"send the catalog as application/json or application/yaml, not {content_type}",
        kind="unsupported-media-type",
    )


def _json_documents(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, "Malformed JSON", f"the body is not valid JSON: {exc}", kind="malformed-json"
        ) from None
    try:
        return CatalogUpload.model_validate(payload).documents
    except ValidationError as exc:
        raise validation_problem(list(exc.errors()), "Invalid catalog upload") from None


def _yaml_documents(body: bytes, names: list[str]) -> dict[str, Any]:
    try:
        parsed = [doc for doc in yaml_limits.load_all(body) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml_limits.YamlLimitExceeded):
            raise Problem(
                422,
                "YAML beyond limits",
                f"the YAML body is refused{where}: {problem} (at most {yaml_limits.MAX_DEPTH} "
                f"levels of nesting, aliases adding at most {yaml_limits.MAX_ALIAS_NODES} nodes)",
                kind="yaml-limits",
            ) from None
        raise Problem(
            400,
            "Malformed YAML",
            f"the body is not valid YAML{where}: {problem}",
            kind="malformed-yaml",
        ) from None
    if not parsed:
        raise Problem(422, "Empty catalog", "the body holds no YAML document", kind="validation")
    if names and len(names) != len(parsed):
        raise Problem(
            422,
            "Document names do not match",
            f"the body holds {len(parsed)} YAML documents but {len(names)} `document` names "
            "were given; give one per document, in order",
            kind="validation",
        )
    if not names:
        names = (
            ["catalog.yaml"]
            if len(parsed) == 1
            else [f"document-{n}.yaml" for n in range(1, len(parsed) + 1)]
        )
    if len(set(names)) != len(names):
        raise Problem(422, "Duplicate document names", "each `document` name must be unique")
    return dict(zip(names, parsed, strict=True))


async def validated_catalog(documents: dict[str, Any]) -> Catalog:
    """The catalog, or a 422 problem listing every error with its document and path."""
    try:
        # Seconds for a large catalog: off the event loop so other requests are answered.
        return await asyncio.to_thread(_validate, documents)
    except CatalogInvalid as exc:
        raise invalid_catalog_problem(exc) from None


def _validate(documents: dict[str, Any]) -> Catalog:
    for name, document in documents.items():
        where = unstorable_text(document)
        if where is not None:
            raise Problem(
                422,
                "Invalid catalog",
                f"document {name!r} at {where}: holds U+0000 or a lone surrogate, which text "
                "cannot hold; nothing was stored",
                kind="invalid-catalog",
                errors=[{"document": name, "path": where, "message": "unstorable character"}],
                error_count=1,
            )
    return Catalog.from_documents(documents.items())


def invalid_catalog_problem(exc: CatalogInvalid) -> Problem:
    errors = [
        {"document": e.file, "path": e.path, "message": e.message}
        | ({"line": e.line} if e.line is not None else {})
        for e in exc.errors[:MAX_ERRORS_SHOWN]
    ]
    count = len(exc.errors)
    shown = "; ".join(str(e) for e in exc.errors[:3]) + ("; ..." if count > 3 else "")
    return Problem(
        422,
        "Invalid catalog",
        f"{count} error{'s' if count != 1 else ''}, nothing was stored: {shown}",
        kind="invalid-catalog",
        errors=errors,
        error_count=count,
    )
