"""Accessibility checks in real Chromium: axe-core's rules and a visible keyboard focus.

axe-core comes from the npm registry (scripts/setup.sh --dev puts it in .node/). It is run
with ``page.evaluate``: Playwright's ``add_script_tag`` inserts an inline script, which the
pages' CSP (script-src 'self') rightly refuses, while code evaluated through the DevTools
protocol is not subject to the page's CSP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AXE_JS = Path(__file__).resolve().parents[2] / ".node" / "node_modules" / "axe-core" / "axe.min.js"

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.help} at ` +
      v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(', '));
}"""

# The focused element's outline against what lies behind it, as WCAG computes contrast.
_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {ok: false, why: 'nothing focused'};
  const style = getComputedStyle(el);
  const width = parseFloat(style.outlineWidth) || 0;
  if (style.outlineStyle === 'none' || width < 2) {
    return {ok: false, why: `${el.tagName} outline ${style.outlineStyle} ${style.outlineWidth}`};
  }
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  let node = el.parentElement, bg = [255, 255, 255];
  while (node) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { bg = c.slice(0, 3); break; }
    node = node.parentElement;
  }
  const lum = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const a = lum(rgb(style.outlineColor)), b = lum(bg);
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  return {ok: ratio >= 3, why: `${el.tagName}#${el.id} outline contrast ${ratio.toFixed(2)}`};
}"""


def axe_violations(page: Any) -> list[str]:
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is missing at {AXE_JS}: run scripts/setup.sh --dev")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text())
    found: list[str] = page.evaluate(_RUN)
    return found


def assert_accessible(page: Any, where: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    bad = axe_violations(page)
    assert not bad, f"axe-core on {where}:\n" + "\n".join(bad)


def assert_focus_visible(page: Any, where: str, presses: int = 6) -> None:
    """Tabbing from the top focuses controls whose outline stands out at 3:1 or more."""
    page.locator("body").focus()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for n in range(presses):
        page.keyboard.press("Tab")
        seen = page.evaluate(_FOCUS)
        assert seen["ok"], f"{where}, Tab {n + 1}: {seen['why']}"
