"""Behaviour for testing clients: Prefer (RFC 7240, as Prism reads it), latency and network faults.

The built-in plugin (``plugin.BehaviourPlugin``) is the outermost wrapper of every operation of
the two APIs: forced answers from the spec (``answers.py``, bodies from ``generate.py``), the
request's preferences (``prefer.py``), delays (``latency.py``), network faults (``network.py``)
and each namespace's behaviour as ``/_mock/behaviour`` sets it (``config.py``). Unlike the
contract faults (``--fault``), which test harnesses, these keep the contract or break the network,
not the API. This module imports nothing, so ``settings.py`` can read ``latency.py`` early.
"""
