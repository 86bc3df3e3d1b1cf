"""``enterprises(nameContains:, first:, after:)``: a caller learns nothing of the matches its
record rules hide (not their number, not where they are, not their keys through a cursor), and
paging input is refused before any agency is asked."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt

from audit.log import MemoryAuditLog
from commands.demo import prepare
from connectors.base import Labels, Page, Record
from connectors.registry import AgencySettings
from gateway.app import build_gateway, create_app
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from sandbox.banking import DEFAULT_KEY
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER, load_or_create_keys, mint_token
from sandbox.world import World
from schema.enterprise import MAX_PAGE
from schema.paging import CURSOR_TTL_S, MAX_SEARCH_TEXT
from schema.search import COUNT_LIMIT, SCAN_CALLS, SCAN_LIMIT, START, scan
from tests.gateway.conftest import Harness, card, open_harness, uscc

SEARCH = """query($text: String! = "财富", $first: Int! = 3, $after: String) {
  enterprises(nameContains: $text, first: $first, after: $after) {
    totalCount nodes { uscc } pageInfo { hasNextPage endCursor } } }"""
HIDDEN = (2, 5, 10, 11)  # of the 12 enterprises, hidden from the market officer (clearance 1)
VISIBLE = [i for i in range(12) if i not in HIDDEN]
OFFICER = {"user": "market.officer", "purpose": "supervision", "case": None}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as opened:
        for i in HIDDEN:  # above the officer's clearance: records-within-clearance does not hold
            opened.agencies["market"]._records["enterprise"][i]["sensitivity"] = 2
        yield opened


async def search(harness: Harness, who: dict[str, Any] = OFFICER, **variables: Any) -> Any:
    response = await harness.query(SEARCH, variables, **who)
    body = response.json()
    assert response.status_code == 200, body
    return body


async def pages(harness: Harness, first: int, who: dict[str, Any] = OFFICER) -> list[Any]:
    found, after = [], None
    for _ in range(20):
        body = await search(harness, who, first=first, after=after)
        assert "errors" not in body, body
        found.append(body["data"]["enterprises"])
        if not found[-1]["pageInfo"]["hasNextPage"]:
            return found
        after = found[-1]["pageInfo"]["endCursor"]
    raise AssertionError("the search did not end")


def usccs(page: Any) -> list[str]:
    return [n["uscc"] for n in page["nodes"]]


def codes(body: Any) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", ())]


# -- what the caller may learn ---------------------------------------------------------------------


async def test_pages_are_full_and_say_nothing_of_hidden_matches(harness: Harness) -> None:
    found = await pages(harness, first=3)
    assert [usccs(p) for p in found] == [
        [uscc(i) for i in VISIBLE[0:3]],
        [uscc(i) for i in VISIBLE[3:6]],
        [uscc(i) for i in VISIBLE[6:8]],
    ]  # not [0, 1] then [3, 4, 5]...: a short page would say that something was left out
    assert [p["pageInfo"]["hasNextPage"] for p in found] == [True, True, False]
    # the agency counts 12; the officer may see 8, which the gateway knows exactly
    assert {p["totalCount"] for p in found} == {len(VISIBLE)}
    withheld = harness.audit.records[-1].records_withheld
    assert withheld == {"Enterprise": 2}  # 10 and 11: read, and not shown


async def test_a_page_followed_only_by_hidden_matches_has_no_next_page(harness: Harness) -> None:
    [only] = await pages(harness, first=len(VISIBLE))
    assert usccs(only) == [uscc(i) for i in VISIBLE]
    assert only["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert only["totalCount"] == len(VISIBLE)
    last = (await pages(harness, first=2))[-1]
    assert usccs(last) == [uscc(8), uscc(9)] and last["pageInfo"]["hasNextPage"] is False


def market_head(harness: Harness) -> dict[str, str]:
    """Headers of a market-regulation principal with clearance 3: it sees every registry
    record, whatever its labels (records-own-agency)."""
    keys = load_or_create_keys(harness.data_dir)
    now = int(time.time())
    claims = {"iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": "market.head", "agency": "market",
              "roles": ["officer"], "clearance": 3, "iat": now, "exp": now + 600}  # fmt: skip
    token = jwt.encode({"alg": "ES256", "kid": keys.keys[0].kid}, claims, keys)
    return {"authorization": f"Bearer {token}", "x-purpose": "supervision"}


async def test_beyond_what_it_reads_the_gateway_counts_only_for_who_sees_everything(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import schema.search

    monkeypatch.setattr(schema.search, "COUNT_LIMIT", 4)  # reads at most 4 matches to count
    officer = (await search(harness, first=2))["data"]["enterprises"]
    assert officer["totalCount"] is None  # 8 or 12? It would have to read them all to know
    response = await harness.client.post(
        "/graphql", json={"query": SEARCH, "variables": {"first": 2}}, headers=market_head(harness)
    )
    head = response.json()["data"]["enterprises"]
    assert head["totalCount"] == 12 and usccs(head) == [uscc(0), uscc(1)]


async def test_without_totalcount_only_the_page_and_one_more_are_read(harness: Harness) -> None:
    query = 'query { enterprises(nameContains: "财富", first: 3) { nodes { uscc } } }'
    response = await harness.query(query, **OFFICER)
    assert [n["uscc"] for n in response.json()["data"]["enterprises"]["nodes"]] == [
        uscc(i) for i in VISIBLE[:3]
    ]
    assert harness.audit.records[-1].records_withheld == {"Enterprise": 1}  # 2 only


async def test_a_cursor_is_opaque(harness: Harness) -> None:
    first = (await search(harness, first=2))["data"]["enterprises"]
    cursor = first["pageInfo"]["endCursor"]
    assert cursor and "财富" not in cursor
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        decoded = b""
    world = harness.agencies["market"]._records["enterprise"]
    for clear in (cursor.encode(), decoded):
        assert not any(row["uscc"].encode() in clear for row in world)
        assert b"after" not in clear and not clear.strip(b"\"'").isdigit()


async def test_only_cursors_of_the_same_callers_same_search_are_taken(harness: Harness) -> None:
    body = await search(harness, first=2)
    cursor = body["data"]["enterprises"]["pageInfo"]["endCursor"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    police = {"user": "police.investigator", "purpose": "supervision", "case": None}
    other_purpose = {"user": "market.officer", "purpose": "risk-monitoring", "case": None}
    refusals = [
        (OFFICER, {"after": tampered}),
        (OFFICER, {"after": "3"}),  # what the agency's own cursor would look like
        (OFFICER, {"after": base64.urlsafe_b64encode(b'{"after":"x"}').decode()}),
        (OFFICER, {"after": cursor, "text": "测试"}),  # another search
        (police, {"after": cursor}),  # another caller
        (other_purpose, {"after": cursor}),  # another purpose: other records visible
    ]
    for who, variables in refusals:
        harness.agencies["market"].calls.clear()
        refused = await search(harness, who, first=2, **variables)
        assert refused["data"] == {"enterprises": None}
        [error] = refused["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}
        assert error["message"] == "Invalid argument after: not a cursor of this search."
        assert error["path"] == ["enterprises"]
        assert not harness.agencies["market"].calls, variables
    following = await search(harness, first=2, after=cursor)
    assert usccs(following["data"]["enterprises"]) == [uscc(3), uscc(4)]


async def test_a_cursor_expires(harness: Harness) -> None:
    cursor = (await search(harness, first=2))["data"]["enterprises"]["pageInfo"]["endCursor"]
    cursors = harness.gateway.pipeline.executor.cursors
    issued = cursors.clock()
    cursors.clock = lambda: issued + CURSOR_TTL_S + 1
    refused = await search(harness, first=2, after=cursor)
    [error] = refused["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}
    assert error["message"] == "Invalid argument after: expired; start the search again."


async def test_a_cursor_from_one_replica_is_taken_by_another(tmp_path: Path) -> None:
    async with open_harness(tmp_path) as one, open_harness(tmp_path) as two:  # one key file
        body = await search(one, first=2)
        cursor = body["data"]["enterprises"]["pageInfo"]["endCursor"]
        following = await search(two, first=2, after=cursor)
        assert usccs(following["data"]["enterprises"]) == [uscc(2), uscc(3)]


# -- input refused before any agency is asked ------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"first": 0}, "first"),
        ({"first": -1}, "first"),
        ({"first": MAX_PAGE + 1}, "first"),
        ({"after": "not a cursor"}, "after"),
        ({"after": ""}, "after"),
        ({"after": "A" * 5000}, "after"),
        ({"text": ""}, "nameContains"),
        ({"text": " \t "}, "nameContains"),
        ({"text": "财" * (MAX_SEARCH_TEXT + 1)}, "nameContains"),
    ],
)
async def test_bad_paging_input_is_refused_before_the_agency(
    harness: Harness, variables: dict[str, Any], argument: str
) -> None:
    body = await search(harness, **variables)
    assert body["data"] == {"enterprises": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert error["path"] == ["enterprises"]
    assert "A" * 50 not in error["message"] and "财" * 10 not in error["message"]
    assert not harness.agencies["market"].calls
    assert harness.audit.records[-1].error_codes == ["BAD_USER_INPUT"]


async def test_a_search_text_is_trimmed(harness: Harness) -> None:
    body = await search(harness, text="  财富 ", first=3)
    assert usccs(body["data"]["enterprises"]) == [uscc(i) for i in VISIBLE[:3]]


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_transactions_take_the_same_paging_check(harness: Harness, first: int) -> None:
    query = "query($n: AccountNumber!, $f: Int!) { bankAccount(number: $n) { bank transactions(first: $f) { id } } }"
    response = await harness.query(query, {"n": card(1), "f": first})
    body = response.json()
    assert body["data"]["bankAccount"]["transactions"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}
    assert error["path"] == ["bankAccount", "transactions"]
    assert [c[0] for c in harness.agencies["banking"].calls] == ["account"]  # no transactions


# -- the same against the sandbox's market registry (real cursors, real request counters) -----------


@pytest.fixture
async def sandboxed(tmp_path: Path, urls: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    jwks, _ = prepare(tmp_path)
    settings = Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, data_dir=tmp_path, jwks_file=jwks,
        agencies={n: AgencySettings(url=u, timeout_s=5.0, key=DEFAULT_KEY) for n, u in urls.items()},
        rate_limits=RateLimits(enabled=False),
    )  # fmt: skip
    gateway = build_gateway(settings, audit=MemoryAuditLog())
    app = create_app(gateway)
    headers = {
        "authorization": f"Bearer {mint_token('market.officer', tmp_path)}",
        "x-purpose": "supervision",
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://g", headers=headers
        ) as client,
    ):
        yield client


async def _requests(client: httpx.AsyncClient, url: str) -> int:
    """API requests the agency at ``url`` has answered."""
    count: int = (await client.get(f"{url}/_sandbox/stats")).json()["requests"]
    return count


async def test_against_the_registry_cursors_hide_its_keys_and_bad_input_never_reaches_it(
    sandboxed: httpx.AsyncClient, client: httpx.AsyncClient, urls: dict[str, str], world: World
) -> None:
    market = urls["market"]
    page = await sandboxed.post("/graphql", json={"query": SEARCH, "variables": {"text": "有限"}})
    cursor = page.json()["data"]["enterprises"]["pageInfo"]["endCursor"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert not any(u.encode() in decoded for u in world.enterprises)
    following = await sandboxed.post(
        "/graphql", json={"query": SEARCH, "variables": {"text": "有限", "after": cursor}}
    )
    assert len(following.json()["data"]["enterprises"]["nodes"]) == 3
    agency_cursor = base64.urlsafe_b64encode(
        b'{"after":"%s"}' % sorted(world.enterprises)[5].encode()
    )
    before = await _requests(client, market)
    for variables in (
        {"after": "not-a-cursor"},
        {"after": agency_cursor.decode().rstrip("=")},
        {"first": -1},
        {"text": "  "},
    ):
        body = (
            await sandboxed.post("/graphql", json={"query": SEARCH, "variables": variables})
        ).json()
        assert codes(body) == ["BAD_USER_INPUT"], (variables, body)
    assert await _requests(client, market) == before


# -- the scan itself, over an agency of offset cursors --------------------------------------------


def agency(visible: list[bool], page_limit: int = 200) -> tuple[Any, Any, list[int]]:
    """A fetch over records 0..n-1 (offset cursors, at most ``page_limit`` a call), a record
    filter showing ``visible[i]``, and the limits asked, call by call."""
    records = [
        Record("enterprise", str(i), {}, Labels("market", "H0", 0)) for i in range(len(visible))
    ]
    asked: list[int] = []

    async def fetch(at: str | None, limit: int) -> Page:
        asked.append(limit)
        start = int(at or 0)
        end = min(start + limit, start + page_limit, len(records))
        return Page(records[start:end], str(end) if end < len(records) else None, len(records))

    def shown(rs: Any) -> list[bool]:
        return [visible[int(r.key)] for r in rs]

    return fetch, shown, asked


async def read_all(fetch: Any, shown: Any, first: int) -> list[tuple[list[str], int | None]]:
    out, at = [], START
    while True:
        found = await scan(fetch, shown, first, at, count=False)
        keys = [r.key for r, ok in zip(found.passed, shown(found.passed), strict=True) if ok]
        out.append((keys, found.total))
        if found.next is None:
            return out
        at = found.next


async def test_a_page_starting_inside_an_agency_page_reads_it_again_and_skips() -> None:
    fetch, shown, asked = agency([True] * 7, page_limit=3)
    assert await read_all(fetch, shown, 2) == [
        (["0", "1"], None),
        (["2", "3"], None),
        (["4", "5"], 7),  # its look ahead for a next page reads to the end: the total is known
        (["6"], 7),
    ]
    # the page and one more; then "0".."2" again (the agency's limit is 3), skipping 2
    assert asked[:2] == [3, 2 + 2 + 1]


async def test_past_the_budget_a_page_is_answered_short_and_the_search_goes_on() -> None:
    hidden = SCAN_CALLS * SCAN_LIMIT  # more hidden matches in a row than one page reads
    fetch, shown, asked = agency([True] + [False] * hidden + [True, True])
    pages = await read_all(fetch, shown, 2)
    assert pages == [(["0"], None), ([str(hidden + 1), str(hidden + 2)], 3)]
    assert asked[:SCAN_CALLS] == [3] + [SCAN_LIMIT] * (SCAN_CALLS - 1)  # the first page's


async def test_counting_reads_up_to_the_count_limit_in_the_first_call() -> None:
    fetch, shown, asked = agency([i % 3 != 0 for i in range(COUNT_LIMIT)])
    found = await scan(fetch, shown, 2, START, count=True)
    assert found.total == COUNT_LIMIT - (COUNT_LIMIT + 2) // 3 and asked == [COUNT_LIMIT]
    assert found.next is not None and found.next.total == found.total  # carried to later pages
    fetch, shown, asked = agency([True] * (COUNT_LIMIT + 1))
    found = await scan(fetch, shown, 2, START, count=True)
    assert found.total is None and found.agency_total == COUNT_LIMIT + 1
