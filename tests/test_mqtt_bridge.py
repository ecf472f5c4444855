"""The Mosquitto bridge example of deploy/ really forwards: a restaurant broker bridged
to a "central" broker (both real Mosquitto on loopback) with the example's topic rules."""
from __future__ import annotations

import re
import time

import paho.mqtt.client as mqtt

from tests.conftest import ROOT
from tests.mqtt_helpers import Broker, Collector

EXAMPLE = ROOT / "deploy" / "mosquitto-bridge.conf.example"


def test_bridge_example_forwards_traycheck_topics_under_the_chain_prefix(tmp_path):
    (tmp_path / "central").mkdir()
    central = Broker(tmp_path / "central")
    central.start()
    text = EXAMPLE.read_text()
    # the example as an operator would fill it in, pointed at the loopback "central" broker without TLS
    text = re.sub(r"^address .*$", f"address 127.0.0.1:{central.port}", text, flags=re.M)
    text = re.sub(r"^(bridge_cafile|remote_username|remote_password) .*$", "", text, flags=re.M)
    (tmp_path / "shop").mkdir()
    shop = Broker(tmp_path / "shop")
    shop.conf.write_text(shop.conf.read_text() + text)
    shop.start()
    collector = Collector(central.port, topic="chains/ACME/traycheck/#")
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="traycheck-test")
        pub.connect("127.0.0.1", shop.port)
        pub.loop_start()
        time.sleep(1.0)  # the bridge connects
        pub.publish("traycheck/resto-1/expo-1/alert", '{"verdict": "mismatch"}', qos=1).wait_for_publish(5)
        pub.publish("other/topic", "not forwarded", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        alerts = lambda: [m for m in collector.messages if not m[0].endswith("/bridge")]  # noqa: E731
        while time.monotonic() < deadline and not alerts():
            time.sleep(0.1)
        pub.loop_stop()
        time.sleep(0.5)
        assert alerts() == [("chains/ACME/traycheck/resto-1/expo-1/alert", '{"verdict": "mismatch"}')]
        # the centre also sees whether each restaurant's bridge is up (1) or down (0)
        assert ("chains/ACME/traycheck/RESTO-1/bridge", "1") in collector.messages
    finally:
        collector.client.loop_stop()
        shop.stop()
        central.stop()
