"""`alertlens report`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alertlens.cli.main import main

from .conftest import decision, explained, write_inputs


def test_report_command_writes_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text("defaults: []\n")
    tracking = {"uri": "sqlite:///mlflow.db", "experiment": "alertlens"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"tracking": tracking}))
    write_inputs(tmp_path, decision(), explained())
    (tmp_path / "reports" / "explained_alerts.json").unlink()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # so touching MLflow would create ./mlflow.db

    main(["report", "--out", "out/index.html", "--no-mlflow"])

    page = (tmp_path / "out" / "index.html").read_text()
    assert "<strong>Refused</strong>" in page
    assert "the champion&#39;s stage metrics were not read from MLflow (--no-mlflow)" in page
    assert capsys.readouterr().out.splitlines() == [
        "report: wrote out/index.html",
        f"  explained alerts not available: {tmp_path}/reports/explained_alerts.json does not exist",
    ]
    assert not (tmp_path / "mlflow.db").exists()
    assert "mlflow ui --backend-store-uri sqlite:///" + str(tmp_path / "mlflow.db") in page
