"""`onewindow evaluations export` and `onewindow cases supervision` on a real database file, through the CLI."""

import csv
import io
import json
from datetime import datetime

import yaml
from click.testing import CliRunner

from queue_server.clock import OffsetClock
from queue_server.commands import cli
from queue_server.domain.calling import DefaultCallingPolicy
from queue_server.domain.hall import HallConfig
from queue_server.domain.workdays import WorkCalendar
from queue_server.services import evaluations as ev
from queue_server.services.cases import back_office, intake, outcomes
from queue_server.services.context import HallContext, NullPublisher
from queue_server.store.db import ensure_hall, make_engine, migrate
from tests.unit.cases.conftest import APPROVER, CASE_HALL, CITIZEN, ID, SETTINGS, TZ, WINDOW
from tests.unit.cases.test_evaluation_services import token_of


def _hall(tmp_path):
    config_file = tmp_path / "hall.yaml"
    config_file.write_text(yaml.safe_dump(CASE_HALL, allow_unicode=True), encoding="utf-8")
    cases_file = tmp_path / "cases.yaml"
    cases_file.write_text(yaml.safe_dump(SETTINGS.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
    db = tmp_path / "hall.db"
    engine = make_engine(str(db), synchronous="OFF")
    migrate(engine)
    ensure_hall(engine, "test")
    config = HallConfig.model_validate(CASE_HALL)
    # Monday 2026-06-01: a case accepted then was due on 2026-06-08, so it is red whenever this runs (red needs
    # no calendar data for today, so this holds even in a year the calendar package does not know yet)
    start = datetime(2026, 6, 1, 10, 0, tzinfo=TZ)
    ctx = HallContext(config=config, engine=engine, clock=OffsetClock(start),
                      policy=DefaultCallingPolicy(config.calling), calendar=WorkCalendar(),
                      publisher=NullPublisher(), person_secret=b"k", case_settings=SETTINGS)
    return ctx, ["--config", str(config_file), "--cases-config", str(cases_file), "--database", str(db)]


def test_export_and_supervision_from_the_command_line(tmp_path):
    ctx, options = _hall(tmp_path)
    done = intake.intake(ctx, intake.IntakeRequest(item_id="relief", applicant_name="王小娜", id_number=ID, window_id="w1",
                                           materials=["e_licence", "original", "original", "copy"]), WINDOW)["case"]
    outcomes.accept(ctx, done["id"], WINDOW)
    back_office.decide(ctx, done["id"], True, [], APPROVER)
    token = token_of(ctx, ev.invite_for_case(ctx, done["id"], WINDOW, start_pad=False))
    ev.rate(ctx, token, 1, [2], None, CITIZEN, ev.Channel.QR)
    late = intake.intake(ctx, intake.IntakeRequest(item_id="relief", applicant_name="李四", id_number=ID,
                                           materials=["e_licence", "original", "original", "copy"]), WINDOW)["case"]
    outcomes.accept(ctx, late["id"], WINDOW)
    ctx.engine.dispose()

    runner = CliRunner()
    out = runner.invoke(cli, ["evaluations", "export", *options])
    assert out.exit_code == 0, out.output
    [row] = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["subject_number"] == done["number"] and row["level"] == 1 and row["indicator_labels"] == ["服务态度差"]
    assert row["followup_status"] == "verifying" and ID not in out.stdout

    target = tmp_path / "evaluations.csv"
    out = runner.invoke(cli, ["evaluations", "export", "--format", "csv", "-o", str(target), *options])
    assert out.exit_code == 0 and "(2 lines, csv)" in out.output
    table = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["subject_number"] for r in table] == [done["number"]]

    out = runner.invoke(cli, ["evaluations", "export", "--since", "tomorrow", *options])
    assert out.exit_code == 2 and "not a date" in out.output

    out = runner.invoke(cli, ["cases", "supervision", *options])
    assert out.exit_code == 0, out.output
    assert "红灯 overdue: 1" in out.output and late["number"] in out.output
