"""``python -m simservice`` and the ``simservice`` command: Ctrl-C is one line at any moment, imports included."""

import sys


def main() -> None:
    """Start the command; the heavy imports happen inside, where an interruption is caught."""
    try:
        from .app import cli

        cli()
    except KeyboardInterrupt:
        print("simservice: error: interrupted: no results were written", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
