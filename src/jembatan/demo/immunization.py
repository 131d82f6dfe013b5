"""The demo's internal API of IDN-KEMENKES: vaccination status by person id, served on a
loopback port and reached by other members only through the service gateway."""

from __future__ import annotations

import hashlib
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

VACCINES = ("BCG", "HepB", "DTP-HepB-Hib", "Polio (OPV)", "MR", "JE", "HPV")

OPENAPI = json.dumps(
    {
        "openapi": "3.0.3",
        "info": {"title": "Vaccination status", "version": "1.0.0"},
        "paths": {
            "/v1/status/{id}": {
                "get": {
                    "summary": "Vaccination status of one person",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "The status"}},
                }
            }
        },
    },
    indent=1,
)


def status_of(person: str) -> dict[str, object]:
    """A stable, made-up record: the same id always gives the same answer."""
    seed = hashlib.sha256(person.encode()).digest()
    done = [v for i, v in enumerate(VACCINES) if seed[i] % 4 != 0]
    return {
        "id": person,
        "status": "complete" if len(done) == len(VACCINES) else "incomplete",
        "vaccinations": [{"vaccine": v, "doses": 1 + seed[10 + i] % 3} for i, v in enumerate(done)],
        "source": "Sample data: Kementerian Kesehatan immunization registry (demo)",
    }


async def _status(request: Request) -> JSONResponse:
    return JSONResponse(status_of(request.path_params["id"]))


app = Starlette(routes=[Route("/v1/status/{id}", _status)])
