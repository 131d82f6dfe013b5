"""The official HL7 FHIR R4 examples (npm package `hl7.fhir.r4.examples` 4.0.1), fetched
once into the user's cache, checked against the registry's hashes, never kept in the repo.
Only the MeasureReport examples and a few Bundles are read out of the archive."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

PACKAGE = "https://registry.npmjs.org/hl7.fhir.r4.examples/-/hl7.fhir.r4.examples-4.0.1.tgz"
SHA1 = "537ea7db3f3c7b3575fe2eaa7808bad21261cca3"  # the registry's `shasum`
SHA512 = (  # the registry's `integrity`
    "DXBdIZOeQaSKIgCU7w6HOC7sw/6BzylmipLkBW4f//pT+Bc94x+8LImwTdvaNThPJoOzpBzvxAzNqjeu3X/zLw=="
)
BUNDLES = (  # one of each Bundle type, small ones
    "Bundle-bundle-example.json",  # searchset
    "Bundle-bundle-transaction.json",  # transaction
    "Bundle-bundle-response.json",  # transaction-response
    "Bundle-bundle-response-medsallergies.json",  # batch-response
    "Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json",  # message
    "Bundle-father.json",  # document
    "Bundle-f001.json",  # collection
    "Bundle-bundle-references.json",  # collection, Patients and Observations
    "Bundle-xds.json",  # transaction, with a Binary
)


def _cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "jembatan-tests"


def _matches(path: Path) -> bool:
    sha1, sha512 = hashlib.sha1(usedforsecurity=False), hashlib.sha512()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            sha1.update(block)
            sha512.update(block)
    return sha1.hexdigest() == SHA1 and base64.b64encode(sha512.digest()).decode() == SHA512


def _download(archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=archive.parent, suffix=".part")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            httpx.stream("GET", PACKAGE, timeout=120, follow_redirects=True) as answer,
        ):
            answer.raise_for_status()
            for block in answer.iter_bytes():
                out.write(block)
        if not _matches(Path(partial)):
            pytest.fail("the FHIR examples package does not match the registry's hashes")
        os.replace(partial, archive)  # whole or not at all, even with parallel sessions
    finally:
        Path(partial).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def official_examples() -> dict[str, dict[str, Any]]:
    """File name -> resource, for every MeasureReport example and the BUNDLES."""
    archive = _cache() / "hl7.fhir.r4.examples-4.0.1.tgz"
    if not archive.exists() or not _matches(archive):
        try:
            _download(archive)
        except (httpx.HTTPError, OSError) as exc:
            pytest.skip(f"the official FHIR examples could not be fetched: {exc}")
    found: dict[str, dict[str, Any]] = {}
    with tarfile.open(archive, "r:gz") as tar:  # streamed: only the wanted files are read
        for member in tar:
            name = member.name.removeprefix("package/")
            if member.isfile() and (name.startswith("MeasureReport-") or name in BUNDLES):
                handle = tar.extractfile(member)
                assert handle is not None
                found[name] = json.loads(handle.read())
    assert sum(n.startswith("MeasureReport-") for n in found) == 4
    assert set(BUNDLES) <= set(found)
    return found
