"""/_mock/behaviour: a namespace's latency and network faults (``behaviour/config.py``)."""

from __future__ import annotations

from starlette.responses import Response

from ..behaviour.config import KEY, Behaviour
from ._call import current, json, no_content


def _behaviour() -> Behaviour:
    """The behaviour of the namespace the admin request names (X-Memmock-Namespace; else the default one)."""
    behaviour: Behaviour = current().state.extensions[KEY]
    return behaviour


async def get_behaviour() -> Response:
    """The namespace's behaviour, the seed its draws use, and ``--latency``."""
    return json(_behaviour().view())


async def put_behaviour() -> Response:
    """Replace the namespace's behaviour (400, nothing changed, for a document that is not one)."""
    behaviour = _behaviour()
    behaviour.replace(current().body)
    return json(behaviour.view())


async def delete_behaviour() -> Response:
    """Clear the namespace's behaviour (``--latency`` still applies)."""
    _behaviour().clear()
    return no_content()
