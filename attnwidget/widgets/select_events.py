"""Clicks in the views reach Python: the `select` message and `on_select` callbacks, shared by the widgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import traitlets
from ipywidgets import CallbackDispatcher


class SelectEvents:
    """Mixin for a widget with `layer`, `head` and `token` traits whose views send
    ``{"kind": "select", "source": view, "layer": .., "head": .., "token": ..}`` on a click."""

    layer: int
    head: int
    token: int
    log: Any

    def _listen_for_selects(self) -> None:
        self._select_callbacks = CallbackDispatcher()
        self.on_msg(self._handle_select_message)  # type: ignore[attr-defined]

    def on_select(self, callback: Callable[[dict[str, Any]], Any], remove: bool = False) -> None:
        """Call ``callback(selection)`` when a person clicks a head, token or layer in the views.

        `selection` is ``{"source": view name, "layer": int, "head": int, "token": int}``; the traits
        already hold the new values when it is called. ``remove=True`` unregisters the callback.
        """
        self._select_callbacks.register_callback(callback, remove=remove)

    def _handle_select_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("kind") != "select":
            return
        # The message carries the selection itself: the front end may hold back its state update (ipywidgets
        # throttles them) so that the message arrives first. Applying it here makes the order irrelevant.
        # hold_trait_notifications: observers run once, after layer and head are both set (one map
        # computed, not one for the old head and one for the new).
        with self.hold_sync(), self.hold_trait_notifications():  # type: ignore[attr-defined]
            for name in ("layer", "head", "token"):
                if name in content:
                    try:
                        setattr(self, name, content[name])
                    except traitlets.TraitError as error:
                        self.log.warning("ignoring a select message from the views: %s", error)
        self._select_callbacks(
            {"source": str(content.get("source", "")), "layer": self.layer, "head": self.head, "token": self.token}
        )
