"""Entry point of ``nnstudio`` and ``python -m nnstudio``: the desktop app by default, subcommands otherwise."""
from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run NN Studio with ``argv`` (default: the process's arguments); returns the exit status."""
    from nnstudio.cli import main as cli_main  # noqa: PLC0415

    return cli_main(argv)


if __name__ == "__main__":
    # In the standalone app, a process that multiprocessing spawns (the captcha dataset is rendered in several)
    # runs this executable again: freeze_support runs its task there and exits.  Elsewhere it does nothing.
    import multiprocessing  # noqa: PLC0415

    multiprocessing.freeze_support()
    sys.exit(main())
