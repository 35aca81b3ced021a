"""``simservice-app``: starts the page on this computer only (127.0.0.1) and says where it is."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from simservice.config import OneLineParser
from simservice.web.jobs import CACHE_ENV

HOST = "127.0.0.1"
HOME = Path(__file__).with_name("home.py")


def _fail(message: str) -> None:
    print(f"simservice-app: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _arguments() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="simservice-app",
        description="The simservice page for planners, finance officers and trainers, in your browser, on this computer"
        " only.",
    )
    parser.add_argument("--port", type=int, default=8501, help="the port to serve on (default 8501)")
    parser.add_argument(
        "--cache-dir",
        help=f"where runs are kept and reused (default ${CACHE_ENV}, else ~/.cache/simservice/app)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Check the port is free, then hand over to Streamlit, which serves until Ctrl-C."""
    args = _arguments().parse_args(argv)
    try:
        from streamlit.web import cli as streamlit
    except ImportError:
        _fail("the page needs Streamlit: pip install -e '.[app]' in a clone (or pip install 'simservice[app]')")
    if not 1 <= args.port <= 65535:
        _fail(f"--port {args.port}: must be a port from 1 to 65535")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: a restart may follow a stop
        try:
            probe.bind((HOST, args.port))
        except OSError as error:
            _fail(f"--port {args.port}: cannot serve on {HOST}:{args.port} ({error.strerror}); choose another port")
    if args.cache_dir:
        os.environ[CACHE_ENV] = str(Path(args.cache_dir).expanduser().resolve())
    print(f"simservice-app: the page is at http://{HOST}:{args.port} (Ctrl-C stops it)", flush=True)
    sys.argv = ["streamlit", "run", str(HOME), f"--server.address={HOST}", f"--server.port={args.port}",
                "--server.headless=true", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
                "--server.runOnSave=false", "--client.toolbarMode=viewer", "--theme.base=light"]  # fmt: skip
    streamlit.main()


if __name__ == "__main__":
    main()
