"""``python -m simservice`` and the ``simservice`` command: Ctrl-C is one line at any moment, imports included."""

import os
import sys

#: Ctrl-C during a parallel sweep leaves the launcher's semaphores to the process that tracks them,
#: which would warn about them at exit: the interruption is already reported in one line.
QUIET_TRACKER = "ignore:resource_tracker:UserWarning"


def main() -> None:
    """Start the command; the heavy imports happen inside, where an interruption is caught."""
    warnings = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{warnings},{QUIET_TRACKER}" if warnings else QUIET_TRACKER
    try:
        from simservice.app import cli

        cli()
    except KeyboardInterrupt:
        print("simservice: error: interrupted: no results were written", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
