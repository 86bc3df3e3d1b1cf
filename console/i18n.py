"""The console's messages in Chinese and English.

Each module declares its own messages as ``{key: (中文, English)}`` and registers them with
:func:`messages`; a template says ``t("key")``. The language is the ``lang`` cookie (set by
``?lang=zh|en``), else the browser's ``Accept-Language``, else Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
_CATALOG: dict[str, tuple[str, str]] = {}


def messages(table: Mapping[str, tuple[str, str]]) -> None:
    """Register ``table``; a key registered twice with other words is a bug, raised at import."""
    for key, pair in table.items():
        if key in _CATALOG and _CATALOG[key] != pair:
            raise ValueError(f"console message {key!r} registered twice, differently")
        if len(pair) != 2 or not all(pair):
            raise ValueError(f"console message {key!r} needs both a Chinese and an English text")
        _CATALOG[key] = pair


def catalog() -> Mapping[str, tuple[str, str]]:
    return _CATALOG


def text(key: str, lang: str, **values: object) -> str:
    """The message in ``lang`` with ``{name}`` filled from ``values``; an unknown key raises
    KeyError (tests render every page: a missing message fails them)."""
    zh, en = _CATALOG[key]
    message = en if lang == "en" else zh
    return message.format(**values) if values else message


def choose(cookie: str | None, query: str | None, accept: str) -> str:
    """The language of a request: ``?lang=``, else the cookie, else Accept-Language."""
    for given in (query, cookie):
        if given in LANGUAGES:
            return str(given)
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


messages(
    {
        "app.title": ("JointGate 控制台", "JointGate console"),
        "app.skip": ("跳到正文", "Skip to content"),
        "app.signed_in_as": ("当前用户", "Signed in as"),
        "app.sign_out": ("退出", "Sign out"),
        "app.sign_in": ("登录", "Sign in"),
        "app.language": ("语言", "Language"),
        "app.nav": ("导航", "Navigation"),
        "app.home": ("概览", "Overview"),
        "app.home.intro": (
            "您可以使用的页面：",
            "The pages you may use:",
        ),
        "app.none": ("您的角色没有可用的控制台页面。", "Your roles open no console page."),
        "app.forbidden": ("您的角色不能使用此页面", "Your roles do not open this page"),
        "app.forbidden.needs": ("需要以下角色之一：{roles}", "It needs one of the roles: {roles}"),
        "app.not_found.title": ("没有此页面", "No such page"),
        "app.not_found": ("控制台中没有这个地址。", "The console has no such address."),
        "app.not_allowed.title": ("不接受此请求", "Not this way"),
        "app.not_allowed": (
            "此地址不接受这种请求（例如用浏览器打开了只接受表单提交的地址）。",
            "This address does not take that kind of request (a form's address opened as a"
            " page, for instance).",
        ),
        "app.bad_request": ("请求无效", "The request is not valid"),
        "app.csrf": (
            "此操作缺少有效的表单令牌（CSRF），未执行任何更改。请重新加载页面后再试。",
            "This change carried no valid form token (CSRF); nothing was changed. Reload the"
            " page and try again.",
        ),
        "app.signed_out": ("您已退出。", "You are signed out."),
        "app.sign_in.intro": (
            "请通过身份提供方登录。",
            "Sign in through the identity provider.",
        ),
        "app.sign_in.unavailable": (
            "登录不可用：未配置身份提供方（[console] oidc_discovery_url）。",
            "Sign-in is unavailable: no identity provider is configured"
            " ([console] oidc_discovery_url).",
        ),
        "app.sign_in.failed": ("登录失败：{reason}", "Sign-in failed: {reason}"),
        "app.session_expired": ("会话已过期，请重新登录。", "Your session ended; sign in again."),
        "app.recorded": (
            "您在控制台中的每个操作都会记录在审计链中。",
            "Everything you do in the console is recorded in the audit trail.",
        ),
        "app.unavailable": ("暂时无法完成：{reason}", "Could not be done now: {reason}"),
    }
)
