"""Frame sources: video files, live streams and devices, recorded shifts."""
