"""A small registry that builds the OpenAPI document from the routes and their pydantic bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .bounds import INT4_MAX


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    body: type[BaseModel] | None
    tag: str
    params: list[dict[str, Any]]
    responses: dict[str, str]
    content: tuple[str, ...] = ()  # the success reply's content types when not JSON


OPERATIONS: list[Operation] = []

_RULE_RE = re.compile(r"<(?:(\w+):)?(\w+)>")  # a Flask rule's <converter:name>
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": INT4_MAX}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}


def document(path: str, method: str, summary: str, *, body: type[BaseModel] | None = None, tag: str = "hall",
             params: list[dict[str, Any]] | None = None, responses: dict[str, str] | None = None,
             content: tuple[str, ...] = ()) -> None:
    OPERATIONS.append(Operation(path, method.lower(), summary, body, tag, params or [], responses or {}, content))


# Every operation may answer these (api/errors.py): a malformed request, an unknown id, a state that forbids it,
# invalid fields, and storage unavailable / busy. Login and roles (401/403) apply outside the public "meta"
# operations; 415 where there is a body; 423 is the login lock-out.
_COMMON = (("400", "malformed JSON or a bad query parameter"), ("404", "unknown id (or out of range)"),
           ("409", "impossible in the current state"), ("422", "invalid fields; see details"),
           ("503", "storage unavailable or the hall busy; Retry-After says when to try again"))


def _error_statuses(op: Operation) -> list[tuple[str, str]]:
    out = list(_COMMON)
    if op.tag != "meta":
        out += [("401", "not logged in, or a bad device token"), ("403", "not allowed for this caller")]
    if op.body is not None:
        out.append(("415", "the body is not application/json"))
    if op.path == "/auth/login":
        out += [("423", "the account is locked after repeated wrong passwords"),
                ("429", "too many failed logins from this address; wait a moment")]
    return out


def build(title: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for op in OPERATIONS:
        oa_path = _RULE_RE.sub(lambda m: "{" + m.group(2) + "}", op.path)
        params = [
            {"name": name, "in": "path", "required": True,
             "schema": ID_SCHEMA if conv == "id" else {"type": "string", "minLength": 1}}
            for conv, name in _RULE_RE.findall(op.path)
        ] + op.params
        entry: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "parameters": params}
        ok_content = {ct: {"schema": {"type": "string"}} for ct in op.content} if op.content else \
            {"application/json": {"schema": {"type": "object"}}}
        responses: dict[str, Any] = {
            code: {"description": text, "content": ok_content}
            for code, text in ({"200": "OK"} | op.responses).items()
        }
        for code, text in _error_statuses(op):
            responses.setdefault(code, {"description": text, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}})
        entry["responses"] = responses
        if op.body is not None:
            name = op.body.__name__
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[name] = schema
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{name}"}}}}
        paths.setdefault(oa_path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
