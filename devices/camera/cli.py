"""``onewindow sim camera``: a virtual camera streamed as MJPEG on tcp://127.0.0.1:PORT, scene set from stdin."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from devices.camera.simulator import MjpegServer, VirtualCamera
from devices.common.console import RunningSimulator, run_simulator
from devices.common.control import ControlServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1 for the stream (default: any free)"
    )
    parser.add_argument("--width", type=int, default=640, help="frame width (default 640)")
    parser.add_argument("--height", type=int, default=480, help="frame height (default 480)")
    parser.add_argument("--fps", type=float, default=15.0, help="frames per second (default 15)")
    parser.add_argument("--show", metavar="TEXT", help="start showing a QR code of TEXT")
    parser.add_argument("--image", metavar="PATH", help="start showing an image file")
    parser.add_argument("--video", metavar="PATH", help="start playing a video file (looping)")
    parser.add_argument("--noise", type=float, default=0.0, help="sensor noise sigma (default 0)")


def start(args: argparse.Namespace, emit: Callable[[str], None]) -> RunningSimulator:
    camera = VirtualCamera(args.width, args.height, args.fps)
    if args.show:
        camera.show_text(args.show)
    if args.image:
        camera.show_image(args.image)
    if args.video:
        camera.show_video(args.video)
    if args.noise:
        camera.set_noise(args.noise)
    camera.on_event = emit  # after the start-up scene, so the first line printed is the stream URL
    server = MjpegServer(camera, port=args.port).start()
    control = ControlServer(camera.handle_control).start()
    return RunningSimulator(
        server.url, control.url, camera.handle_control, [camera.release, server.close, control.close]
    )


def run(args: argparse.Namespace) -> int:
    """Start the virtual camera and its stream, print the stream URL and the control URL, then take commands."""
    return run_simulator(start, args)
