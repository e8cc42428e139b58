"""``create_app(settings)``: both APIs and the admin plane on one connexion AsyncApp.

connexion loads and resolves the specs, serves Swagger UI, and renders what fails outside an
operation; every request is routed and served from its operation's compiled plan by the request
path, the first middleware of the stack handed to connexion (see ARCHITECTURE.md).
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any

import yaml
from connexion import AsyncApp
from connexion.exceptions import InvalidSpecification
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver

from . import error_handlers
from .auth import PRINCIPAL_FUNCTIONS
from .behaviour.plugin import BehaviourPlugin
from .cors import LeanCORSMiddleware
from .errors import Style, not_found
from .namespaces import Namespaces
from .plan import ApiSpec, Plugin, compile_plans
from .request_path import RequestPath, Unrouted
from .settings import SPEC_DIR, Settings, StartupError
from .state import MockState
from .store import YAML_LOADER, Store, yaml_problem

if TYPE_CHECKING:
    from .persistence import Persistence


@dataclass(frozen=True)
class ApiDoc:
    """One API the mock serves, and where its docs live."""

    name: str
    title: str
    spec_file: str
    base_path: str  # the spec's server URL
    ui_path: str  # Swagger UI, relative to base_path
    style: Style  # the house style of its errors

    @property
    def docs_path(self) -> str:
        """Where Swagger UI is."""
        return f"{self.base_path}{self.ui_path}"

    @property
    def spec_path(self) -> str:
        """Where the served spec is, as JSON."""
        return f"{self.docs_path}/openapi.json"


# connexion warns "this operation accepts multiple content types" whenever it looks up a body
# schema of an operation that takes JSON and forms (every ibl write): once per distinct
# Content-Type value, so a client varying it would fill the log.
logging.getLogger("connexion.operations.openapi3").setLevel(logging.ERROR)

APIS = (
    ApiDoc("ibl", "ibl.ai data manager", "ibl-data-manager.yaml", "", "/docs/ibl", Style.DRF),
    ApiDoc("virtuousai", "VirtuousAI Memory API", "virtuousai-memory.yaml", "/api/v1", "/docs", Style.FASTAPI),
    ApiDoc("admin", "memmock admin plane", "admin.yaml", "/_mock", "/docs", Style.DRF),
)


def read_spec(path: Traversable) -> dict[str, Any]:
    """A spec file as plain dicts and lists, with no object shared between two places; StartupError if unreadable."""
    try:
        with path.open(encoding="utf-8") as fh:
            document = yaml.load(fh, Loader=YAML_LOADER)
    except OSError as exc:
        raise StartupError(f"spec {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise StartupError(f"spec {path}: {yaml_problem(exc)}") from None
    except UnicodeDecodeError as exc:
        raise StartupError(f"spec {path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    if not isinstance(document, dict):
        raise StartupError(f"spec {path}: not an OpenAPI document (expected a mapping, got {type(document).__name__})")
    # A JSON round trip unshares YAML aliases: connexion extends parameter lists in place.
    spec: dict[str, Any] = json.loads(json.dumps(document))
    return spec


@functools.lru_cache(maxsize=None)
def _load_spec(path: Traversable) -> str:
    return json.dumps(read_spec(path))


def spec_text(name: str) -> str:
    """One of the mock's specs (``ibl``, ``virtuousai`` or ``admin``) as JSON text, read once per file."""
    api = next(a for a in APIS if a.name == name)
    # The Traversable files() hands out for a package on disk is a (hashable) pathlib path.
    return _load_spec(SPEC_DIR / api.spec_file)  # type: ignore[arg-type]


def load_spec(name: str) -> dict[str, Any]:
    """A fresh copy of one of the mock's specs (loading a copy from its text is quicker than copying a tree)."""
    document: dict[str, Any] = json.loads(spec_text(name))
    return document


def _served_by_the_plans(*args: Any, **kwargs: Any) -> Any:
    """What connexion resolves every operation to: it never calls one, the request path serves them all."""
    raise not_found(Style.DRF)


# connexion resolves each operation to that function, so it imports no handler for nothing.
UNROUTED = Resolver(function_resolver=lambda operation_id: _served_by_the_plans)


# Every header to a page without credentials; to one with them (a credentialed request takes
# "*" as a header's name), the ones the APIs and the behaviour plugin answer with.
CORS_EXPOSED = ("*", "Allow", "Preference-Applied", "Retry-After", "WWW-Authenticate")


def middlewares(settings: Settings, namespaces: Namespaces, plans: Sequence[Any]) -> list[Any]:
    """The middleware stack handed to connexion, outermost first."""
    stack: list[Any] = [ServerErrorMiddleware]
    if settings.cors:
        stack.append(functools.partial(LeanCORSMiddleware, allow_origins=["*"], allow_methods=["*"],
                                       allow_headers=["*"], allow_credentials=True, expose_headers=CORS_EXPOSED))
    return [*stack, ExceptionMiddleware, functools.partial(RequestPath, plans=plans, namespaces=namespaces),
            SwaggerUIMiddleware, Unrouted, LifespanMiddleware]


def create_app(settings: Settings | None = None, store: Store | None = None, plugins: Sequence[Plugin] = ()) -> AsyncApp:
    """Build the mock: both APIs, the admin plane, state loaded from the fixtures.

    ``settings`` defaults to ``Settings.from_env()``; ``store`` lets a test inject one (for
    example with a fixed clock) instead of loading ``settings.fixtures``; ``plugins`` hook into
    every operation's plan (``plan.Plugin``), after the fault the settings name, if any, and
    before the built-in behaviour plugin (Prefer, latency, network faults), which is outermost.
    """
    settings = settings or Settings.from_env()
    persistence = _persistence(settings)
    if store is None:
        seed = settings.seed if settings.seed is not None else secrets.randbits(63)
        clock = None if persistence is None else persistence.clock
        fixtures = None if persistence is not None and persistence.restoring else settings.fixtures
        store = (Store.from_file(fixtures, clock=clock, seed=seed, keep_seed=True, max_items=settings.max_items)
                 if fixtures else Store(clock=clock, seed=seed, keep_seed=True, max_items=settings.max_items))
    if persistence is not None:
        persistence.bind(store)
    state = MockState(store=store, settings=settings)
    # Persistence innermost: it sees the handler's real outcome.
    plugins = [*([] if persistence is None else [persistence]),
               *_fault_plugins(settings), *plugins, BehaviourPlugin(settings)]
    documents: dict[str, dict[str, Any]] = {}
    plans = []
    for api in APIS:
        documents[api.name] = load_spec(api.name)
        try:
            plans += compile_plans([ApiSpec(api.name, spec_text(api.name), api.base_path, api.style)],
                                   PRINCIPAL_FUNCTIONS, strict=settings.strict, plugins=plugins)
        except InvalidSpecification as exc:
            raise StartupError(f"spec {SPEC_DIR / api.spec_file}: not a valid OpenAPI document: "
                               f"{' '.join(exc.message.split())}") from None
    def attach(new: MockState) -> None:
        for plugin in plugins:
            plugin.attach(new)

    def detach(gone: MockState) -> None:
        for plugin in plugins:
            plugin.detach(gone)

    namespaces = Namespaces(state, on_new=attach, on_gone=detach,
                            on_drop=persistence.dropped if persistence else lambda name: None)
    if persistence is not None:
        persistence.start(namespaces)
    app = AsyncApp(__name__, middlewares=middlewares(settings, namespaces, plans),
                   lifespan=None if persistence is None else persistence.lifespan)
    for api in APIS:
        app.add_api(documents[api.name], name=api.name, resolver=UNROUTED,
                    swagger_ui_options=SwaggerUIOptions(spec_path=f"{api.ui_path}/openapi.json",
                                                        swagger_ui_path=api.ui_path))
    error_handlers.install(app)
    app.state = state  # type: ignore[attr-defined]
    app.plans = tuple(plans)  # type: ignore[attr-defined]
    app.namespaces = namespaces  # type: ignore[attr-defined]
    app.persistence = persistence  # type: ignore[attr-defined]
    return app


def _persistence(settings: Settings) -> Persistence | None:
    """The built-in persistence plugin, when --state-file or --watch asks for it (only then imported)."""
    if settings.state_file is None and not settings.watch:
        return None
    from .persistence import Persistence

    return Persistence(settings)


# Plugins are found by entry point (pyproject.toml), so the core names none of them.
PLUGIN_GROUP = "memmock.plugins"


def _fault_plugins(settings: Settings) -> list[Plugin]:
    """The plugin of the fault the settings name (``--fault``); none (nothing loaded) for a healthy mock."""
    if settings.fault is None:
        return []
    found = entry_points(group=PLUGIN_GROUP, name="fault")
    if not found:
        raise StartupError(f"--fault needs the 'fault' plugin of entry point group {PLUGIN_GROUP!r}, which is not "
                           "installed: reinstall memmock (pip install memmock)")
    factory: Callable[[str], Plugin] = next(iter(found)).load()
    return [factory(settings.fault)]
