"""The API manual at ``/schema``: a viewer served from a pinned Python package (no CDN, so
it works offline and under a strict CSP), and the OpenAPI document completed in one place
so it says what the routes really answer.

Litestar documents a handler from its signature only. What the guards, the error handlers
and our HTML replies add is put in here, once, from each route's own guards and
parameters, instead of by hand in every decorator:

- every error reply is ``ErrorReply`` (``code``, ``message``, ``details``), never
  Litestar's default ``status_code``/``detail`` shape;
- a guarded route may answer 401 and 403, a route with parameters or a body 400, a route
  with path parameters 404;
- a route without a guard is public (``security: []``) unless it says otherwise;
- a body struct with ``forbid_unknown_fields`` is ``additionalProperties: false``.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.routes import HTTPRoute

ERROR_REF = {"$ref": "#/components/schemas/ErrorReply"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "stable, machine-readable"},
        "message": {"type": "string", "description": "for the cashier or operator"},
        "details": {"description": "what exactly was wrong, when known"},
    },
    "title": "ErrorReply",
}
ERROR_TEXT = {
    400: "The body or a parameter is malformed (code invalid_request).",
    401: "Missing, unknown or revoked bearer key (code unauthorized).",
    403: "The key's role may not call this route (code forbidden).",
    404: "No such card, receipt, account, store or record.",
}

# swagger-ui-py ships the Swagger UI 5 distribution (OpenAPI 3.1) inside the wheel.
VIEWER_FILES = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
}
VIEWER_INIT = b"""window.ui = SwaggerUIBundle({
  url: document.body.dataset.spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""
# Swagger UI sets style attributes on its elements; it runs no inline or remote script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@functools.cache
def _viewer_dir() -> Path:
    return Path(str(resources.files("swagger_ui") / "static"))


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def viewer_asset(name: FromPath[str]) -> Response[bytes]:
    if name == "init.js":
        return Response(VIEWER_INIT, media_type="application/javascript")
    if name not in VIEWER_FILES:
        raise NotFoundException(f"no manual asset {name}")
    return Response(
        (_viewer_dir() / name).read_bytes(),
        media_type=VIEWER_FILES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


class OfflineSwagger(OpenAPIRenderPlugin):
    """Swagger UI from the installed package, reading ``openapi.json`` beside it."""

    def __init__(self, path: str | list[str] = "/swagger") -> None:
        super().__init__(path=path, media_type=MediaType.HTML)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        prefix = request.app.openapi_config.path if request.app.openapi_config else "/schema"
        title = str(openapi_schema["info"]["title"])
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title>"
            f'<link rel="stylesheet" href="{prefix}/assets/swagger-ui.css"></head>'
            f'<body data-spec="{prefix}/openapi.json"><div id="swagger-ui"></div>'
            f'<script src="{prefix}/assets/swagger-ui-bundle.js"></script>'
            f'<script src="{prefix}/assets/init.js"></script></body></html>'
        ).encode()

    def receive_router(self, router: Router) -> None:
        if not any(getattr(r, "path", "").endswith("/assets/{name:str}") for r in router.routes):
            router.register(viewer_asset)


class CompletedJson(OpenAPIRenderPlugin):
    """``openapi.json``, completed by :func:`complete` before it is first served."""

    def __init__(self) -> None:
        super().__init__(path="/openapi.json", media_type=MediaType.JSON)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        complete(openapi_schema, request.app)
        return self.render_json(request, openapi_schema)


def roles_of(handler: HTTPRouteHandler) -> list[str] | None:
    """The roles of the route's ``allow`` guard; None when it has none (a public route)."""
    for guard in handler.resolve_guards():
        roles = getattr(guard, "roles", None)
        if roles is not None:
            return list(roles)
    return None


def _is_litestar_error(response: dict[str, Any]) -> bool:
    for media in (response.get("content") or {}).values():
        schema = media.get("schema") or {}
        options = schema.get("oneOf") or [schema]
        if any("status_code" in (o.get("properties") or {}) for o in options):
            return True
    return False


def _error(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or ERROR_TEXT.get(status, "Error"),
        "content": {"application/json": {"schema": ERROR_REF}},
    }


# Litestar builds the document once and keeps it; it is completed once, in place. Keeping
# the document here too means its id cannot be reused by another while it is remembered.
_completed: dict[int, dict[str, Any]] = {}


def complete(schema: dict[str, Any], app: Litestar) -> None:
    """Complete the document in place, once."""
    if _completed.get(id(schema)) is schema:
        return
    schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "ErrorReply", ERROR_SCHEMA
    )
    structs: dict[str, type[msgspec.Struct]] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        item = schema.get("paths", {}).get(route.path_format or "/")
        if item is None:
            continue
        for method, (handler, _) in route.route_handler_map.items():
            operation = item.get(method.lower())
            if operation is None or not handler.resolve_include_in_schema():
                continue
            _complete_operation(operation, handler, bool(route.path_parameters))
            _collect_structs(handler, structs)
    for name, component in schema["components"]["schemas"].items():
        struct = structs.get(name) or structs.get(name.rsplit("_", 1)[-1])
        if struct is not None and struct.__struct_config__.forbid_unknown_fields:
            component["additionalProperties"] = False
    _completed[id(schema)] = schema


# (format value, media type, schema) of the files a ``format`` query parameter asks for.
FILE_FORMATS = [
    ("csv", "text/csv", {"type": "string"}),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        {"type": "string", "format": "binary"},
    ),
]


def _complete_operation(
    operation: dict[str, Any], handler: HTTPRouteHandler, has_path_parameters: bool
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, response in list(responses.items()):
        if _is_litestar_error(response):
            responses[status] = _error(int(status))
    takes_input = (
        has_path_parameters or bool(operation.get("parameters")) or ("requestBody" in operation)
    )
    wanted = []
    if takes_input:
        wanted.append(400)
    if has_path_parameters:
        wanted.append(404)
    roles = roles_of(handler)
    if roles is not None:
        wanted += [401, 403]
        operation["description"] = (
            (operation.get("description") or "") + f"\n\nAllowed: {', '.join(roles)}."
        ).strip()
    elif not handler.resolve_security():
        # Public: no Authorization header is needed (the document-wide default is bearer).
        operation["security"] = []
    # A report's ``format=csv|xlsx`` answers a file: those types are its 200's too.
    formats: list[str] = next(
        (
            p.get("schema", {}).get("enum", [])
            for p in operation.get("parameters", [])
            if p.get("name") == "format" and p.get("in") == "query"
        ),
        [],
    )
    ok = responses.get("200")
    if ok is not None and "content" in ok:
        for name, media_type, body in FILE_FORMATS:
            if name in formats:
                ok["content"].setdefault(media_type, {"schema": body})
    for code in wanted:
        existing = responses.get(str(code))
        if existing is None:
            responses[str(code)] = _error(code)
        elif "content" not in existing:
            existing["content"] = {"application/json": {"schema": ERROR_REF}}
        elif "application/json" not in existing["content"]:
            existing["content"]["application/json"] = {"schema": ERROR_REF}


def _collect_structs(handler: HTTPRouteHandler, found: dict[str, type[msgspec.Struct]]) -> None:
    for field in handler.parsed_fn_signature.parameters.values():
        try:
            info = msgspec.inspect.type_info(field.annotation)
        except (TypeError, ValueError):  # Request, State and the like: not a body type
            continue
        _walk(info, found)


def _walk(info: msgspec.inspect.Type, found: dict[str, type[msgspec.Struct]]) -> None:
    if isinstance(info, msgspec.inspect.StructType):
        if info.cls.__name__ in found:
            return
        found[info.cls.__name__] = info.cls
        for field in info.fields:
            _walk(field.type, found)
        return
    for attribute in ("item_type", "key_type", "value_type"):
        inner = getattr(info, attribute, None)
        if isinstance(inner, msgspec.inspect.Type):
            _walk(inner, found)
    for inner in getattr(info, "types", ()) or ():
        if isinstance(inner, msgspec.inspect.Type):
            _walk(inner, found)
