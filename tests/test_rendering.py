"""Untrusted Markdown becomes HTML that shows text and can do nothing else."""

from __future__ import annotations

import re

import pytest

from app.rendering import render_markdown, render_messages

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](JaVaScRiPt:alert(1))",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "![x](https://tracker.example/pixel.png)",
    '![x" onerror="alert(1)](https://x/y.png)',
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    '<div style="position:fixed;inset:0">cover</div>',
    "<style>body{display:none}</style>",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<form action=https://evil.example><input name=p></form>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "<details open ontoggle=alert(1)>",
    "<!-- <script>alert(1)</script> -->",
]

TAG = re.compile(r"<\s*([a-zA-Z0-9]+)([^>]*)>")
ALLOWED = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}


@pytest.mark.parametrize("text", ATTACKS)
def test_attack_yields_only_inert_tags(text: str) -> None:
    html = str(render_markdown(text))
    for name, attributes in TAG.findall(html):
        assert name.lower() in ALLOWED, html
        assert "on" not in re.findall(r"\b(on)\w*=", attributes), html
        assert "href" not in attributes and "src" not in attributes, html
        assert "style" not in attributes, html
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<a " not in lowered
    assert "<iframe" not in lowered and "<svg" not in lowered and "<form" not in lowered


def test_raw_html_is_shown_as_text() -> None:
    html = str(render_markdown("<script>alert(1)</script>"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markdown_structure_survives() -> None:
    html = str(render_markdown("Intro **bold** *it*\n\n- one\n- two\n\n```python\nx = 1 < 2\n```"))
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert "<ul>" in html and "<li>one</li>" in html
    assert "<pre><code>x = 1 &lt; 2\n</code></pre>" in html


def test_link_keeps_text_and_shows_target_without_href() -> None:
    html = str(render_markdown("[docs](https://example.com/a?b=1&c=2)"))
    assert "docs" in html
    assert "(https://example.com/a?b=1&amp;c=2)" in html
    assert "href" not in html


def test_image_is_never_fetched() -> None:
    html = str(render_markdown("![a cat](https://example.com/cat.png)"))
    assert "<img" not in html
    assert "[image: a cat (https://example.com/cat.png)]" in html


def test_ordered_list_start_is_kept() -> None:
    assert '<ol start="3">' in str(render_markdown("3. c\n4. d"))


def test_messages_keep_roles_and_render_each_turn() -> None:
    turns = render_messages(
        [
            {"role": "system", "content": "Be *brief*."},
            {"role": "user", "content": "<b>hi</b>"},
            {"role": "assistant", "content": "Hello"},
            {"role": "other", "content": "x"},
        ]
    )
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert "<em>brief</em>" in str(turns[0]["html"])
    assert "&lt;b&gt;hi&lt;/b&gt;" in str(turns[1]["html"])
