"""The workbench (``/console/workbench``): GraphiQL for front-end developers, as themselves.

Every signed-in official may open it. GraphiQL and React are served from
``console/static/vendor`` (pinned: MANIFEST.json, scripts/vendor-console.sh), the page's own
script is ``console/static/workbench.js``; nothing comes from another site. Its queries go to
``/console/workbench/graphql``, which checks the CSRF header and hands the body to the gateway's
pipeline as the official (``console.web.forward``): their own token and declaration, the API's
need-to-know, limits, answers and audit record. GraphiQL is given the schema this official may
see (``/console/workbench/schema``, recorded as ``console.workbench.schema``), computed here as
the analyze stage would restrict it: introspection through /graphql is for the roles in
``limits.introspection_roles`` only. The answer's error codes are explained under the editor
(docs/errors.md), in Chinese and English.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import introspection_from_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.i18n import messages, text
from console.web import (
    Page,
    access_token,
    console,
    csrf_header_ok,
    forward,
    language,
    page,
    record,
    render,
)
from gateway.visibility import VisibleSchemas
from kernel.errors import GatewayError
from kernel.types import PURPOSE_DESCRIPTIONS, Declaration, Purpose

PAGE = Page("workbench", "workbench.title", (), order=80)
#: the declaration headers the workbench sends along (the rest of the request is the body)
FORWARDED = ("x-purpose", "x-case-id", "x-justification")
JSON_HEADERS = {"Cache-Control": "no-store"}
_SCHEMAS = "workbench.schemas"

messages(
    {
        "workbench.title": ("工作台", "Workbench"),
        "workbench.intro": (
            "以您自己的身份（您的令牌、声明的目的和案件）试用 GraphQL 接口。编辑器只显示您可能"
            "看到的字段；每个查询都与其他 API 请求一样受需知原则约束并记入审计。",
            "Try the GraphQL API as yourself (your token, your declared purpose and case). The"
            " editor knows only the fields you could be shown; every query is governed by"
            " need-to-know and audited like any other API request.",
        ),
        "workbench.purpose": ("目的（X-Purpose）", "Purpose (X-Purpose)"),
        "workbench.case": ("案件编号（X-Case-Id）", "Case id (X-Case-Id)"),
        "workbench.justification": ("理由（X-Justification）", "Justification (X-Justification)"),
        "workbench.editor": ("GraphiQL 编辑器", "GraphiQL editor"),
        # the names workbench.js gives GraphiQL's editors (their textareas and scroll regions)
        "workbench.editor.query": ("查询编辑器", "Query editor"),
        "workbench.editor.variables": ("变量编辑器（JSON）", "Variables editor (JSON)"),
        "workbench.editor.headers": ("请求头编辑器（JSON）", "Headers editor (JSON)"),
        "workbench.editor.response": ("答复（只读）", "Response (read-only)"),
        "workbench.editor.other": ("编辑器", "Editor"),
        "workbench.noscript": (
            "工作台需要 JavaScript（GraphiQL）。",
            "The workbench needs JavaScript (GraphiQL).",
        ),
        "workbench.explained": ("答复中错误的说明", "What the answer's errors mean"),
        "workbench.loading": ("正在加载您的模式……", "Loading your schema…"),
        "workbench.csrf": (
            "请求缺少有效的 CSRF 令牌，未执行。请重新加载页面。",
            "The request carried no valid CSRF token and was not run. Reload the page.",
        ),
        "workbench.at": ("位置", "at"),
    }
)

#: Plain-language explanations of the API's error codes (docs/errors.md), (中文, English).
CODES: dict[str, tuple[str, str]] = {
    "FORBIDDEN_FIELD": (
        "按您声明的目的，您无权查看此字段，或它所属的记录对您不可见（两者措辞相同）。"
        "换一个目的或案件，或去掉该字段。",
        "You may not see this field for the purpose you declared, or the record it belongs to"
        " is not visible to you (the same words for both). Declare another purpose or case, or"
        " leave the field out.",
    ),
    "CASE_NOT_ASSIGNED": (
        "该案件编号不是指派给您（直接或通过联合工作组）的在办案件。请联系联合办公室。",
        "The case id is not an open case assigned to you, directly or through a joint team."
        " Ask the joint office to assign you.",
    ),
    "PURPOSE_REQUIRED": (
        "请在上方声明目的；侦查和执行目的还需要案件编号。",
        "Declare a purpose above; investigation and enforcement also need a case id.",
    ),
    "GRAPHQL_PARSE_FAILED": (
        "查询无法解析：请检查语法。",
        "The query does not parse: check its syntax.",
    ),
    "GRAPHQL_VALIDATION_FAILED": (
        "查询不符合您可见的模式：您的任何声明都无法显示的字段在这里就像不存在一样。",
        "The query does not fit the schema you may see: a field no declaration of yours could"
        " show reads as if it did not exist.",
    ),
    "BAD_USER_INPUT": (
        "某个参数或变量未通过检查（例如身份证号、统一社会信用代码的格式，或分页参数）。",
        "An argument or variable failed its check (the form of an ID number or USCC, or a"
        " paging argument).",
    ),
    "QUERY_TOO_COMPLEX": (
        "查询超过了限制（深度、别名、根字段、成本等）：请拆分查询。",
        "The query is past a limit (depth, aliases, root fields, cost ...): split it.",
    ),
    "RATE_LIMITED": ("请求过于频繁：请稍后再试。", "Too many requests: try again later."),
    "VOLUME_LIMITED": (
        "您在此时段内已取得该类型允许的最多记录数。",
        "You have received as many records of this type as the window allows.",
    ),
    "UNAUTHENTICATED": (
        "您的登录已失效：请重新登录。",
        "Your sign-in is no longer valid: sign in again.",
    ),
    "BAD_REQUEST": ("请求格式不对。", "The request is not a well-formed GraphQL request."),
    "AGENCY_UNAVAILABLE": (
        "某个部门的系统暂时不可用；其他部门的数据仍然返回。",
        "An agency's system is unavailable; the other agencies' data is still returned.",
    ),
    "AGENCY_ERROR": (
        "某个部门拒绝了请求或答复异常。",
        "An agency refused the request or answered outside its contract.",
    ),
    "REQUEST_TIMEOUT": ("请求超时，已停止。", "The request took too long and was stopped."),
    "AUDIT_UNAVAILABLE": (
        "审计链暂时无法记录，因此不提供数据。",
        "The audit trail could not record the request, so no data is served.",
    ),
    "INTERNAL_SERVER_ERROR": (
        "网关内部错误：请把 requestId 告诉运维人员。",
        "An internal error: quote the requestId to the operators.",
    ),
}


@page(PAGE)
async def show(request: Request) -> Response:
    lang = language(request)
    codes = {code: pair[1] if lang == "en" else pair[0] for code, pair in CODES.items()}
    return render(
        request,
        "workbench.html",
        purposes=[p.value for p in PURPOSE_DESCRIPTIONS],
        codes=orjson.dumps(codes).decode(),
        at=text("workbench.at", lang),
    )


@page(PAGE)
async def run(request: Request) -> Response:
    if not csrf_header_ok(request):
        message = text("workbench.csrf", language(request))
        return JSONResponse({"errors": [{"message": message, "extensions": {"code": "CSRF"}}]}, 403)
    body = await request.body()
    headers = {k: request.headers[k] for k in FORWARDED if request.headers.get(k)}
    status, raw = await forward(request, body, headers)
    return Response(raw, status, media_type="application/json", headers=JSON_HEADERS)


@page(PAGE)
async def schema(request: Request) -> Response:
    """The introspection result of the schema this official could be shown."""
    found = console(request)
    pipeline = found.gateway.pipeline
    try:
        principal = await pipeline.verifier.authenticate(f"Bearer {access_token(request)}")
    except GatewayError as exc:
        return JSONResponse({"errors": list(exc.graphql_errors())}, exc.status)
    authorizer = pipeline.authorizer
    context = authorizer.context(principal, Declaration(purpose=Purpose.SUPERVISION))
    visible = authorizer.visibility(principal, context)
    schemas = found.extras.get(_SCHEMAS)
    if schemas is None:
        schemas = found.extras[_SCHEMAS] = VisibleSchemas(found.gateway.schema.graphql)
    shown: dict[str, Any] = dict(introspection_from_schema(schemas.get(visible, True)))
    await record(
        request,
        "console.workbench.schema",
        {"types": len(shown["__schema"]["types"]), "visibility": visible.key},
    )
    return JSONResponse({"data": shown}, headers=JSON_HEADERS)


ROUTES = [
    Route("/workbench", show),
    Route("/workbench/graphql", run, methods=["POST"]),
    Route("/workbench/schema", schema),
]
