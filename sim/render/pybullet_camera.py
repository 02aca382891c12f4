"""The front camera drawn by PyBullet itself: TinyRenderer (CPU, the reference) or the EGL plugin (GPU).

Boxes need no drawing here: obstacles and cars are bodies in the PyBullet world.
"""
from __future__ import annotations

import pkgutil

import numpy as np
import pybullet as p

from racekit.sim.render.scene import FAR, NEAR, SKY, CameraPose, Light


class PyBulletCamera:
    def __init__(self, client: int, light: Light = Light(), egl: bool = False, sky=SKY):
        self.client = client
        self.light = light
        # PyBullet clears to white; another sky colour is painted where no body is (its segmentation mask)
        self.sky_rgb = tuple(sky)
        self._sky = None if self.sky_rgb == SKY else np.array(sky, np.uint8)
        self.name = "egl" if egl else "tiny"
        self.renderer = p.ER_TINY_RENDERER
        if egl:
            load_egl(client)
            self.renderer = p.ER_BULLET_HARDWARE_OPENGL

    def set_scene(self, rgb: np.ndarray, light: Light) -> None:
        self.light = light  # the ground texture is the world's own; a new look reloads it there

    def render(self, pose: CameraPose, channels: int, boxes=()) -> np.ndarray:
        rgb = render_rgb(self.client, pose.eye, pose.eye + pose.forward, pose.up, pose.width, pose.height,
                         pose.vertical_fov_deg, self.light, self.renderer, sky=self._sky)
        if channels == 1:
            return gray(rgb)[:, :, None]
        return rgb


def gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def render_rgb(client: int, eye, target, up, width: int, height: int, vertical_fov_deg: float,
               light: Light = Light(), renderer: int = p.ER_TINY_RENDERER, sky=None) -> np.ndarray:
    """An RGB uint8 image (height, width, 3) seen from `eye` towards `target`; with `sky` (RGB), that colour
    where no body is seen instead of PyBullet's white."""
    view = p.computeViewMatrix(list(eye), list(target), list(up))
    proj = p.computeProjectionMatrixFOV(vertical_fov_deg, width / height, NEAR, FAR)
    _, _, rgba, _, seg = p.getCameraImage(width, height, view, proj, renderer=renderer,
                                          flags=p.ER_NO_SEGMENTATION_MASK if sky is None else 0, shadow=0,
                                          lightDirection=light.unit.tolist(), lightAmbientCoeff=light.ambient,
                                          lightDiffuseCoeff=light.diffuse, lightSpecularCoeff=0.0,
                                          physicsClientId=client)
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]
    if sky is not None:
        rgb = rgb.copy()
        rgb[np.asarray(seg).reshape(height, width) < 0] = sky
    return rgb


def load_egl(client: int) -> None:
    """PyBullet's EGL plugin (hardware OpenGL without a display); a clear error where it cannot run."""
    egl = pkgutil.get_loader("eglRenderer")
    path = egl.get_filename() if egl is not None else None
    plugin = p.loadPlugin(path, "_eglRendererPlugin", physicsClientId=client) if path else -1
    if plugin < 0:
        raise RuntimeError("renderer 'egl': PyBullet's EGL plugin could not be loaded (it needs a GPU with EGL "
                           "drivers); use renderer='fast' or 'tiny'")
