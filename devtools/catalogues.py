"""Refresh the attendee pages' gettext catalogues: extract every string from the templates
and scripts into api/locales/messages.pot, then merge it into each language's .po.

    uv run python -m devtools.catalogues
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "api" / "locales"


def main() -> int:
    from api.i18n import DEFAULT, LANGUAGES

    pybabel = [str(Path(sys.executable).parent / "pybabel")]
    subprocess.run([*pybabel, "extract", "-F", "babel.cfg", "-k", "t", "-k", "_", "--no-wrap",
                    "--sort-by-file", "--omit-header", "-o", str(LOCALES / "messages.pot"), "."],
                   cwd=ROOT, check=True)  # fmt: skip
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        po = LOCALES / language / "LC_MESSAGES" / "messages.po"
        command = "update" if po.exists() else "init"
        obsolete = ["--ignore-obsolete"] if command == "update" else []
        template = str(LOCALES / "messages.pot")
        subprocess.run([*pybabel, command, *obsolete, "--no-wrap", "-i", template,
                        "-d", str(LOCALES), "-l", language], cwd=ROOT, check=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
