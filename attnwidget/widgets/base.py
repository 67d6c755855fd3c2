"""What both widgets share: their JavaScript bundle, checked traits with one error format, click messages
from the views (`on_select`), and the read-outs of their state (`selection`, `state_for_export`,
`state_nbytes`).

A widget's synced traits are declared once, on its class; everything that lists them (`synced_traits`,
the exported state, the test that holds `js/**/model.ts` to them) reads them from there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar

import anywidget
import numpy as np
import traitlets
from ipywidgets import CallbackDispatcher

STATIC = pathlib.Path(__file__).parent.parent / "static"


# ---- the bundle ----------------------------------------------------------------------------------------
def bundle_path(name: str, suffix: str) -> pathlib.Path:
    """`attnwidget/static/<name><suffix>`, or FileNotFoundError saying how to build it."""
    path = STATIC / f"{name}{suffix}"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build the views with `npm run build` (or `make js`)")
    return path


@lru_cache(maxsize=8)
def bundle_text(name: str, suffix: str) -> str:
    """The bundle's text, read once per process: every widget of a class shares the one string."""
    return bundle_path(name, suffix).read_text(encoding="utf-8")


def hot_reload() -> bool:
    """anywidget's hot reload (``ANYWIDGET_HMR=1`` and the `watchfiles` package, a dev extra): the views
    follow `npm run dev` without a kernel restart."""
    if os.environ.get("ANYWIDGET_HMR", "").strip().lower() not in ("1", "true", "yes"):
        return False
    if importlib.util.find_spec("watchfiles") is None:
        warnings.warn("ANYWIDGET_HMR is set but watchfiles is not installed: no hot reload", stacklevel=3)
        return False
    return True


def _follow_file(widget: WidgetBase, trait: str, path: pathlib.Path) -> None:
    """Hot reload: push the file's new text into `trait` whenever it changes, for as long as `widget` lives.

    anywidget does this itself when `_esm` is a path, but its file watcher's signal lives on the class and
    holds every widget forever (manzt/anywidget#929); this callback holds only a weak reference."""
    from anywidget._file_contents import FileContents

    contents = _watched(path)
    if not isinstance(contents, FileContents):  # pragma: no cover - anywidget changed its internals
        return
    ref = weakref.ref(widget)

    def update(text: str) -> None:
        target = ref()
        if target is None:
            contents.changed.disconnect(update)
        else:
            setattr(target, trait, text)

    contents.changed.connect(update)


@lru_cache(maxsize=8)
def _watched(path: pathlib.Path) -> Any:
    from anywidget._file_contents import FileContents

    return FileContents(path, start_thread=True)


# ---- what a widget keeps ---------------------------------------------------------------------------------
Value = TypeVar("Value")


class Recent(Generic[Value]):
    """The last `size` values made, by key: what a widget computed for a selection, kept so that going back to
    it costs nothing. The least recently used one goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, Value] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Value]) -> Value:
        """The value kept for `key`, else ``make()`` (kept, unless it raises)."""
        if key not in self._values:
            self._values[key] = make()
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        self._values.move_to_end(key)
        return self._values[key]

    def peek(self, key: Hashable) -> Value | None:
        return self._values.get(key)

    def put(self, key: Hashable, value: Value) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.size:
            self._values.popitem(last=False)

    def __len__(self) -> int:
        return len(self._values)


# ---- checked traits ----------------------------------------------------------------------------------
def invalid(name: str, allowed: str, value: Any) -> traitlets.TraitError:
    """The one error format of every widget trait: ``<name> must be <allowed>, got <value>``."""
    return traitlets.TraitError(f"{name} must be {allowed}, got {value!r}")


def one_of(choices: Iterable[str]) -> str:
    return "one of " + ", ".join(map(repr, choices))


class BoundedInt(traitlets.Int):  # type: ignore[type-arg]
    """An int whose valid range depends on the widget's data: ``getattr(widget, bounds)()`` gives
    ``(low, high, why)`` (``why`` explains the range, e.g. " (this model has 30 layers)"). Floats, bools and
    numpy floats are refused rather than cast."""

    def __init__(self, default: int, *, bounds: str, help: str) -> None:
        super().__init__(default, help=help)
        self.bounds = bounds

    def validate(self, obj: Any, value: Any) -> Any:
        if not getattr(obj, "_checks_ready", False):
            return super().validate(obj, value)
        low, high, why = getattr(obj, self.bounds)()
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise invalid(str(self.name), f"an int in {low}..{high}{why}", value)
        return int(value)


class Choice(traitlets.Unicode):  # type: ignore[type-arg]
    """One of a set of names, which may depend on the widget's data (``choices`` is then the name of a
    method returning them). ``aliases`` maps former names to today's; ``why`` explains a name that exists but
    is not available here (``why(value)`` returns "" when it has nothing to say)."""

    def __init__(
        self,
        default: str,
        *,
        choices: tuple[str, ...] | str,
        help: str,
        aliases: dict[str, str] | None = None,
        why: Callable[[Any, str], str] | None = None,
    ) -> None:
        super().__init__(default, help=help)
        self.choices = choices
        self.aliases = aliases or {}
        self.why = why

    def allowed(self, obj: Any) -> tuple[str, ...]:
        return tuple(getattr(obj, self.choices)() if isinstance(self.choices, str) else self.choices)

    def validate(self, obj: Any, value: Any) -> Any:
        if not getattr(obj, "_checks_ready", False):
            return super().validate(obj, value)
        if isinstance(value, str):
            value = self.aliases.get(value, value)
        choices = self.allowed(obj)
        if not isinstance(value, str) or value not in choices:
            reason = self.why(obj, value) if self.why is not None and isinstance(value, str) else ""
            raise invalid(str(self.name), one_of(choices) + reason, value)
        return value


class Names(traitlets.List):  # type: ignore[type-arg]
    """A non-empty list of names from a set (each at most once), kept in the set's order whatever the order
    given; one name alone is accepted as the list of it. The set may depend on the widget's data
    (``choices`` is then the name of a method returning it)."""

    def __init__(self, default: tuple[str, ...], *, choices: tuple[str, ...] | str, help: str) -> None:
        super().__init__(list(default), help=help)
        self.choices = choices

    def validate(self, obj: Any, value: Any) -> Any:
        if not getattr(obj, "_checks_ready", False):
            return super().validate(obj, value)
        choices = tuple(getattr(obj, self.choices)() if isinstance(self.choices, str) else self.choices)
        # One name alone is a list of it (as traitlets' List.set makes it when the trait is assigned).
        names = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else None
        if not names or any(not isinstance(name, str) or name not in choices for name in names):
            raise invalid(str(self.name), f"a non-empty list of names, each {one_of(choices)}", value)
        return [name for name in choices if name in names]


class Checked(traitlets.TraitType):  # type: ignore[type-arg]
    """Any other value, checked by ``getattr(widget, check)(value)``, which returns it normalised or raises
    ValueError worded as `invalid` words it."""

    def __init__(self, default: Any, *, check: str, help: str) -> None:
        super().__init__(default, help=help)
        self.check = check

    def validate(self, obj: Any, value: Any) -> Any:
        if not getattr(obj, "_checks_ready", False):
            return value
        try:
            return getattr(obj, self.check)(value)
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None


# ---- the base class ----------------------------------------------------------------------------------
class WidgetBase(anywidget.AnyWidget):
    """A widget with `layer`, `head` and `token` traits whose views send
    ``{"kind": "select", "source": view, "layer": .., "head": .., "token": ..}`` when a person clicks.

    Subclasses name their bundle (`_bundle`), declare their traits, and call ``super().__init__(**state)``
    once their data is in place: the comm's first message then carries the whole state."""

    #: The files `attnwidget/static/<_bundle>.js` and `.css`.
    _bundle: ClassVar[str]
    # Declared as traits (anywidget would otherwise make them from file paths, with the leak described in
    # `_follow_file`); filled with the bundle's text.
    _esm = traitlets.Unicode("").tag(sync=True)
    _css = traitlets.Unicode("").tag(sync=True)

    layer: int
    head: int
    token: int

    def __init__(self, **state: Any) -> None:
        esm, css = bundle_path(self._bundle, ".js"), bundle_path(self._bundle, ".css")
        self._checks_ready = True
        super().__init__(_esm=bundle_text(self._bundle, ".js"), _css=bundle_text(self._bundle, ".css"), **state)
        if hot_reload():
            _follow_file(self, "_esm", esm)
            _follow_file(self, "_css", css)
        self._select_callbacks = CallbackDispatcher()
        self.on_msg(self._handle_select_message)

    @classmethod
    def synced_traits(cls) -> list[str]:
        """This widget's own synced traits (anywidget's and ipywidgets' machinery left out), public first."""
        machinery = set(anywidget.AnyWidget.class_trait_names(sync=True)) | {"_esm", "_css", "_anywidget_id"}
        own = [name for name in cls.class_trait_names(sync=True) if name not in machinery]
        return sorted(own, key=lambda name: (name.startswith("_"), name))

    def apply(self, state: dict[str, Any]) -> None:
        """Set several traits as one update: one message to the views, observers after all are set."""
        with self.hold_sync(), self.hold_trait_notifications():
            for name, value in state.items():
                setattr(self, name, value)

    # ---- read-outs --------------------------------------------------------------------------------------
    @property
    def selection(self) -> dict[str, int]:
        return {"layer": self.layer, "head": self.head, "token": self.token}

    def state_for_export(self) -> dict[str, Any]:
        """The whole state the views need, as ``{trait name: value}``: JSON values, and `bytes` (also nested
        in dicts and lists) for the arrays (a page gives those as base64 ``{"$bytes": "..."}``; `mountStatic`
        in the JS bundle turns them into DataViews). Rendering it needs no kernel."""
        return {name: getattr(self, name) for name in self.synced_traits()}

    def state_nbytes(self) -> int:
        """Bytes of array data plus the JSON size of everything else: roughly what the first message costs."""
        return sum(_nbytes(value) for value in self.state_for_export().values())

    # ---- clicks in the views ------------------------------------------------------------------------------
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
        # Observers run once, after layer and head are both set (one map computed, not two).
        with self.hold_sync(), self.hold_trait_notifications():
            for name in ("layer", "head", "token"):
                if name in content:
                    try:
                        setattr(self, name, content[name])
                    except traitlets.TraitError as error:
                        self.log.warning("ignoring a select message from the views: %s", error)
        self._select_callbacks({"source": str(content.get("source", "")), **self.selection})


def _nbytes(value: Any) -> int:
    """Bytes of `value` once sent: binary buffers as they are, the rest as compact JSON."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, dict):
        return sum(_nbytes(v) + len(json.dumps(k)) + 1 for k, v in value.items()) + 2
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) + 1 for v in value) + 1
    return len(json.dumps(value))
