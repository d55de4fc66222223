import shutil

from click.testing import CliRunner

from config import CONFIG_DIR
from queue_server.commands import cli


def test_check_config_passes_the_default_hall():
    result = CliRunner().invoke(cli, ["check-config", str(CONFIG_DIR / "hall.yaml")])
    assert result.exit_code == 0, result.output
    assert "131 service items" in result.output and "sample data" in result.output


def test_check_config_also_checks_the_kiosk_flows_beside_the_hall(tmp_path):
    shutil.copy(CONFIG_DIR / "hall.yaml", tmp_path / "hall.yaml")
    flows = (CONFIG_DIR / "flows.yaml").read_text(encoding="utf-8")
    assert "item: marriage-registration" in flows
    (tmp_path / "flows.yaml").write_text(flows.replace("item: marriage-registration", "item: marrige", 1),
                                         encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", str(tmp_path / "hall.yaml")])
    assert result.exit_code == 2
    assert "item 'marrige' is not a service item" in result.output
    assert "Traceback" not in result.output
