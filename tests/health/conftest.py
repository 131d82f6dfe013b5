"""The official HL7 FHIR R4 examples (npm package `hl7.fhir.r4.examples` 4.0.1), fetched
once into the user's cache, checked against the registry's hash, never kept in the repo."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

PACKAGE = "https://registry.npmjs.org/hl7.fhir.r4.examples/-/hl7.fhir.r4.examples-4.0.1.tgz"
SHA1 = "537ea7db3f3c7b3575fe2eaa7808bad21261cca3"  # the npm registry's shasum
BUNDLES = (
    "Bundle-bundle-example.json",
    "Bundle-bundle-transaction.json",
    "Bundle-bundle-response.json",
    "Bundle-f001.json",
)


def _cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "jembatan-tests"


@pytest.fixture(scope="session")
def official_examples() -> dict[str, dict[str, Any]]:
    """File name -> resource, for every MeasureReport example and a few Bundles."""
    archive = _cache() / "hl7.fhir.r4.examples-4.0.1.tgz"
    if not archive.exists() or hashlib.sha1(archive.read_bytes()).hexdigest() != SHA1:  # noqa: S324
        try:
            answer = httpx.get(PACKAGE, timeout=120, follow_redirects=True)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            pytest.skip(f"the official FHIR examples could not be fetched: {exc}")
        if hashlib.sha1(answer.content).hexdigest() != SHA1:  # noqa: S324  (npm's own hash)
            pytest.fail("the FHIR examples package does not match the registry's hash")
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(answer.content)
    found: dict[str, dict[str, Any]] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = member.name.removeprefix("package/")
            if name.startswith("MeasureReport-") or name in BUNDLES:
                handle = tar.extractfile(member)
                assert handle is not None
                found[name] = json.loads(handle.read())
    assert sum(n.startswith("MeasureReport-") for n in found) >= 4
    return found
