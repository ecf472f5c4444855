"""Where and how the box talks MQTT: the settings (from the config or ``--mqtt URL``) and the
paho client they make, with the last will, TLS and reconnect timing set up front."""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt

from edge.app.config import MqttConfig
from edge.errors import InvalidInput


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    site: str = "site"
    client_id: str = ""
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive: int = 30
    max_inflight: int = 20
    reconnect_min_s: float = 0.5  # paho's reconnect delay doubles from here...
    reconnect_max_s: float = 1.0  # ...up to this: delivery resumes within ~1 s of the broker answering

    @classmethod
    def from_url(cls, url: str, site: str, **kw) -> "MqttSettings":
        """``mqtt://[USER:PASS@]HOST:PORT`` (``mqtts://`` for TLS with the system CAs)."""
        u = urlparse(url)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise InvalidInput(f"--mqtt {url!r}: expected mqtt://[USER:PASS@]HOST:PORT")
        try:
            port = u.port or (8883 if u.scheme == "mqtts" else 1883)
        except ValueError:
            raise InvalidInput(f"--mqtt {url!r}: the port must be a number") from None
        return cls(host=u.hostname, port=port, username=unquote(u.username) if u.username else None,
                   password=unquote(u.password) if u.password else None, site=site,
                   ca_file=kw.pop("ca_file", None) or (ssl.get_default_verify_paths().cafile if u.scheme == "mqtts"
                                                         else None), **kw)

    @classmethod
    def from_config(cls, m: MqttConfig, site: str, client_id: str) -> "MqttSettings":
        """A config's ``mqtt`` section; ``client_id``: its own, or the box's stable default."""
        return cls(host=m.host, port=m.port, username=m.username, password=m.resolved_password(), site=site,
                   client_id=client_id, ca_file=m.ca_file, cert_file=m.cert_file, key_file=m.key_file)

    @property
    def status_topic(self) -> str:
        return f"traycheck/{self.site}/status"

    @property
    def health_topic(self) -> str:
        return f"traycheck/{self.site}/health"


def paho_client(settings: MqttSettings, persistent: bool) -> mqtt.Client:
    """A paho 2.x client for ``settings``. ``persistent``: the box subscribes (POS orders), so the
    broker keeps its session and messages are acknowledged by hand, once stored."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id, clean_session=not persistent,
                    manual_ack=persistent)
    if settings.username:
        c.username_pw_set(settings.username, settings.password)
    if settings.ca_file or settings.cert_file:
        c.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file)
    c.will_set(settings.status_topic, "offline", qos=1, retain=True)
    c.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)  # type: ignore[arg-type]
    c.max_inflight_messages_set(settings.max_inflight)
    return c
