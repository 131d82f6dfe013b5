"""Text extraction from uploads, checked against PDFs and DOCX files written by hand here,
not by the code under test."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from jembatan.workspaces.extract import MAX_CHARS, extract_text

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF 1.4: catalog, page tree, Helvetica, one content stream a page, and an
    xref table of real byte offsets."""
    first_page = 4
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(pages)))
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        bodies.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> "
            + f"/Contents {first_page + 2 * i + 1} 0 R >>".encode()
        )
        bodies.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(bodies) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(bodies) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return out


def make_docx(path: Path, document_xml: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        archive.writestr("word/document.xml", document_xml)
    return path


def document(body: str, prolog: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'{prolog}<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'
    )


# PDF


def test_pdf_one_page(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(["Dengue cases rose in West Java"]))
    # The fixture is a well-formed PDF by pypdf's strict reading, not one it had to repair.
    assert len(PdfReader(path, strict=True).pages) == 1
    assert extract_text(path, PDF, "report.pdf") == "Dengue cases rose in West Java"


def test_pdf_three_pages_in_order(tmp_path: Path) -> None:
    path = tmp_path / "three.pdf"
    path.write_bytes(make_pdf(["Week one Bekasi", "Week two Bogor", "Week three Depok"]))
    assert len(PdfReader(path, strict=True).pages) == 3
    text = extract_text(path, PDF, None)
    assert text.split("\n") == ["Week one Bekasi", "Week two Bogor", "Week three Depok"]


def test_pdf_type_from_suffix(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(make_pdf(["Dengue cases rose in West Java"]))
    assert extract_text(path, "application/octet-stream", "Laporan.PDF") == (
        "Dengue cases rose in West Java"
    )


@pytest.mark.parametrize(
    "data",
    [
        make_pdf(["Dengue cases rose in West Java"])[:300],
        b"%PDF-1.4\n" + b"\x00garbage" * 100,
        b"",
        b"PK\x03\x04 not a pdf at all",
    ],
    ids=["truncated", "garbage", "empty", "other"],
)
def test_bad_pdf_gives_empty(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    assert extract_text(path, PDF, "bad.pdf") == ""


# DOCX


def test_docx_paragraphs_tab_and_split_run(tmp_path: Path) -> None:
    body = (
        # The w:tab under w:pPr/w:tabs is a tab stop, not text.
        '<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
        "<w:r><w:t>Penanggulangan</w:t></w:r>"
        '<w:r><w:tab/><w:t xml:space="preserve">demam ber</w:t></w:r>'
        "<w:r><w:t>darah</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Jawa</w:t><w:br/><w:t>Barat</w:t></w:r>"
        '<w:del><w:r><w:delText>deleted</w:delText></w:r></w:del><w:r><w:t xml:space="preserve"'
        ">  2026 </w:t></w:r></w:p>"
    )
    path = make_docx(tmp_path / "plan.docx", document(body))
    assert extract_text(path, DOCX, "plan.docx") == (
        "Penanggulangan demam berdarah\nJawa\nBarat 2026"
    )
    assert extract_text(path, "application/octet-stream", "plan.docx") != ""


def test_docx_with_doctype_gives_empty(tmp_path: Path) -> None:
    prolog = '<!DOCTYPE w:document [<!ENTITY x "boom">]>'
    path = make_docx(
        tmp_path / "entity.docx", document("<w:p><w:r><w:t>&x;</w:t></w:r></w:p>", prolog)
    )
    assert extract_text(path, DOCX, "entity.docx") == ""


def test_zip_that_is_not_docx_gives_empty(tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "Dengue cases rose")
    assert extract_text(path, DOCX, "archive.docx") == ""
    (tmp_path / "broken.docx").write_bytes(path.read_bytes()[:40])
    assert extract_text(tmp_path / "broken.docx", DOCX, None) == ""


def test_docx_zip_bomb_gives_empty(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        member.write(document("<w:p><w:r><w:t>").encode())
        block = b" " * (1 << 20)
        for _ in range(51):
            member.write(block)
    assert path.stat().st_size < 1 << 20
    assert extract_text(path, DOCX, "bomb.docx") == ""


# Text


def test_text_utf8_bom_and_invalid_bytes(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(
        b"\xef\xbb\xbfPenanggulangan  demam\tberdarah\r\n\r\n\n  di Jawa \xff Barat\x00.\n"
    )
    assert extract_text(path, "text/plain; charset=utf-8", "notes.txt") == (
        "Penanggulangan demam berdarah\ndi Jawa \ufffd Barat ."
    )


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [
        ("text/csv", None),
        ("text/markdown", None),
        ("application/json", None),
        ("application/octet-stream", "data.csv"),
        ("", "README.md"),
        ("", "cases.json"),
    ],
)
def test_text_types(tmp_path: Path, content_type: str, filename: str | None) -> None:
    path = tmp_path / "upload"
    path.write_text('{"kabupaten": "Bandung"}', encoding="utf-8")
    assert extract_text(path, content_type, filename) == '{"kabupaten": "Bandung"}'


def test_long_text_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    line = "Penanggulangan demam berdarah é\n".encode()
    path.write_bytes(line * (5 * 1024 * 1024 // len(line)))
    text = extract_text(path, "text/plain", "big.txt")
    assert MAX_CHARS - 1 <= len(text) <= MAX_CHARS
    assert text.startswith("Penanggulangan demam berdarah é\nPenanggulangan")
    assert "\ufffd" not in text


# Other


def test_unknown_type_gives_empty(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\nDengue")
    assert extract_text(path, "image/png", "photo.png") == ""
    assert extract_text(path, "application/octet-stream", None) == ""


def test_missing_file_gives_empty(tmp_path: Path) -> None:
    for content_type in (PDF, DOCX, "text/plain"):
        assert extract_text(tmp_path / "gone", content_type, None) == ""
