"""The PyBullet world: one DIRECT client with the textured track on the ground, obstacles and the car.

Control and physics are separate on purpose: `step()` applies one control
command, then advances the physics by `substeps` fixed time steps. Nothing is
rendered during the physics; the front camera (`front_camera`, drawn by the
world's renderer, see sim/render/) reads the world between control steps.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace

import cv2
import numpy as np
import pybullet as p

from racekit.sim.camera import STEREO_BASELINE, CameraJitter, CameraSpec, camera_pose
from racekit.sim.car import Car, CarSpec
from racekit.sim.looks import look_ground, look_sky
from racekit.sim.render import Box, Light, make_renderer
from racekit.sim.texture import OBSTACLE

GROUND_TILE_M = 2.0  # the ground mesh is split in tiles so TinyRenderer never draws a huge triangle behind the eye
GROUND_FRICTION = 1.0
HORIZON_M = 12.0  # grass beyond the picture, so the camera never sees the edge of the world
OBSTACLE_HEIGHT = 0.2
# Physics steps per 15 Hz control step: the fewest that keep the car's behaviour (grip-limited slides at
# full lock, the expert's lap within 1% of 16 substeps'), measured by bench/physics_substeps.py.
SUBSTEPS = 6
PHYSICS_HZ = 15.0 * SUBSTEPS  # other control rates keep the same physics time step


class World:
    """A track, its ground and obstacles, and one car, in a private PyBullet client. `look` names how the ground
    and the sky look (sim/looks.py: "racekit", "deepracer")."""

    def __init__(self, track, car_spec: CarSpec = CarSpec(), control_hz: float = 15.0, substeps: int = SUBSTEPS,
                 solver_iterations: int = 10, renderer: str = "fast", light: Light = Light(), look: str = "racekit"):
        sky = look_sky(look)  # checks the name before anything is built
        self.track = track
        self.control_dt = 1.0 / control_hz
        self.substeps = substeps
        self.sim_time = 0.0
        self.client = p.connect(p.DIRECT)
        p.setGravity(0, 0, -9.81, physicsClientId=self.client)
        # one stepSimulation call advances one control period in `substeps` fixed physics steps (PyBullet
        # subdivides it itself: the same steps as calling it `substeps` times, without the calls' overhead)
        p.setPhysicsEngineParameter(fixedTimeStep=self.control_dt, numSubSteps=substeps,
                                    numSolverIterations=solver_iterations,
                                    physicsClientId=self.client)
        self.look = look
        self.ground_image = look_ground(track, look)
        self.ground = self._make_ground()
        self.standing: list[Box] = []  # what stands on the ground, as the fast renderer draws it
        self.bodies: list[int] = []  # ... and as PyBullet bodies, one per box
        for x, y, size in track.obstacles:
            self.add_box(Box((x, y, OBSTACLE_HEIGHT / 2), (size / 2, size / 2, OBSTACLE_HEIGHT / 2), 0.0, OBSTACLE))
        self._textures: dict = {}  # the ground textures loaded for looks (set_scene), by key
        self.scenery: list[Box] = []  # seen but not solid: distractors beside the track (add_scenery)
        self._scenery_bodies: list[int] = []
        self.camera_jitter: CameraJitter | None = None  # a mount off by a little (sim/randomizer.py)
        self.right_camera_jitter: CameraJitter | None = None  # a stereo pair's right camera's own; None: the same
        self.car = Car(self.client, car_spec)
        self.renderer = make_renderer(renderer, self.client, self.ground_image, light, sky)

    def _make_ground(self) -> int:
        img = self.ground_image
        width_m, height_m = img.size_m
        nx, ny = max(1, round(width_m / GROUND_TILE_M)), max(1, round(height_m / GROUND_TILE_M))
        # tiles over the picture, plus an outer ring out to the horizon whose clamped (u, v) repeat the grass edge
        u = np.concatenate([[-HORIZON_M / width_m], np.linspace(0, 1, nx + 1), [1 + HORIZON_M / width_m]])
        v = np.concatenate([[-HORIZON_M / height_m], np.linspace(0, 1, ny + 1), [1 + HORIZON_M / height_m]])
        uu, vv = np.meshgrid(u, v)
        vertices = np.stack([img.xmin + uu * width_m, img.ymin + vv * height_m, np.zeros_like(uu)], -1).reshape(-1, 3)
        cols, rows = len(u), len(v)
        corners = (np.arange(rows - 1)[:, None] * cols + np.arange(cols - 1)[None, :]).ravel()
        a, b, c, d = corners, corners + 1, corners + cols, corners + cols + 1
        indices = np.stack([a, b, d, a, d, c], -1).ravel()
        uvs = np.stack([np.clip(uu, 0, 1).ravel(), np.clip(vv, 0, 1).ravel()], -1)
        visual = p.createVisualShape(p.GEOM_MESH, vertices=vertices.tolist(), indices=indices.tolist(),
                                     uvs=uvs.tolist(), normals=[[0, 0, 1]] * len(vertices),
                                     physicsClientId=self.client)
        collision = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=self.client)
        ground = p.createMultiBody(0, collision, visual, physicsClientId=self.client)
        p.changeDynamics(ground, -1, lateralFriction=GROUND_FRICTION, physicsClientId=self.client)
        p.changeVisualShape(ground, -1, textureUniqueId=self._load_texture(img.image), physicsClientId=self.client)
        return ground

    def _load_texture(self, rgb: np.ndarray) -> int:
        fd, path = tempfile.mkstemp(suffix=".png", prefix="racekit-ground-")
        os.close(fd)
        try:  # PyBullet loads textures from files only
            cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            return p.loadTexture(path, physicsClientId=self.client)
        finally:
            os.remove(path)

    def set_scene(self, image: np.ndarray, light: Light, key=None) -> None:
        """Another look of the ground (RGB on ground_image's pixel grid) and another light, for the renderer.

        The fast renderer reads the picture. PyBullet's renderers (tiny, egl) read the ground's texture, so a
        new picture is loaded as a new one: PyBullet never frees a texture (bullet3 issue 2216; changeTexture
        does not reach TinyRenderer), about 9 MB on a DeepRacer-size track, so a picture with a `key` already
        seen (a sim.looks.Look) reuses its texture. The chase view (TinyRenderer's) shows the new look only
        with a PyBullet renderer."""
        if image is not self.ground_image.image:
            if image.shape != self.ground_image.image.shape:
                raise ValueError(f"a new ground picture must be {self.ground_image.image.shape}, got {image.shape}")
            self.ground_image.image = image
            if self.renderer.name != "fast":
                texture = self._textures.get(key) if key is not None else None
                if texture is None:
                    texture = self._load_texture(image)
                    if key is not None:
                        self._textures[key] = texture
                p.changeVisualShape(self.ground, -1, textureUniqueId=texture, physicsClientId=self.client)
        self.renderer.set_scene(image, light)

    def add_box(self, box: Box) -> int:
        """A box standing on the ground (an obstacle, a bot car): a body the car can hit, seen by every renderer.
        Returns its index for `move_box`."""
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=list(box.half), physicsClientId=self.client)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=list(box.half), rgbaColor=[c / 255 for c in box.rgb] + [1],
                                  physicsClientId=self.client)
        orn = p.getQuaternionFromEuler([0, 0, box.yaw])
        self.bodies.append(p.createMultiBody(0, col, vis, list(box.centre), orn, physicsClientId=self.client))
        self.standing.append(box)
        return len(self.bodies) - 1

    def move_box(self, index: int, x: float, y: float, yaw: float) -> None:
        """Put box `index` somewhere else (bots are driven kinematically, not simulated)."""
        box = self.standing[index]
        self.standing[index] = Box((x, y, box.centre[2]), box.half, yaw, box.rgb)
        p.resetBasePositionAndOrientation(self.bodies[index], [x, y, box.centre[2]],
                                          p.getQuaternionFromEuler([0, 0, yaw]), physicsClientId=self.client)

    def add_scenery(self, box: Box) -> int:
        """A box that every renderer draws but nothing hits (no collision shape) and no object list holds:
        scenery beside the track. Returns its index for `move_scenery`."""
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=list(box.half), rgbaColor=[c / 255 for c in box.rgb] + [1],
                                  physicsClientId=self.client)
        orn = p.getQuaternionFromEuler([0, 0, box.yaw])
        self._scenery_bodies.append(p.createMultiBody(0, -1, vis, list(box.centre), orn, physicsClientId=self.client))
        self.scenery.append(box)
        return len(self.scenery) - 1

    def move_scenery(self, index: int, x: float, y: float, yaw: float, rgb=None, z: float | None = None) -> None:
        """Put scenery box `index` elsewhere (its centre at height `z` if given), in colour `rgb` if given."""
        box = self.scenery[index]
        body = self._scenery_bodies[index]
        if rgb is not None and tuple(rgb) != box.rgb:
            p.changeVisualShape(body, -1, rgbaColor=[c / 255 for c in rgb] + [1], physicsClientId=self.client)
        z = box.centre[2] if z is None else z
        self.scenery[index] = Box((x, y, z), box.half, yaw, tuple(rgb) if rgb is not None else box.rgb)
        p.resetBasePositionAndOrientation(body, [x, y, z], p.getQuaternionFromEuler([0, 0, yaw]),
                                          physicsClientId=self.client)

    def reset_car(self, x: float, y: float, yaw: float) -> None:
        """Start anew: the car at rest at (x, y, yaw) and the clock at zero."""
        self.place_car(x, y, yaw)
        self.sim_time = 0.0

    def place_car(self, x: float, y: float, yaw: float) -> None:
        """Put the car down at rest at (x, y, yaw); the clock goes on (a race's reset)."""
        self.car.reset(x, y, yaw)
        # let the suspensionless car settle on its wheels before the first frame
        p.stepSimulation(physicsClientId=self.client)
        self.car.moved()

    def step(self, steering_deg: float, speed: float) -> None:
        """Apply one control command and advance the simulated time by one control period."""
        self.car.command(steering_deg, speed)
        p.stepSimulation(physicsClientId=self.client)
        self.car.moved()
        self.sim_time += self.control_dt

    def front_camera(self, spec: CameraSpec) -> np.ndarray:
        """What the car's front camera sees now: uint8 (height, width, channels). The car never sees itself."""
        return self._render(spec, camera_pose(self.car, spec, self.camera_jitter))

    def stereo_cameras(self, spec: CameraSpec) -> np.ndarray:
        """What the car's stereo pair sees now, each camera STEREO_BASELINE / 2 beside the front camera's place
        and each with its own mount jitter: uint8 (height, width, 2), grey left then grey right (DeepRacer's)."""
        grey = replace(spec, channels=1)
        right_jitter = self.right_camera_jitter or self.camera_jitter
        left = self._render(grey, camera_pose(self.car, grey, self.camera_jitter, STEREO_BASELINE / 2))
        right = self._render(grey, camera_pose(self.car, grey, right_jitter, -STEREO_BASELINE / 2))
        return np.concatenate([left, right], axis=2)

    def _render(self, spec: CameraSpec, pose) -> np.ndarray:
        boxes = self.standing + self.scenery if self.scenery else self.standing
        return self.renderer.render(pose, spec.channels, boxes)

    def crashed(self) -> bool:
        return bool(self.bodies) and self.car.touching(self.bodies)

    def close(self) -> None:
        if self.client >= 0:
            p.disconnect(self.client)
            self.client = -1
