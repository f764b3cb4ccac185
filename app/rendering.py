"""Markdown from models and admins turned into HTML that can show text and nothing else.

Model text is untrusted. Two layers keep it inert: markdown-it runs with raw HTML off (so
`<script>` arrives as escaped text), and nh3 then removes every tag and attribute outside a
small allow-list, whatever the Markdown stage produced.

Links are rendered inert on purpose: an annotator judges the text, and a link in model
output is more likely a hallucinated or phishing target than a reference to follow. The
link text stays, followed by its target as plain text, so the annotator can still judge
whether the link is plausible. Images are never fetched (a remote image is a tracking
beacon and can carry content nobody reviewed); their alt text is shown instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

ALLOWED_TAGS = {
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
# No href, src or style anywhere; `class` only with the values this module writes itself.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"ol": {"start"}}
ALLOWED_CLASSES = {"span": {"md-link", "md-link-target", "md-image"}}


def _link_open(
    _self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
) -> str:
    return '<span class="md-link">'


def _link_close(
    _self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
) -> str:
    # The matching opener carries the target; it is shown as text, never as an attribute.
    for j in range(idx - 1, -1, -1):
        if tokens[j].type == "link_open":
            href = str(tokens[j].attrGet("href") or "")
            return f'</span> <span class="md-link-target">({escape(href)})</span>'
    return "</span>"


def _image(
    _self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
) -> str:
    token = tokens[idx]
    alt = "".join(child.content for child in token.children or [])
    src = str(token.attrGet("src") or "")
    return f'<span class="md-image">[image: {escape(alt)} ({escape(src)})]</span>'


def _make_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("image", _image)
    return md


_parser = _make_parser()


def sanitise_html(html: str) -> str:
    """Only the allow-listed tags survive; the content of script and style goes with them."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
    )


def render_markdown(text: str) -> Markup:
    """Safe HTML for untrusted Markdown, ready to insert into a template."""
    return Markup(sanitise_html(_parser.render(text)))


def render_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A prompt's turns with their Markdown rendered; unknown roles are shown as `user`."""
    turns = []
    for message in messages:
        role = str(message.get("role", "user"))
        if role not in ("system", "user", "assistant"):
            role = "user"
        turns.append({"role": role, "html": render_markdown(str(message.get("content", "")))})
    return turns
