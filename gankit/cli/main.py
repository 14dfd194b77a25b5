"""``gankit`` command line: thin parsing over the library.

User errors (GankitError) print as one line ``gankit: error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import shlex
import sys

from gankit.errors import GankitError, Stopped

# Sub-command modules: each exposes add_parsers(subparsers). Optional ones may be absent.
COMMAND_MODULES = ["gankit.cli.train", "gankit.cli.eval", "gankit.cli.data", "gankit.cli.study", "gankit.cli.edit", "gankit.cli.attr",
                   "gankit.cli.app", "gankit.cli.music", "gankit.cli.text", "gankit.cli.translate",
                   "gankit.cli.restore"]


_FS_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR,
              errno.ENAMETOOLONG, errno.EMFILE}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, evaluate and edit GANs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue  # that command family is not built (yet)
            raise
        module.add_parsers(sub)
    return parser


def one_line(err: BaseException) -> str:
    """The user-facing line of an error (DataLoader workers wrap messages in tracebacks)."""
    text = str(err).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1:  # "...Traceback...\ngankit.errors.DataError: <message>"
        last = lines[-1]
        return last.split(": ", 1)[-1] if last.startswith("gankit.errors.") else last
    return text


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may follow options (argparse stops positionals at the first option)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = list(args.overrides) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except Stopped as e:
        again = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
        print(f"gankit: {one_line(e)}; continue with: gankit {again}", file=sys.stderr)
        return e.code
    except GankitError as e:
        if args.verbose:
            raise
        print(f"gankit: error: {one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:
        # the file system said no (disk full, quota, permission, read-only): name the file
        if args.verbose or e.errno not in _FS_ERRNOS:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"gankit: error: {where}{e.strerror or e} (nothing half-written was kept; free space or "
              f"fix permissions and run the same command again)", file=sys.stderr)
        return 2
    except Exception as e:
        # a DataLoader worker that cannot rebuild our error type raises its own, with ours inside
        if "gankit.errors." in str(e) and not args.verbose:
            print(f"gankit: error: {one_line(e)}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
