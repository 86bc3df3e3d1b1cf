"""The simulator (``/console/simulator``): what a user would get for a query ("see as").

A policy administrator chooses a user (a demo user, or agency, roles and clearance typed in), a
purpose and a case, and writes a query; the page shows each field's outcome (allow, mask, deny)
with the policies that decided it, the records the record rules hide, whether the declaration
would be refused, and the answer the gateway's own stages give that user on the sandbox's
synthetic data (console/simulation.py). Every simulation is recorded (``console.simulate``)
before it is shown; it is a POST so that neither the query nor the ids it names end up in a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.i18n import messages, text
from console.simulation import (
    Sandbox,
    Simulation,
    declaration_headers,
    sandbox_executor,
    simulate,
)
from console.web import Page, change, console, language, page, record, render
from kernel.identifiers import InvalidIdentifier, check_case_id
from kernel.types import PURPOSE_DESCRIPTIONS, Principal
from sandbox.issuer import DEMO_USERS

PAGE = Page("simulator", "simulator.title", ("policy-admin",), order=20)
CUSTOM = "custom"
CUSTOM_SUBJECT = "simulated.user"
AGENCIES = ("police", "market", "banking", "courts", "credit", "office")
MAX_QUERY = 20_000

messages(
    {
        "simulator.title": ("模拟器", "Simulator"),
        "simulator.intro": (
            "以某个用户的身份查看一个查询：每个字段的结果（允许、脱敏、拒绝）及作出决定的策略，"
            "以及该用户在沙箱合成数据上得到的（脱敏后的）答复。从不访问各部门的真实数据。",
            "See a query as a user would: each field's outcome (allow, mask, deny) with the"
            " policies that decided it, and the (masked) answer that user gets on the sandbox's"
            " synthetic data. The agencies' live data is never asked.",
        ),
        "simulator.user": ("用户", "User"),
        "simulator.custom": ("自定义属性", "Custom attributes"),
        "simulator.subject": ("自定义用户标识", "Custom user's subject"),
        "simulator.agency": ("自定义用户所属部门", "Custom user's agency"),
        "simulator.roles": ("自定义用户角色（逗号分隔）", "Custom user's roles (comma-separated)"),
        "simulator.clearance": ("自定义用户密级（0-3）", "Custom user's clearance (0-3)"),
        "simulator.purpose": ("目的", "Purpose"),
        "simulator.case": ("案件编号（可选）", "Case id (optional)"),
        "simulator.justification": ("理由（可选）", "Justification (optional)"),
        "simulator.query": ("GraphQL 查询", "GraphQL query"),
        "simulator.run": ("模拟", "Simulate"),
        "simulator.examples": ("示例查询", "Sample queries"),
        "simulator.example.enterprise": (
            "企业及其法定代表人",
            "An enterprise with its legal representative",
        ),
        "simulator.example.person": ("个人及其身份证号", "A person with their ID number"),
        "simulator.example.account": ("银行账户及余额", "A bank account with its balance"),
        "simulator.sample_ids": ("沙箱示例标识", "The sandbox's sample ids"),
        "simulator.sample_ids.intro": (
            "沙箱合成数据中的演示情景（这些标识的查询会返回数据）：",
            "The demo scenario of the sandbox's synthetic data (queries for these ids return"
            " data):",
        ),
        "simulator.id.kind": ("标识", "Id"),
        "simulator.id.value": ("值", "Value"),
        "simulator.as": (
            "以 {subject}（{agency}；角色 {roles}；密级 {clearance}）的身份，目的 {purpose}，"
            "案件 {case}",
            "As {subject} ({agency}; roles {roles}; clearance {clearance}), purpose {purpose},"
            " case {case}",
        ),
        "simulator.teams": ("有效的联合工作组：{teams}", "Active joint teams: {teams}"),
        "simulator.none": ("无", "none"),
        "simulator.assigned.direct": (
            "该案件直接指派给此用户。",
            "The case is assigned to this user directly.",
        ),
        "simulator.assigned.team": (
            "此用户通过联合工作组获得该案件（仅限案件范围内的记录）。",
            "This user has the case through a joint team (records in the case's scope only).",
        ),
        "simulator.assigned.no": (
            "该案件未指派给此用户：网关会以 CASE_NOT_ASSIGNED 拒绝此声明。",
            "The case is not assigned to this user: the gateway refuses this declaration with"
            " CASE_NOT_ASSIGNED.",
        ),
        "simulator.refused": (
            "网关会拒绝此请求：{code}",
            "The gateway would refuse this request: {code}",
        ),
        "simulator.fields": ("逐字段结果", "Field by field"),
        "simulator.path": ("路径", "Path"),
        "simulator.outcome": ("结果", "Outcome"),
        "simulator.mask": ("脱敏方式", "Mask"),
        "simulator.policies": ("决定策略", "Deciding policies"),
        "simulator.records": ("记录级规则", "Record rules"),
        "simulator.records.hidden": (
            "{agency} 被隐藏的记录：{hidden}",
            "{agency} records hidden: {hidden}",
        ),
        "simulator.records.none": (
            "记录级规则不隐藏任何记录。",
            "The record rules hide no record.",
        ),
        "simulator.answer": ("沙箱上的答复", "The answer on sandbox data"),
        "simulator.errors": ("答复中的错误", "Errors in the answer"),
        "simulator.code": ("代码", "Code"),
        "simulator.message": ("说明", "Message"),
        "simulator.bad.user": ("未知的用户。", "Unknown user."),
        "simulator.bad.agency": ("未知的部门。", "Unknown agency."),
        "simulator.bad.clearance": ("密级必须是 0 到 3。", "The clearance must be 0 to 3."),
        "simulator.bad.purpose": ("未知的目的。", "Unknown purpose."),
        "simulator.bad.case": ("案件编号无效：{reason}", "The case id is not valid: {reason}"),
        "simulator.bad.query": ("请输入一个查询。", "Write a query."),
        "simulator.bad.subject": ("用户标识无效。", "The subject is not valid."),
    }
)


def examples(scenario: Mapping[str, Any]) -> dict[str, str]:
    """The sample queries, with ordinary ids of the sandbox world so that they return data."""
    return {
        "enterprise": (
            "query EnterpriseWithLegalRep {\n"
            f'  enterprise(uscc: "{scenario["enterprise_uscc"]}") {{\n'
            "    name\n    status\n    registeredCapital\n"
            "    legalRepresentative { name idNumber }\n  }\n}\n"
        ),
        "person": (
            "query PersonWithIdNumber {\n"
            f'  person(idNumber: "{scenario["person_id"]}") {{\n'
            "    name\n    idNumber\n    householdAddress\n  }\n}\n"
        ),
        "account": (
            "query AccountWithBalance {\n"
            f'  bankAccount(number: "{scenario["account_number"]}") {{\n'
            "    number\n    holderName\n    balance\n    currency\n  }\n}\n"
        ),
    }


SCENARIO_IDS = (
    "case_id",
    "enterprise_uscc",
    "person_id",
    "account_number",
    "police_case_number",
    "enforcement_case_number",
)


def _sandbox(request: Request) -> Sandbox:
    found = console(request)
    return sandbox_executor(found.gateway, found.extras)


def _form_page(
    request: Request,
    form: dict[str, str],
    status_code: int = 200,
    error: str = "",
    result: Simulation | None = None,
) -> Response:
    sandbox = _sandbox(request)
    scenario = sandbox.scenario
    return render(
        request,
        "simulator.html",
        status_code,
        form=form,
        users=sorted(DEMO_USERS.values(), key=lambda u: u.subject),
        custom=CUSTOM,
        purposes=[p.value for p in PURPOSE_DESCRIPTIONS],
        agencies=AGENCIES,
        samples=[(f"sample {k}", v) for k, v in sandbox.samples.items()]
        + [(f"scenario {k}", str(scenario[k])) for k in SCENARIO_IDS if k in scenario],
        example_keys=list(examples(sandbox.samples)),
        error=error,
        result=result,
    )


@page(PAGE)
async def show(request: Request) -> Response:
    samples = _sandbox(request).samples
    chosen = examples(samples).get(request.query_params.get("example", ""), "")
    form = {
        "user": "market.officer",
        "purpose": "supervision",
        "query": chosen or examples(samples)["enterprise"],
        "subject": CUSTOM_SUBJECT,
        "agency": "market",
        "roles": "",
        "clearance": "0",
        "case": "",
        "justification": "",
    }
    return _form_page(request, form)


@change(PAGE)
async def run(request: Request, form: FormData) -> Response:
    given = {k: str(form.get(k) or "") for k in _FIELDS}
    given["case"] = given["case"].strip()
    try:
        principal = _principal(given)
        purpose = given["purpose"]
        if purpose not in {p.value for p in PURPOSE_DESCRIPTIONS}:
            raise _Bad("simulator.bad.purpose")
        case_id = _case(given["case"])
        query = given["query"]
        if not query.strip() or len(query) > MAX_QUERY:
            raise _Bad("simulator.bad.query")
    except _Bad as bad:
        return _form_page(request, given, 400, text(bad.key, language(request), **bad.values))
    found = console(request)
    headers = declaration_headers(purpose, case_id, given["justification"].strip())
    result = await simulate(found.gateway, _sandbox(request), principal, headers, query)
    await record(
        request,
        "console.simulate",
        {
            "user": principal.subject,
            "agency": principal.agency,
            "roles": sorted(principal.roles),
            "clearance": principal.clearance,
            "purpose": purpose,
            "case": case_id,
            "operation": result.operation,
            "query_hash": result.query_hash,
        },
    )
    return _form_page(request, given, result=result)


_FIELDS = (
    "user",
    "subject",
    "agency",
    "roles",
    "clearance",
    "purpose",
    "case",
    "justification",
    "query",
)


class _Bad(Exception):
    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def _principal(given: dict[str, str]) -> Principal:
    if given["user"] != CUSTOM:
        demo = DEMO_USERS.get(given["user"])
        if demo is None:
            raise _Bad("simulator.bad.user")
        return Principal(demo.subject, demo.agency, frozenset(demo.roles), demo.clearance)
    subject = given["subject"].strip() or CUSTOM_SUBJECT
    if len(subject) > 100 or not subject.isprintable():
        raise _Bad("simulator.bad.subject")
    if given["agency"] not in AGENCIES:
        raise _Bad("simulator.bad.agency")
    if given["clearance"].strip() not in ("0", "1", "2", "3"):
        raise _Bad("simulator.bad.clearance")
    roles = frozenset(r.strip() for r in given["roles"].split(",") if r.strip())
    return Principal(subject, given["agency"], roles, int(given["clearance"]))


def _case(text: str) -> str:
    if not text:
        return ""
    try:
        return check_case_id(text)  # NFKC, upper case: the one form the gateway takes
    except InvalidIdentifier as exc:
        raise _Bad("simulator.bad.case", reason=exc.reason) from None


ROUTES = [
    Route("/simulator", show),
    Route("/simulator", run, methods=["POST"]),
]
