"""Keep the translation catalogues in step with the code: extract, update, compile (needs Babel: the dev extra).

    python tools/i18n.py            # migrate + extract + update + compile (what `make i18n` runs)
    python tools/i18n.py check      # exit 1 when a message lacks its Chinese or the .mo is stale
    python tools/i18n.py untranslated   # list the msgids without a translation, for translators

- **extract** scans ``nnstudio/`` for ``_()``, ``tr()``, ``ngettext()`` and ``N_()`` calls (the template is
  kept in memory: the ``.po`` files are what translators open);
- **update** merges the template into each ``<locale>/LC_MESSAGES/nnstudio.po``: new messages arrive
  untranslated, messages the code no longer uses are kept as obsolete (``#~``) entries, so nothing a translator
  wrote is lost and a message that comes back finds its translation again;
- **compile** writes the ``.mo`` beside each ``.po`` (committed: the program reads it with the standard
  library's gettext, no Babel at run time; fuzzy entries are left out);
- **migrate** copies the translations of the old JSON catalogue (``resources/translations/zh_CN.json``, keys
  the English texts) into the ``.po`` where it has none; it can run any number of times and does nothing once
  the JSON is gone.

Files are only rewritten when a message changed (the dates in the header alone do not count), so running this
twice leaves the tree clean.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "nnstudio"
TRANSLATIONS = ROOT / "resources" / "translations"
DOMAIN = "nnstudio"
LOCALES = ("zh_CN",)
KEYWORDS = dict(DEFAULT_KEYWORDS, tr=None, NP_=((1, "c"), 2))
COMMENT_TAGS = ("TRANSLATORS:",)
PROJECT = "NN Studio"
HEADER = """\
# NN Studio in {locale}: one catalogue for the core, the command line and the interface.
# Translate the msgstr lines with any gettext editor; `python tools/i18n.py` adds
# new messages from the code and compiles the .mo beside this file (commit both).
#"""
DATE_LINES = (b'"POT-Creation-Date:', b'"PO-Revision-Date:')


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(locale: str) -> Path:
    return po_path(locale).with_suffix(".mo")


def json_path(locale: str) -> Path:
    return TRANSLATIONS / f"{locale}.json"


def extract() -> Catalog:
    """Every translatable message under nnstudio/, with the files it appears in."""
    template = Catalog(project=PROJECT, charset="utf-8", fuzzy=False)
    # Babel warns about every f-string inside a keyword call, also the values passed by name
    # (tr("Loss {loss}", loss=f"{x:.3f}")), which are right; the coverage test checks the texts themselves.
    with contextlib.redirect_stderr(io.StringIO()):
        found = list(extract_from_dir(str(SOURCE), method_map=[("**.py", "python")], keywords=KEYWORDS,
                                      comment_tags=COMMENT_TAGS, strip_comment_tags=True))
    for filename, lineno, message, comments, context in found:
        path = os.path.join("nnstudio", filename).replace(os.sep, "/")
        template.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    for path, lineno, message in calls_inside_fstrings():
        if message not in template:
            template.add(message, None, [(path, lineno)])
    return template


def calls_inside_fstrings() -> list[tuple[str, int, str | tuple[str, str]]]:
    """Messages of keyword calls that Babel's tokenizer does not see: those inside f-string expressions
    (f"<h3>{tr('Bundled libraries')}</h3>").  Python's own parser finds them."""
    found = []
    for file in sorted(SOURCE.rglob("*.py")):
        path = str(file.relative_to(ROOT)).replace(os.sep, "/")
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for fstring in ast.walk(tree):
            if not isinstance(fstring, ast.JoinedStr):
                continue
            for node in ast.walk(fstring):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in KEYWORDS and node.args):
                    continue
                texts = [a.value for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if node.func.id == "ngettext" and len(texts) == 2:
                    found.append((path, node.lineno, (texts[0], texts[1])))
                elif node.func.id != "ngettext" and texts and isinstance(node.args[0], ast.Constant):
                    found.append((path, node.lineno, texts[0]))
    return found


def load(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        catalog = Catalog(locale=locale, domain=DOMAIN, project=PROJECT, version="1", charset="utf-8",
                          fuzzy=False, copyright_holder="the NN Studio authors",
                          language_team=f"{locale} <translators of NN Studio>",
                          last_translator="the NN Studio authors")
        catalog.header_comment = HEADER.format(locale=locale)
        return catalog
    with open(path, "rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


def migrate(catalog: Catalog, locale: str) -> int:
    """Copy the JSON catalogue's translations into ``catalog`` where it has none; returns how many."""
    path = json_path(locale)
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as fh:
        table = json.load(fh)
    copied = 0
    for msgid, msgstr in table.items():
        if msgid.startswith("@") or not str(msgstr).strip():
            continue
        message = catalog.get(msgid) or catalog.obsolete.get(msgid)
        if message is None:
            catalog.add(msgid, str(msgstr))
            copied += 1
        elif not message.string:
            message.string = str(msgstr)
            copied += 1
    return copied


def update(catalog: Catalog, template: Catalog) -> None:
    """Merge the template in; obsolete entries come back to life when the code uses them again."""
    for msgid, message in list(catalog.obsolete.items()):
        if msgid not in catalog:
            catalog[msgid] = message
    catalog.obsolete.clear()
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)


def render_po(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, include_lineno=False, ignore_obsolete=False, sort_output=True)
    return buf.getvalue()


def render_mo(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def _without_dates(data: bytes) -> list[bytes]:
    return [line for line in data.splitlines() if not line.startswith(DATE_LINES)]


def write_if_changed(path: Path, data: bytes, ignore_dates: bool = True) -> bool:
    """Write ``data`` atomically unless the file already holds it (header dates aside); True when written."""
    if path.exists():
        old = path.read_bytes()
        if old == data or (ignore_dates and _without_dates(old) == _without_dates(data)):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def compiled(locale: str) -> bytes:
    """The .mo the committed .po compiles to."""
    return render_mo(load(locale))


def untranslated(catalog: Catalog) -> list[str]:
    return [m.id for m in catalog if m.id and (not m.string or m.fuzzy
                                               or (isinstance(m.string, tuple) and not all(m.string)))]


def run_all() -> int:
    template = extract()
    for locale in LOCALES:
        catalog = load(locale)
        copied = migrate(catalog, locale)
        update(catalog, template)
        wrote_po = write_if_changed(po_path(locale), render_po(catalog))
        # The .mo is rebuilt from the .po on disk, so it matches what translators see.
        wrote_mo = write_if_changed(mo_path(locale), compiled(locale))
        missing = untranslated(catalog)
        print(f"{locale}: {len(catalog) - 1} messages, {len(missing)} untranslated, {copied} copied from JSON"
              f"{', .po written' if wrote_po else ''}{', .mo written' if wrote_mo else ''}")
    return 0


def run_check() -> int:
    template = extract()
    status = 0
    for locale in LOCALES:
        catalog = load(locale)
        missing = sorted({m.id for m in template if m.id} - {m.id for m in catalog if m.id and m.string
                                                             and not m.fuzzy})
        if missing:
            status = 1
            print(f"{locale}: {len(missing)} messages lack a translation (run tools/i18n.py, then translate "
                  f"them in {po_path(locale).relative_to(ROOT)}):", *missing, sep="\n  ")
        if not mo_path(locale).exists() or mo_path(locale).read_bytes() != compiled(locale):
            status = 1
            print(f"{locale}: {mo_path(locale).relative_to(ROOT)} is older than its .po (run tools/i18n.py)")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="all", choices=("all", "check", "untranslated"))
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_check()
    if args.command == "untranslated":
        for locale in LOCALES:
            print(*untranslated(load(locale)), sep="\n")
        return 0
    return run_all()


if __name__ == "__main__":
    sys.exit(main())
