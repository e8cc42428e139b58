"""Deliberate contract breaches: ``memmock serve --fault NAME`` makes the mock misbehave on purpose.

Each fault is a bug a real backend could ship (a wrong status, a missing field, a lost write, a
leak across users...). They exist to prove that a conformance harness catches what it claims to
catch: run the harness against the mock with each fault and every run must fail.

One plugin (``FaultPlugin``, see ``plan.Plugin``) applies the chosen fault. It wraps the whole run
of the operations its fault targets (so it sees the request before security, and the reply after
strict response validation: a mutated reply is not stopped by ``--strict``) and their
authentication (so it can change the principal); the healthy mock does not load it at all: the
app finds it by entry point (``memmock.plugins``: ``fault``), and no core module imports this
package. Faults are deterministic: no randomness, no timing.

How a fault acts, from the most to the least common:

- rewrite the response of the targeted operations (status, body, headers), buffering only those;
- rewrite the request before security (a credential, a body, a query parameter);
- answer itself without calling the handler (``delete-noop``);
- change which principal security hands to the handler (``user-leak``, ``org-leak``), through
  the plugin's authentication hook;
- use a policy the domain offers (``AnalyticsBackend.average``, set on each state as the plugin
  attaches to it) or read/write the store through the backends' public methods.

The modules: ``exchange`` (what an action works on, and its helpers), ``plugin``, ``registry``
(every ``Fault`` and the operations it targets), and the actions by family of the conventions:
``status`` (status and schema), ``writes`` (reads and writes), ``pages`` (counts, pages and
ordering), ``access`` (isolation and auth), ``analytics``, ``inputs`` (bounds, counters and 5xx
on valid input). Only the names below are for use outside the package.
"""

from .exchange import Exchange, Reply
from .plugin import FaultPlugin
from .registry import CREATE_OPERATIONS, FAULTS, Fault, fault_names, unknown_fault_message

__all__ = ["CREATE_OPERATIONS", "FAULTS", "Exchange", "Fault", "FaultPlugin", "Reply", "fault_names",
           "unknown_fault_message"]
