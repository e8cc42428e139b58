"""memmock: a stateful mock of the ibl.ai data manager and VirtuousAI Memory APIs (``memmock serve``)."""

__version__ = "0.1.0"
