"""Front-camera renderers behind one interface: `render(pose, channels, boxes) -> uint8 (height, width, channels)`.

- `fast` (default): the ground as a perspective warp of the track texture, sky above the horizon,
  boxes as shaded polygons (sim/render/fast.py). No rasteriser, so it is several times quicker.
- `tiny`: PyBullet's TinyRenderer, the reference the fast one is tested against.
- `egl`: PyBullet's EGL plugin, hardware OpenGL where a GPU is present.
All three get the same light (sim/render/scene.py), so they agree on colours.
"""
from __future__ import annotations

from racekit.sim.render.scene import SKY, Box, CameraPose, Light

RENDERERS = ("fast", "tiny", "egl")


def make_renderer(name: str, client: int, ground_image, light: Light = Light(), sky=SKY):
    """The front camera's renderer `name` for a world's ground picture, light and sky colour (RGB, what shows
    above the horizon and past the ground)."""
    if name == "fast":
        from racekit.sim.render.fast import FastRenderer

        return FastRenderer(ground_image, light, sky=sky)
    if name in ("tiny", "egl"):
        from racekit.sim.render.pybullet_camera import PyBulletCamera

        return PyBulletCamera(client, light, egl=name == "egl", sky=sky)
    raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {name!r}")


__all__ = ["RENDERERS", "SKY", "Box", "CameraPose", "Light", "make_renderer"]
