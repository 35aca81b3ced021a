"""``python -m simservice`` and the ``simservice`` command: Ctrl-C is one line at any moment, imports included."""

import os
import signal
import sys

#: Ctrl-C during a parallel sweep leaves the launcher's semaphores to the process that tracks them,
#: which would warn about them at exit: the interruption is already reported in one line.
QUIET_TRACKER = "ignore:resource_tracker:UserWarning"


def main() -> None:
    """Start the command; the heavy imports happen inside, where an interruption is caught.

    Ctrl-C is also remembered: an interruption raised where Python swallows it (in a
    weak-reference callback during an import, say) still ends the command as interrupted.
    """
    warnings = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{warnings},{QUIET_TRACKER}" if warnings else QUIET_TRACKER
    interrupted: list[int] = []

    def on_interrupt(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        from simservice.app import cli

        cli()
    except KeyboardInterrupt:
        print("simservice: error: interrupted: no results were written", file=sys.stderr)
        raise SystemExit(130) from None
    except SystemExit as exit_:
        if interrupted and exit_.code in (0, None):
            _swallowed()
        raise
    if interrupted:
        _swallowed()


def _swallowed() -> None:
    print("simservice: error: interrupted: results are complete only where summary.csv was written", file=sys.stderr)
    raise SystemExit(130)


if __name__ == "__main__":
    main()
