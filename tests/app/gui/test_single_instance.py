from __future__ import annotations

from notewell.app.gui.single_instance import InstanceServer, ask_running_instance, instance_name


def test_a_second_launch_raises_the_first(qtbot, tmp_path):
    name = instance_name(tmp_path)
    assert name == instance_name(tmp_path) and name != instance_name(tmp_path / "other")
    assert not ask_running_instance(name, timeout_ms=200)
    raised: list[bool] = []
    server = InstanceServer(name, lambda: raised.append(True))
    try:
        assert ask_running_instance(name)
        qtbot.waitUntil(lambda: raised == [True])
    finally:
        server.close()
