"""The harness itself, proved on a tiny inline anywidget (no attnwidget code involved).

If these fail, the browser layer is broken, not the widget.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any

import pytest

pytestmark = pytest.mark.browser

INLINE_WIDGET = textwrap.dedent(
    '''
    import anywidget
    import traitlets

    class Clicker(anywidget.AnyWidget):
        _esm = """
        function render({ model, el }) {
          const canvas = document.createElement('canvas');
          canvas.width = 64; canvas.height = 32;
          canvas.dataset.testid = 'demo-canvas';
          const draw = () => {
            const ctx = canvas.getContext('2d');
            ctx.fillStyle = '#c33'; ctx.fillRect(0, 0, 32, 32);
            ctx.fillStyle = model.get('clicks') % 2 ? '#3c3' : '#33c'; ctx.fillRect(32, 0, 32, 32);
          };
          const button = document.createElement('button');
          button.dataset.testid = 'demo-button';
          const label = () => { button.textContent = 'clicks: ' + model.get('clicks'); };
          button.addEventListener('click', () => {
            model.set('clicks', model.get('clicks') + 1);
            model.save_changes();
          });
          const changed = () => { draw(); label(); };
          model.on('change:clicks', changed);
          changed();
          el.append(canvas, button);
          return () => model.off('change:clicks', changed);
        }
        export default { render };
        """
        clicks = traitlets.Int(0).tag(sync=True)

    w = Clicker()
    w
    '''
)


def _check_inline_widget(nb: Any) -> None:
    nb.run_all()
    output = nb.output(0)
    canvas = nb.wait_for("[data-testid=demo-canvas]", scope=output)
    button = nb.wait_for("[data-testid=demo-button]", scope=output)

    [stats] = nb.canvas_stats(canvas)
    assert stats["distinct"] >= 2, f"canvas is blank: {stats}"
    before = stats["hash"]

    button.click()
    button.click()
    nb.kernel.wait_value("w.clicks", 2)

    # Python -> page: the view follows a trait set in the kernel.
    nb.kernel.run("w.clicks = 7")
    nb.page.wait_for_function("(el) => el.textContent === 'clicks: 7'", arg=button.element_handle(), timeout=10_000)
    after = nb.canvas_stats(canvas)[0]["hash"]
    assert after != before, "canvas did not redraw after the trait changed"
    nb.screenshot("inline-widget")
    assert not nb.widget_errors(), nb.widget_errors()
    assert not nb.external_requests(), nb.external_requests()


def test_inline_widget_in_lab(lab_notebook: Any) -> None:
    nb = lab_notebook("harness_inline.ipynb", [INLINE_WIDGET])
    _check_inline_widget(nb)
    # The kernel runs this venv's interpreter, offline.
    assert nb.kernel.value("__import__('sys').prefix") == sys.prefix
    assert nb.kernel.value("__import__('os').environ['HF_HUB_OFFLINE']") == "1"


def test_inline_widget_in_notebook7(classic_notebook: Any) -> None:
    nb = classic_notebook("harness_inline_nb7.ipynb", [INLINE_WIDGET])
    _check_inline_widget(nb)
