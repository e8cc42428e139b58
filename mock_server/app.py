"""``create_app(settings)``: both APIs and the admin plane on one connexion AsyncApp."""

from __future__ import annotations

import copy
import functools
import json
import logging
import secrets
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from connexion import AsyncApp
from connexion.exceptions import InvalidSpecification
from connexion.options import SwaggerUIOptions

from . import error_handlers
from .auth import SECURITY_FUNCTIONS, SECURITY_MAP
from .dispatch import DirectApp
from .settings import SPEC_DIR, Settings, StartupError
from .stack import middleware_stack
from .state import MockState
from .store import YAML_LOADER, Store, yaml_problem
from .validation import VALIDATOR_MAP


@dataclass(frozen=True)
class ApiDoc:
    """One API the mock serves, and where its docs live."""

    name: str
    title: str
    spec_file: str
    base_path: str  # the spec's server URL
    ui_path: str  # Swagger UI, relative to base_path

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
    ApiDoc("ibl", "ibl.ai data manager", "ibl-data-manager.yaml", "", "/docs/ibl"),
    ApiDoc("virtuousai", "VirtuousAI Memory API", "virtuousai-memory.yaml", "/api/v1", "/docs"),
    ApiDoc("admin", "memmock admin plane", "admin.yaml", "/_mock", "/docs"),
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
def _load_spec(path: Traversable) -> dict[str, Any]:
    spec = read_spec(path)
    # Wire each security scheme to its function here, so the spec files stay pure contract.
    for name, scheme in spec.get("components", {}).get("securitySchemes", {}).items():
        key, function = SECURITY_FUNCTIONS[name]
        scheme[key] = function
    return spec


def load_spec(name: str) -> dict[str, Any]:
    """A fresh copy of one of the mock's specs (``ibl``, ``virtuousai`` or ``admin``)."""
    api = next(a for a in APIS if a.name == name)
    # Cached per file: the Traversable files() hands out for a package on disk is a (hashable) pathlib path.
    return copy.deepcopy(_load_spec(SPEC_DIR / api.spec_file))  # type: ignore[arg-type]


def create_app(settings: Settings | None = None, store: Store | None = None) -> AsyncApp:
    """Build the mock: both APIs, the admin plane, state loaded from the fixtures.

    ``settings`` defaults to ``Settings.from_env()``; ``store`` lets a test inject one (for
    example with a fixed clock) instead of loading ``settings.fixtures``.
    """
    settings = settings or Settings.from_env()
    if store is None:
        seed = settings.seed if settings.seed is not None else secrets.randbits(63)
        store = (Store.from_file(settings.fixtures, seed=seed, keep_seed=True, max_items=settings.max_items)
                 if settings.fixtures else Store(seed=seed, keep_seed=True, max_items=settings.max_items))
    state = MockState(store=store, settings=settings)
    app = AsyncApp(
        __name__,
        validator_map=VALIDATOR_MAP,
        security_map=SECURITY_MAP,
        validate_responses=settings.strict,
        strict_validation=False,
        middlewares=middleware_stack(settings, state, tuple(api.docs_path for api in APIS)),
    )
    # Swap in the lean inner app before any API is added (connexion builds its stack lazily).
    app._middleware_app = app.middleware.app = DirectApp()
    for api in APIS:
        try:
            app.add_api(
                load_spec(api.name),
                name=api.name,
                swagger_ui_options=SwaggerUIOptions(
                    spec_path=f"{api.ui_path}/openapi.json", swagger_ui_path=api.ui_path
                ),
            )
        except InvalidSpecification as exc:
            raise StartupError(f"spec {SPEC_DIR / api.spec_file}: not a valid OpenAPI document: "
                               f"{' '.join(exc.message.split())}") from None
    error_handlers.install(app)
    app.state = state  # type: ignore[attr-defined]
    return app
