"""Plain text of uploaded documents (PDF, DOCX, text) for full-text search, bounded in size
and never raising for a bad file."""

from __future__ import annotations

import codecs
import re
import zipfile
import zlib
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Literal
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from pypdf import PageObject


MAX_CHARS = 200_000  # text kept per document version
MAX_PAGES = 2000
MAX_DOCX_XML = 50 * 1024 * 1024  # uncompressed word/document.xml
_CHUNK = 64 * 1024

_Kind = Literal["pdf", "docx", "text"]
_DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_SUFFIXES: dict[str, _Kind] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".md": "text",
    ".csv": "text",
    ".json": "text",
}
# Transitional and Strict OOXML name the WordprocessingML namespace differently.
_W_NAMESPACES = (
    "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}",
    "{http://purl.oclc.org/ooxml/wordprocessingml/main}",
)

# NUL and other controls (and lone surrogates) would be refused by Postgres text columns.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")
_SPACES = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r" ?\n\s*")


def extract_text(path: Path, content_type: str, filename: str | None) -> str:
    """Plain text of a PDF, DOCX or text file, at most MAX_CHARS characters, whitespace
    collapsed; "" for any other type or for a file that cannot be read (never raises
    for bad files: a corrupt PDF or a zip bomb gives "")."""
    kind = _kind(content_type, filename)
    if kind == "pdf":
        text = _pdf_text(path)
    elif kind == "docx":
        text = _docx_text(path)
    elif kind == "text":
        text = _plain_text(path)
    else:
        return ""
    return text[:MAX_CHARS].rstrip()


def _kind(content_type: str, filename: str | None) -> _Kind | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/pdf":
        return "pdf"
    if media == _DOCX_TYPE:
        return "docx"
    if media.startswith("text/") or media == "application/json":
        return "text"
    if filename:
        return _SUFFIXES.get(PurePath(filename).suffix.lower())
    return None


def _clean(text: str) -> str:
    """Runs of whitespace become one space, runs of line breaks one "\\n"."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text))
    return _BREAKS.sub("\n", text).strip()


def _plain_text(path: Path) -> str:
    limit = MAX_CHARS * 4  # UTF-8 needs at most 4 bytes a character
    try:
        with path.open("rb") as fh:
            data = fh.read(limit)
            complete = not fh.read(1)
    except OSError:
        return ""
    # Incremental so that a character cut at the limit is dropped rather than replaced;
    # utf-8-sig strips a leading BOM.
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    return _clean(decoder.decode(data, final=complete))


def _pdf_text(path: Path) -> str:
    from pypdf import PasswordType, PdfReader  # imported when first needed, as it is rare

    # pypdf raises many exception types on malformed input, not only PdfReadError.
    try:
        # An open file, not the path: given a path, pypdf reads the whole file into memory.
        with path.open("rb") as fh:
            reader = PdfReader(fh)
            if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                return ""
            parts: list[str] = []
            size = 0
            for number, page in enumerate(reader.pages):
                if number >= MAX_PAGES or size >= MAX_CHARS:
                    break
                text = _page_text(page)
                if text:
                    parts.append(text)
                    size += len(text) + 1
    except Exception:
        return ""
    return "\n".join(parts)


def _page_text(page: PageObject) -> str:
    # One unreadable page should not lose the rest of the document.
    try:
        return _clean(page.extract_text())
    except Exception:
        return ""


class _Rejected(Exception):
    pass


class _DocxTarget:
    """ElementTree parser target keeping the text of w:t runs, without building a tree."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.size = 0
        self._paragraph: list[str] = []
        self._in_text = False
        self._runs = 0

    @property
    def full(self) -> bool:
        return self.size >= MAX_CHARS

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _w_name(tag)
        if name == "t":
            self._in_text = True
        elif name == "r":
            self._runs += 1
        # Only inside a run: w:tab also names tab stops in paragraph properties.
        elif self._runs and name == "tab":
            self._paragraph.append("\t")
        elif self._runs and name in ("br", "cr"):
            self._paragraph.append("\n")

    def end(self, tag: str) -> None:
        name = _w_name(tag)
        if name == "t":
            self._in_text = False
        elif name == "r":
            self._runs -= 1
        elif name == "p":
            text = _clean("".join(self._paragraph))
            self._paragraph.clear()
            if text:
                self.paragraphs.append(text)
                self.size += len(text) + 1

    def data(self, data: str) -> None:
        if self._in_text:
            self._paragraph.append(data)

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        # Word never writes one; a DOCTYPE is how entity expansion attacks begin.
        raise _Rejected

    def close(self) -> str:
        return "\n".join(self.paragraphs)


def _w_name(tag: str) -> str | None:
    for namespace in _W_NAMESPACES:
        if tag.startswith(namespace):
            return tag[len(namespace) :]
    return None


def _docx_text(path: Path) -> str:
    # A parser target rather than iterparse: it sees the DOCTYPE (in any encoding) and
    # builds no element tree, so memory stays bounded by the chunk and the text kept.
    # The DOCTYPE refusal is what defusedxml would add (no entities, internal or external).
    target = _DocxTarget()
    parser = ET.XMLParser(target=target)  # noqa: S314
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML:
                return ""
            with archive.open(info) as member:
                # Count what is inflated too: the declared size may lie.
                read = 0
                while chunk := member.read(_CHUNK):
                    read += len(chunk)
                    if read > MAX_DOCX_XML:
                        return ""
                    parser.feed(chunk)
                    if target.full:
                        break
                else:
                    parser.close()
    except (
        OSError,
        EOFError,
        KeyError,
        RuntimeError,
        NotImplementedError,
        ValueError,
        zipfile.BadZipFile,
        zlib.error,
        ET.ParseError,
        _Rejected,
    ):
        return ""
    return "\n".join(target.paragraphs)
