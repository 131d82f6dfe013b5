"""English and Bahasa Indonesia through Babel catalogues, chosen per request.

The .po files are the source; they are compiled in memory at start-up, so no generated
.mo files live in the repository. `python -m jembatan.web.i18n update` extracts every
marked string from code and templates and merges it into the catalogues.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations

from jembatan.errors import JembatanError

SRC = Path(__file__).resolve().parent.parent
LOCALES = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}
DEFAULT = "en"
# Call names whose first string argument is user-visible text. Errors meant for operators
# (ConfigError, Unavailable) stay in English and are not listed.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    **dict.fromkeys(
        (
            "InvalidInput",
            "NotFound",
            "Conflict",
            "Unauthenticated",
            "Forbidden",
            "TooManyAttempts",
            "JembatanError",
        )
    ),
}
METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]

language: ContextVar[str] = ContextVar("language", default=DEFAULT)


@cache
def translations(lang: str) -> NullTranslations:
    po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf)


def gettext(message: str) -> str:
    return translations(language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(language.get()).ngettext(singular, plural, n)


def error_text(exc: JembatanError, lang: str) -> str:
    """A refusal's message in the reader's language."""
    token = language.set(lang)
    try:
        return exc.translated(gettext)
    finally:
        language.reset(token)


def N_(message: str) -> str:  # noqa: N802  (the conventional name for "mark, don't translate")
    return message


def negotiate(accept_language: str | None) -> str | None:
    """The best supported language from an Accept-Language header, by q-value."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for pos, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if q > 0 and primary in LANGUAGES:
            ranked.append((-q, pos, primary))
    return min(ranked)[2] if ranked else None


def extract() -> Iterator[tuple[str, str]]:
    """(message id, location) for every marked string in the package."""
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
        SRC, METHODS, keywords=KEYWORDS, options_map=options
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        yield msgid, f"{filename}:{lineno}"


def update_catalogues() -> None:
    template = Catalog(project="jembatan")
    for msgid, location in extract():
        file, _, line = location.rpartition(":")
        template.add(msgid, locations=[(file, int(line))])
    for lang in LANGUAGES:
        if lang == DEFAULT:
            continue
        po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True, exist_ok=True)
        if po.is_file():
            with po.open("rb") as f:
                catalog = read_po(f, locale=lang)
        else:
            catalog = Catalog(locale=lang, project="jembatan")
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, ignore_obsolete=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{po.relative_to(SRC.parent.parent)}: {len(missing)} untranslated")


if __name__ == "__main__":
    if sys.argv[1:] == ["update"]:
        update_catalogues()
    else:
        sys.exit("usage: python -m jembatan.web.i18n update")
