"""Keep the catalogues in step with the code: extract, update zh and en, fill en, report gaps.

Run: .venv/bin/python scripts/i18n.py   (then translate what it lists for zh, and compile).
English msgids are the source text, so the en catalogue is filled with the msgid itself.
"""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POT = ROOT / "translations" / "messages.pot"


def run(*args):
    subprocess.run([str(BIN / "pybabel"), *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def main():
    run("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-k", "_pl:1c,2", "-k", "lazy_pgettext:1c,2", "--sort-output", "-o", str(POT), ".")
    run("update", "-i", str(POT), "-d", "translations", "--no-fuzzy-matching", "--ignore-obsolete")
    en = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    with en.open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if message.id and not message.string:
            message.string = message.id
    with en.open("wb") as fh:
        write_po(fh, catalog, sort_output=True)
    zh = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    with zh.open("rb") as fh:
        missing = [m.id for m in read_po(fh) if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
    if missing:
        print(f"{len(missing)} zh messages untranslated:")
        for msgid in missing:
            print("  ", msgid if isinstance(msgid, str) else msgid[0])
        return 1
    print("Catalogues complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
