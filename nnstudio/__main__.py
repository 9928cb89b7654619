"""Entry point of ``nnstudio`` and ``python -m nnstudio``: the desktop app by default, subcommands otherwise."""
from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run NN Studio with ``argv`` (default: the process's arguments); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--render-captchas"]:  # a worker the captcha dataset started (data.captcha_digits.WORKER_FLAG)
        from nnstudio.data.captcha_digits import worker_main  # noqa: PLC0415

        return worker_main(args[1:])
    from nnstudio.cli import main as cli_main  # noqa: PLC0415

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
