"""The README's install and plugin sections show what the repo runs: the smoke suite and the dev credentials."""

from __future__ import annotations

from tests.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_plugin_example_is_the_wheel_smoke_suite() -> None:
    suite = (ROOT / ".ci" / "wheel-smoke-suite" / "test_my_client.py").read_text(encoding="utf-8")
    assert f"```python\n{suite}```" in README


def test_the_dotenv_example_is_the_dev_credentials_file() -> None:
    lines = (ROOT / "fixtures" / "dev-credentials.env").read_text(encoding="utf-8").splitlines()
    variables = "\n".join(line for line in lines if line and not line.startswith("#"))
    assert f"cat > dev.env <<'EOF'\n{variables}\nEOF\n" in README
