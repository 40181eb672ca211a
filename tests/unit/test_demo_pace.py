"""`pledgewatch demo --confirmation-s --reporting-period-s`: the written set-up judges at that
pace, the backend's windows and the gateways' reporting agreeing."""
from __future__ import annotations

from backend.demo.setup import DemoPace, DemoPorts, load_seed, write_config_set
from backend.settings import BackendSettings
from edge.config import EdgeSettings
from edge.protocol.settings import load_settings


def written(tmp_path, pace: DemoPace) -> tuple[BackendSettings, list[EdgeSettings]]:
    layout = write_config_set(tmp_path, DemoPorts(broker=1883, http=8000), load_seed(), pace=pace)
    edges = [load_settings(EdgeSettings, path) for path in layout.edge_configs.values()]
    return load_settings(BackendSettings, layout.backend_config), edges


def max_silences_s(edges: list[EdgeSettings]) -> set[float]:
    return {driver.filter.max_silence_s for edge in edges for driver in edge.drivers
            if driver.driver in ("scale_modbus", "temperature_modbus")}


def test_by_default_a_confirmed_alert_shows_in_two_minutes(tmp_path):
    backend, edges = written(tmp_path, DemoPace())
    monitor = backend.monitor
    assert (monitor.confirmation_s, monitor.clear_s, monitor.reporting_period_s) == (120, 60, 60)
    assert max_silences_s(edges) == {60}


def test_a_quick_pace_shortens_the_windows_and_the_devices_report_within_the_period(tmp_path):
    backend, edges = written(tmp_path, DemoPace(confirmation_s=15, reporting_period_s=5))
    monitor = backend.monitor
    assert (monitor.confirmation_s, monitor.clear_s, monitor.reporting_period_s) == (15, 7, 5)
    assert max_silences_s(edges) == {5}
