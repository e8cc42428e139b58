"""``FaultPlugin``: one fault of the registry, attached through the plan's public hooks."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..plan import Authenticate, OperationPlan, Plugin
from ..state import STATE_KEY, MockState
from .exchange import PRINCIPAL_KEY, SWAP_KEY, Exchange
from .registry import FAULTS, unknown_fault_message

MEMO_KEY = "fault"  # each state's memory of the fault (MockState.extensions)


class FaultPlugin(Plugin):
    """Applies one fault from ``FAULTS`` to the operations it targets; others run untouched."""

    def __init__(self, fault_name: str) -> None:
        if fault_name not in FAULTS:
            raise ValueError(unknown_fault_message(fault_name))
        self.fault = FAULTS[fault_name]

    def attach(self, state: MockState) -> None:
        """Break a new state as the fault breaks every state (its setup), with a memory of its own."""
        memo = state.extensions[MEMO_KEY] = {}
        if self.fault.setup is not None:
            self.fault.setup(state, memo)

    def _targets(self, plan: OperationPlan) -> bool:
        return self.fault.targets(plan.operation_id.rpartition(".")[2])

    def around(self, plan: OperationPlan, app: ASGIApp) -> ASGIApp:
        """The fault's action in front of a targeted operation's run."""
        if not self._targets(plan):
            return app
        action = self.fault.action
        assert action is not None

        async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
            state = scope["extensions"][STATE_KEY]
            reply = await action(Exchange(app, scope, receive, send, state, plan, state.extensions[MEMO_KEY]))
            if reply is not None:
                await reply.send(send)

        return faulty

    def authenticate(self, plan: OperationPlan, authenticate: Authenticate) -> Authenticate:
        """A targeted operation's authentication, with the principal the fault's action asked for."""
        if not self._targets(plan):
            return authenticate

        def faulty(scope: Scope) -> Any:
            principal = authenticate(scope)
            extensions = scope.setdefault("extensions", {})
            swap = extensions.get(SWAP_KEY)
            if swap is not None:
                principal = swap(principal)
            extensions[PRINCIPAL_KEY] = principal
            return principal

        return faulty
