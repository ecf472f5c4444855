#!/usr/bin/env python3
"""A real RTSP server for the tests: GStreamer's (Debian ``gir1.2-gst-rtsp-server-1.0``,
``python3-gst-1.0``) serving an H.264 MP4 over rtsp://127.0.0.1:PORT/cam.

Run with the *system* python (``/usr/bin/python3``): the GStreamer bindings (``gi``)
live there, not in the virtualenv. Usage: ``rtsp_server.py VIDEO.mp4 PORT``. Prints
``ready`` once it listens. Each client connection gets the video from its start, in
real time (the fixtures run 150 s: longer than any test's connection). Not looped with
``concat``: a media built with it cannot be prepared again for a second client.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def launch(video: str) -> str:
    return f'( filesrc location="{video}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'


def main() -> None:
    video, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch(video))
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
