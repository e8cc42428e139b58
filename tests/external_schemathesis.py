"""The newest schemathesis, from outside, with every check and phase, against a served mock.

``make schemathesis-newest`` installs the newest release into a venv of its own (not the
project's) and runs this: ``python -m tests.external_schemathesis PATH/TO/schemathesis``. It
serves the mock with the default fixtures on a free loopback port, runs schemathesis on each
served spec (``/docs/ibl/openapi.json`` with org ``main`` and user ``admin`` pinned and the admin
token, ``/api/v1/docs/openapi.json`` with the dev organization's token), prints each run's
summary, and exits 1 if any response was a 5xx (schemathesis's ST101/ST102). The other failure
classes it reports are listed, with the reason each is not a fault, in the README.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.api.conftest import ADMIN, VAI_DEV
from tests.served import serve

RUNS = (
    ("ibl", "/docs/ibl/openapi.json", "", f'headers = {{ Authorization = "Api-Token {ADMIN}" }}\n\n'
     '[parameters]\n"path.org" = "main"\n"path.user_id" = "admin"\n'),
    ("virtuousai", "/api/v1/docs/openapi.json", "/api/v1", f'headers = {{ Authorization = "Bearer {VAI_DEV}" }}\n'),
)
SERVER_ERRORS = ("ST101", "ST102")


def main(argv: list[str] | None = None) -> int:
    """Run both specs; 1 when a run saw a 5xx, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schemathesis", help="the schemathesis executable of the separate venv")
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20240701)
    args = parser.parse_args(argv)
    version = subprocess.run([args.schemathesis, "--version"], capture_output=True, text=True).stdout.strip()
    print(version, flush=True)
    server_errors = 0
    with serve() as mock, tempfile.TemporaryDirectory() as work:
        for name, spec, base, config in RUNS:
            config_file = Path(work, f"{name}.toml")
            config_file.write_text(config)
            run = subprocess.run(
                [args.schemathesis, "--config-file", str(config_file), "run", mock.url + spec, "--url", mock.url + base,
                 "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--no-color",
                 "--max-examples", str(args.max_examples), "--seed", str(args.seed)],
                capture_output=True, text=True)
            output = run.stdout + run.stderr
            print(f"--- {name}: {mock.url + spec}")
            print(output[output.find("=== SUMMARY"):] if "=== SUMMARY" in output else output[-3000:], flush=True)
            server_errors += sum(output.count(code) for code in SERVER_ERRORS)
    print(f"5xx failures reported: {server_errors}")
    return 1 if server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
