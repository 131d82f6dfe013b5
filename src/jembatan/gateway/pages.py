"""Portal pages of the service gateway."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
