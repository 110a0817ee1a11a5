"""The broker's supervisor (services/common/broker.py) against a stand-in for Tansu."""
import signal

from services.common import broker
from services.common.broker import Supervisor


class FakeTansu:
    """Exits with the next of CODES when waited for; a signal sent to it is remembered."""

    def __init__(self, supervisor, codes, started):
        self.supervisor, self.codes, self.started, self.signals = supervisor, codes, started, []

    def __call__(self, command, env):
        self.started.append(command[command.index("--cluster-id") + 1])
        return self

    def wait(self):
        code = self.codes.pop(0)
        if code == "signal":
            self.supervisor.stop(signal.SIGTERM)
            return -signal.SIGTERM
        return code

    def poll(self):
        return None

    def send_signal(self, signum):
        self.signals.append(signum)


def _supervised(codes, monkeypatch):
    monkeypatch.setattr(broker, "broker_command", lambda host, port, cluster: ["tansu", "--cluster-id", cluster])
    started, sleeps = [], []
    supervisor = Supervisor("127.0.0.1", 1, sleep=sleeps.append)
    tansu = FakeTansu(supervisor, codes, started)
    supervisor.popen = tansu
    return supervisor, tansu, started, sleeps


def test_a_tansu_that_dies_unasked_is_started_again_with_a_new_cluster_id_and_growing_waits(monkeypatch):
    supervisor, tansu, started, sleeps = _supervised([-9, 1, 1, 1, 1, "signal"], monkeypatch)
    assert supervisor.run() == 0
    assert len(started) == 6 and len(set(started)) == 6
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert tansu.signals == [signal.SIGTERM]


def test_a_signal_stops_tansu_and_the_supervisor_for_good(monkeypatch):
    supervisor, tansu, started, sleeps = _supervised(["signal"], monkeypatch)
    assert supervisor.run() == 0
    assert len(started) == 1 and not sleeps
