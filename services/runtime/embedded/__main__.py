"""`python -m impactline.runtime.embedded install`: fetch the embedded servers ahead of time."""

from __future__ import annotations

import argparse
import sys
import time

from impactline.runtime.embedded import EmbeddedServerError, install
from impactline.runtime.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m impactline.runtime.embedded",
        description="Manage the embedded Kafka broker and PostgreSQL server.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "install",
        help="Download the Kafka jars and make sure a PostgreSQL server is present; start nothing.",
        description="Download the Kafka jars (cached) and make sure a PostgreSQL server is "
        "present. Servers configured with KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL are skipped.",
    )
    parser.parse_args(argv)
    started = time.monotonic()
    try:
        install(Settings(), progress=lambda line: print(line, flush=True))
    except EmbeddedServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"embedded servers installed ({time.monotonic() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
