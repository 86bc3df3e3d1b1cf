"""The server-side Cedar highlighter: tokens coloured, everything escaped, lines numbered."""

from __future__ import annotations

from console.cedar import highlight, highlight_line, listing


def test_a_comment_with_markup_is_escaped() -> None:
    html = str(highlight_line("// <script>alert('x')</script> & more"))
    assert "<script>" not in html
    assert html.startswith('<span class="com">// &lt;script&gt;')
    assert "&amp; more" in html


def test_tokens_get_their_classes() -> None:
    html = str(
        highlight_line(
            'permit (principal, action == JointGate::Action::"read", resource) when'
            ' { resource.sensitivity <= 2 && context.purpose like "inv*" };'
        )
    )
    assert '<span class="kw">permit</span>' in html
    assert '<span class="kw">when</span>' in html and '<span class="kw">like</span>' in html
    assert '<span class="ent">JointGate::Action::&#34;read&#34;</span>' in html
    assert '<span class="num">2</span>' in html
    assert '<span class="str">&#34;inv*&#34;</span>' in html
    assert "&lt;=" in html and "&amp;&amp;" in html


def test_a_string_with_markup_is_escaped_and_not_a_keyword() -> None:
    html = str(highlight_line('when { principal.name == "<b>permit</b>" };'))
    assert '<span class="str">&#34;&lt;b&gt;permit&lt;/b&gt;&#34;</span>' in html


def test_lines_are_numbered_and_bad_ones_marked() -> None:
    lines = highlight("permit (\n  principal,\n", bad={2})
    assert [(line.number, line.bad) for line in lines] == [(1, False), (2, True), (3, False)]
    html = str(listing("a\nb", bad={2}))
    assert '<span class="line bad" id="L2"><span class="ln" aria-hidden="true">2</span>b' in html
    assert html.startswith('<pre class="cedar">')
