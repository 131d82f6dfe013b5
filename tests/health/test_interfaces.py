"""Surveillance through the CLI and the API, as an operator and an agency's system use
them: detection reproduced by an independent computation, imports with every problem
located, scopes and roles enforced."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jembatan.accounts.tokens import create_token
from jembatan.errors import Forbidden
from jembatan.node.context import Node
from tests.conftest import add_user
from tests.health.test_surveillance import A90, csv_of
from tests.node.test_cli import run

COUNTS = [12, 9, 14, 11, 10, 13, 12, 11, 15, 30, 12]
PERIODS = [f"2024-W{w:02d}" for w in range(1, len(COUNTS) + 1)]
Z = statistics.NormalDist().inv_cdf(1 - 0.001)


def _independent(lag: int) -> list[float | None]:
    """EARS C1 (lag 0) and C2 (lag 2): mean + z(1-alpha)*SD of the 7 weeks ending `lag`
    weeks before the one checked, computed here with the standard library only."""
    out: list[float | None] = []
    for t in range(len(COUNTS)):
        start, end = t - 7 - lag, t - lag
        if start < 0:
            out.append(None)
            continue
        window = COUNTS[start:end]
        out.append(statistics.mean(window) + Z * statistics.stdev(window))
    return out


@pytest.mark.parametrize(("method", "lag"), [("ears-c1", 0), ("ears-c2", 2)])
def test_cli_detect_reproduces_ears_thresholds(tmp_path: Path, method: str, lag: int) -> None:
    data = tmp_path / "series.csv"
    data.write_text(
        "period,count,note\n"
        + "".join(f"{p},{c},x\n" for p, c in zip(PERIODS, COUNTS, strict=True))
    )
    done = run("health", "detect", "--input", str(data), "--method", method, "--json")
    assert done.returncode == 0, done.stderr
    points = json.loads(done.stdout)
    assert [p["period"] for p in points] == PERIODS
    assert [p["count"] for p in points] == COUNTS
    for point, expected in zip(points, _independent(lag), strict=True):
        if expected is None:
            assert point["threshold"] is None
            assert point["alarm"] is False
        else:
            assert point["threshold"] == pytest.approx(expected, rel=1e-6)
            assert point["alarm"] is (point["count"] > expected)
    assert points[9]["alarm"] is True  # the week of 30 cases


def test_cli_detect_refuses_bad_input_clearly(tmp_path: Path) -> None:
    gap = tmp_path / "gap.csv"
    gap.write_text("period,count\n2024-W01,3\n2024-W03,4\n")
    done = run("health", "detect", "--input", str(gap), "--method", "ears-c1", "--json")
    assert done.returncode == 2
    assert "2024-W02" in done.stderr
    wrong = run("health", "detect", "--input", str(gap), "--method", "cusum")
    assert wrong.returncode == 2
    assert "method" in wrong.stderr
    text = tmp_path / "text.csv"
    text.write_text("period,count\n2024-W01,many\n")
    done = run("health", "detect", "--input", str(text))
    assert done.returncode == 2
    assert "line 2, column count" in done.stderr


def test_cli_import_lists_every_problem_and_stores_nothing(node: Node, tmp_path: Path) -> None:
    env = {"JEMBATAN_DATA_DIR": str(node.data_dir), "JEMBATAN_DATABASE_URL": node.settings.db_url}
    bad = tmp_path / "bad.csv"
    bad.write_text("disease,area,period,count\nA90,ID-JK,2024-W01,4\nA9X,ID-JK,2024-W02,x\n")
    done = run("health", "import", str(bad), env=env)
    assert done.returncode == 2
    assert "line 3, column disease" in done.stderr
    assert "line 3, column count" in done.stderr
    assert "nothing was stored" in done.stderr
    good = tmp_path / "good.csv"
    good.write_bytes(csv_of([(A90, "ID-JK", "2024-W01", 4), (A90, "ID-JK", "2024-W02", 6)]))
    done = run("health", "import", str(good), "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["observations"] == 2
    listed = run("health", "series", "--json", env=env)
    [series] = json.loads(listed.stdout)
    assert (series["disease"], series["area"], series["weeks"], series["latest"]) == (
        A90,
        "ID-JK",
        2,
        6,
    )
    assert series["disease_name"].lower().startswith("dengue")


def _token(node: Node, role: str, scopes: str) -> dict[str, str]:
    user = add_user(node, f"{role}-api", role)
    issued = create_token(node, user, "test", scopes, timedelta(days=1))
    return {"Authorization": f"Bearer {issued.token}"}


def test_api_imports_reads_and_detects(client: TestClient, node: Node) -> None:
    writer = _token(node, "officer", "health:read health:write")
    bad = b"disease,area,period,count\nA90,ID-JK,2024-W01,-3\nA90,XX-99,2024-W02,4\n"
    answer = client.post(
        "/api/v1/health/reports", content=bad, headers={**writer, "content-type": "text/csv"}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problems = answer.json()["problems"]
    assert {p["location"].split(",")[0] for p in problems} >= {"line 2", "line 3"}
    assert client.get("/api/v1/health/series", headers=writer).json() == []

    rows = [(A90, "ID-JK", p, c) for p, c in zip(PERIODS, COUNTS, strict=True)]
    answer = client.post(
        "/api/v1/health/reports?classification=TLP:GREEN",
        content=csv_of(rows),
        headers={**writer, "content-type": "text/csv"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["classification"] == "TLP:GREEN"
    week = client.get(
        "/api/v1/health/series",
        params={"disease": A90, "area": "ID-JK", "method": "ears-c1"},
        headers=writer,
    ).json()
    assert [w["count"] for w in week] == COUNTS
    assert week[9]["alarm"] is True
    assert week[9]["threshold"] == pytest.approx(_independent(0)[9])

    detected = client.post(
        "/api/v1/health/detect",
        json={"periods": PERIODS, "counts": COUNTS, "method": "ears-c2"},
        headers=writer,
    )
    assert detected.status_code == 200
    assert detected.json()[9]["threshold"] == pytest.approx(_independent(2)[9])
    refused = client.post(
        "/api/v1/health/detect",
        json={"periods": PERIODS, "counts": COUNTS, "method": "magic"},
        headers=writer,
    )
    assert refused.status_code == 422
    assert "method" in refused.json()["detail"]

    run_now = client.post("/api/v1/health/detection-runs?method=ears-c1", headers=writer)
    assert run_now.status_code == 200
    [signal] = run_now.json()
    assert (signal["period"], signal["count"], signal["status"]) == ("2024-W10", 30, "open")
    review = client.post(
        f"/api/v1/health/signals/{signal['id']}/review",
        json={"decision": "dismiss", "note": "a reporting backlog"},
        headers=writer,
    )
    assert review.status_code == 200
    assert review.json()["status"] == "dismissed"


def test_api_scopes_and_roles(client: TestClient, node: Node) -> None:
    analyst = _token(node, "analyst", "health:read")
    answer = client.post(
        "/api/v1/health/reports",
        content=csv_of([(A90, "ID-JK", "2024-W01", 1)]),
        headers={**analyst, "content-type": "text/csv"},
    )
    assert answer.status_code == 403
    assert "health:write" in answer.json()["detail"]
    assert client.get("/api/v1/health/series", headers=analyst).status_code == 200
    auditor = add_user(node, "auditor-api", "auditor")
    with pytest.raises(Forbidden):
        create_token(node, auditor, "test", "health:read", timedelta(days=1))
