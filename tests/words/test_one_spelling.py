"""One spelling of the offer's name, «кешбэк», in every text a shopper, marketer or
analyst reads (code, templates, pages, emails, exports)."""

from __future__ import annotations

import re

from tests.conftest import ROOT

OTHER_SPELLINGS = re.compile(r"к[эе]ш-?б[эе]к", re.IGNORECASE)


def test_cashback_is_spelt_one_way_everywhere():
    wrong = []
    for folder in ("wallet", "templates", "passes"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".html", ".txt", ".svg", ".json") or not path.is_file():
                continue
            for found in OTHER_SPELLINGS.findall(path.read_text(encoding="utf-8")):
                if found.lower() != "кешбэк":
                    wrong.append(f"{path.relative_to(ROOT)}: {found}")
    assert wrong == []
