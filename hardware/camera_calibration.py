"""Each camera's own calibration on the car: how far its mount is off, and its exposure.

A model was trained with its camera (or each camera of a stereo pair) exactly where the simulator put it.
A real camera sits a little off: pitched, rolled or turned by a degree or two, and the two cameras of a pair
expose differently. The calibration file (hardware/calibration.py) may therefore hold, per camera role
("front" for a one-camera car; "left" and "right" for a stereo pair), a `[camera.ROLE]` section:

    pitch_deg, roll_deg, yaw_deg  the mount's error against where the model expects the camera: looking
                                  further down, turned clockwise about its view (seen from behind), looking
                                  further left; the simulator's randomisation uses the same three angles
    gain                          brightness multiplier applied to its pictures in software
    exposure                      optional: the device's exposure, set through OpenCV at open (V4L2 devices)

`FrameCorrection` undoes a camera's mount and applies its gain to each frame at the model's resolution (a
rotation homography K M K^-1 over a picture of a few thousand pixels, then a lookup table), and
`estimate_right_camera` measures the right camera against the left one from one picture of each (ORB
features, matched, and a rotation fitted to them robustly with RANSAC, then with each point's own depth).
Rotations follow OpenCV's camera axes: x right, y down, z forward.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import cv2
import numpy as np

from racekit.hardware.errors import CalibrationError

ROLES = ("front", "left", "right")
MAX_ANGLE_DEG = 20.0  # a mount off by more is a typo or a broken bracket, not something to warp away
GAIN_RANGE = (0.25, 4.0)
DEFAULT_FOV_DEG = 120.0  # racekit's camera, for a model file whose metadata does not say
STEREO_BASELINE_M = 0.06  # DeepRacer Evo's pair, as the simulator places it (sim/camera.py's STEREO_BASELINE)


@dataclass(frozen=True)
class CameraCalibration:
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    yaw_deg: float = 0.0
    gain: float = 1.0
    exposure: float | None = None  # None: the driver's own (auto) exposure

    @property
    def turned(self) -> bool:
        return not self.pitch_deg == self.roll_deg == self.yaw_deg == 0.0

    @property
    def identity(self) -> bool:
        """Nothing to do to its frames (a device exposure is the camera's business, not the frame's)."""
        return not self.turned and self.gain == 1.0

    def rotation(self) -> np.ndarray:
        return mount_rotation(self.pitch_deg, self.roll_deg, self.yaw_deg)


# -- the file's sections -------------------------------------------------------------------------------------

def parse_cameras(raw: dict, where: str) -> dict[str, CameraCalibration]:
    """The `[camera.ROLE]` sections of a parsed calibration file (none: {}); CalibrationError names the
    file, the section and the field."""
    table = raw.get("camera")
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise CalibrationError(f"{where}: camera must be a section of [camera.ROLE] tables ({', '.join(ROLES)})")
    cameras = {}
    for role, values in table.items():
        section = f"[camera.{role}]"
        if role not in ROLES:
            raise CalibrationError(f"{where}: {section} is not a camera of the car (one of {', '.join(ROLES)})")
        if not isinstance(values, dict):
            raise CalibrationError(f"{where}: {section} must be a section of fields")
        known = {f.name for f in fields(CameraCalibration)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CalibrationError(f"{where}: {section} has no field {unknown[0]} (fields: {', '.join(sorted(known))})")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise CalibrationError(f"{where}: {section} {name} must be a number, got {value!r}")
        cameras[role] = validate_camera(CameraCalibration(**{k: float(v) for k, v in values.items()}),
                                        f"{where}: {section}")
    return cameras


def validate_camera(cal: CameraCalibration, where: str) -> CameraCalibration:
    for name in ("pitch_deg", "roll_deg", "yaw_deg"):
        value = getattr(cal, name)
        if not abs(value) <= MAX_ANGLE_DEG:
            raise CalibrationError(f"{where} {name} = {value:g} is outside -{MAX_ANGLE_DEG:g}..{MAX_ANGLE_DEG:g} "
                                   "degrees (a mount that far off needs fixing, not warping)")
    if not GAIN_RANGE[0] <= cal.gain <= GAIN_RANGE[1]:
        raise CalibrationError(f"{where} gain = {cal.gain:g} is outside {GAIN_RANGE[0]:g}..{GAIN_RANGE[1]:g}")
    if cal.exposure is not None and not (math.isfinite(cal.exposure) and cal.exposure > 0):
        raise CalibrationError(f"{where} exposure = {cal.exposure:g} must be a positive number (the driver's units)")
    return cal


def format_cameras(cameras: dict[str, CameraCalibration]) -> str:
    """The `[camera.ROLE]` sections' TOML text, in role order ("" for none)."""
    lines = ["# Each camera's mount error against where the model expects it, and its brightness:",
             "# `racekit car calibrate-cameras` measures the right camera of a pair against the left.", ""]
    for role in ROLES:
        cal = cameras.get(role)
        if cal is None:
            continue
        lines += [f"[camera.{role}]",
                  f"pitch_deg = {cal.pitch_deg:.3f}    # looks further down than the model expects",
                  f"roll_deg = {cal.roll_deg:.3f}    # turned clockwise about its view, seen from behind",
                  f"yaw_deg = {cal.yaw_deg:.3f}    # looks further left",
                  f"gain = {cal.gain:.3f}    # brightness multiplier applied to its pictures"]
        if cal.exposure is not None:
            lines.append(f"exposure = {cal.exposure:g}    # the device's exposure, set at open (V4L2 units)")
        lines.append("")
    return "\n".join(lines) if len(lines) > 3 else ""


# -- rotations -----------------------------------------------------------------------------------------------

def mount_rotation(pitch_deg: float, roll_deg: float, yaw_deg: float) -> np.ndarray:
    """M: the columns are a camera's own axes (x right, y down, z forward) in the axes of the camera the model
    expects, when its mount is turned by yaw (left), then pitched (down), then rolled (clockwise seen from
    behind) in that order, as sim/camera.py's camera_pose turns a jittered camera. A ray p in the camera's
    axes is M p in the expected camera's."""
    yaw, pitch, roll = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    up = np.array([0.0, -1.0, 0.0])
    forward = np.array([-math.sin(yaw), 0.0, math.cos(yaw)])
    right = np.array([math.cos(yaw), 0.0, math.sin(yaw)])  # forward x up
    forward, up = math.cos(pitch) * forward - math.sin(pitch) * up, math.sin(pitch) * forward + math.cos(pitch) * up
    up = math.cos(roll) * up + math.sin(roll) * right
    right = np.cross(forward, up)
    return np.stack([right, -up, forward], axis=1)


def mount_angles(m: np.ndarray) -> tuple[float, float, float]:
    """mount_rotation's inverse: (pitch_deg, roll_deg, yaw_deg) of a rotation matrix."""
    forward, up = m[:, 2], -m[:, 1]
    pitch = math.asin(max(-1.0, min(1.0, forward[1])))
    yaw = math.atan2(-forward[0], forward[2])
    # where mount_rotation's yaw and pitch put the right and up axes, before the roll turns up toward right
    right = np.array([math.cos(yaw), 0.0, math.sin(yaw)])
    pitched_up = math.sin(pitch) * np.array([-math.sin(yaw), 0.0, math.cos(yaw)]) + math.cos(pitch) * np.array(
        [0.0, -1.0, 0.0])
    roll = math.atan2(float(up @ right), float(up @ pitched_up))
    return math.degrees(pitch), math.degrees(roll), math.degrees(yaw)


def intrinsics(width: int, height: int, fov_deg: float) -> np.ndarray:
    """K of a pinhole with square pixels and a horizontal field of view (the simulator's camera), in OpenCV's
    pixel convention (pixel centres at integers)."""
    f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


# -- applying it ---------------------------------------------------------------------------------------------

class FrameCorrection:
    """One camera's calibration applied to its frames at the model's resolution: the picture it would have
    taken from the mount the model expects (K M K^-1), then its gain. Call it on a uint8 (H, W[, C]) frame."""

    def __init__(self, cal: CameraCalibration, width: int, height: int, fov_deg: float | None):
        self.cal = cal
        self.size = (width, height)
        k = intrinsics(width, height, fov_deg or DEFAULT_FOV_DEG)
        self.homography = k @ cal.rotation() @ np.linalg.inv(k) if cal.turned else None
        levels = np.arange(256, dtype=np.float64) * cal.gain
        self.lut = None if cal.gain == 1.0 else np.clip(np.rint(levels), 0, 255).astype(np.uint8)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        shape = frame.shape
        if self.homography is not None:
            # Replicated edges, not black ones: the model never saw a black strip along the picture's border.
            frame = cv2.warpPerspective(frame, self.homography, self.size, flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE)
        if self.lut is not None:
            frame = cv2.LUT(frame, self.lut)
        return frame.reshape(shape)


def frame_corrections(cameras: dict[str, CameraCalibration] | None, camera_spec) -> list[FrameCorrection | None]:
    """Per camera of a model's input (front; or left, right), its FrameCorrection, None where nothing is to do."""
    roles = ("left", "right") if camera_spec.cameras == 2 else ("front",)
    cameras = cameras or {}
    return [FrameCorrection(cameras[r], camera_spec.width, camera_spec.height, camera_spec.fov_deg)
            if r in cameras and not cameras[r].identity else None for r in roles]


# -- measuring it --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairEstimate:
    right: CameraCalibration  # the right camera's mount and gain (no exposure: that is the device's)
    matches: int  # features matched between the pictures
    inliers: int  # ... that agree with the fitted rotation
    rms_px: float  # how far they sit above or below where the fit puts them (what no depth explains), pixels
    parallax_deg: float  # the baseline's parallax at the scene's distance, taken out of the yaw


def _grey(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3 and img.shape[2] in (3, 4):  # BGR, or the BGRA some V4L2 drivers give
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    return img.reshape(img.shape[0], img.shape[1])


def _rays(points: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) -> rays (N, 3) with z = 1."""
    return np.c_[points, np.ones(len(points))] @ np.linalg.inv(k).T


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fit_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation Q with b ~ Q a for unit vectors (N, 3), least squares (Kabsch: one SVD)."""
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def ransac_rotation(a: np.ndarray, b: np.ndarray, threshold_rad: float, iterations: int = 400,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """fit_rotation robust to wrong matches: the rotation of 2 random matches that most others agree with
    (within threshold_rad), refitted to all that agree. Returns (Q, inlier mask)."""
    rng = np.random.default_rng(seed)  # seeded: the same pictures give the same calibration
    best = np.zeros(len(a), bool)
    cos_t = math.cos(threshold_rad)
    for _ in range(iterations):
        pick = rng.choice(len(a), 2, replace=False)
        q = fit_rotation(a[pick], b[pick])
        agree = np.einsum("ij,ij->i", a @ q.T, b) > cos_t
        if agree.sum() > best.sum():
            best = agree
    for _ in range(3):  # refit to the agreeing matches, which may take in a few more
        q = fit_rotation(a[best], b[best])
        best = np.einsum("ij,ij->i", a @ q.T, b) > cos_t
    return q, best


def refine_with_depths(left: np.ndarray, right: np.ndarray, q: np.ndarray, baseline_m: float, distance_m: float,
                       rounds: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The rotation again, each matched point at a depth of its own. `left`: rays (N, 3) with z = 1 in the
    axes the model expects of the left camera; `right`: the right camera's unit rays; q: a first guess.

    Seen from the right camera's place (baseline_m to the right) a point at depth Z sits baseline / Z further
    left, a sideways shift of its own for each point. Taken as one distance for all, a scene of many depths
    turns into false angles (a floor seen slanted, nearer at the bottom of the picture, into a roll). So,
    alternately: each point's inverse depth from its sideways disparity under the rotation so far, and the
    rotation fitted to the points so shifted. Their median is pinned to 1 / distance_m: a shift common to all
    points cannot be told from yaw, so that part of yaw rests on the distance given.
    Returns (Q, the inverse depths)."""
    for _ in range(rounds):
        turned = right @ q  # Q^T applied to each right ray: where the model expects it, before the baseline
        disparity = left[:, 0] - turned[:, 0] / turned[:, 2]
        inverse_depth = disparity / baseline_m
        inverse_depth += 1.0 / distance_m - np.median(inverse_depth)
        shifted = left.copy()
        shifted[:, 0] -= baseline_m * inverse_depth
        q = fit_rotation(_unit(shifted), right)
    return q, inverse_depth


def estimate_right_camera(left_img: np.ndarray, right_img: np.ndarray, fov_deg: float, *,
                          distance_m: float, baseline_m: float = STEREO_BASELINE_M,
                          left: CameraCalibration = CameraCalibration(), threshold_px: float = 2.0,
                          min_inliers: int = 30) -> PairEstimate:
    """The right camera's mount (relative to where the model expects it, taking the left camera's own
    calibration `left` as right) and its gain, from one picture of each of a still scene whose features lie
    about `distance_m` away (their median). CalibrationError when too little in the pictures matches.

    ORB features matched between the pictures; a rotation fitted to them with RANSAC, every point taken at
    distance_m; then refitted with each point at its own depth (refine_with_depths). Pitch and roll come
    from how the features move up and down, which the baseline does not touch; yaw also rests on
    distance_m: a distance off by a factor shifts it by about baseline * (1/Z - 1/distance), the less the
    farther the scene."""
    grey = [_grey(left_img), _grey(right_img)]
    if grey[0].shape != grey[1].shape:
        raise CalibrationError(f"the two cameras give pictures of different sizes: {grey[0].shape[::-1]} and "
                               f"{grey[1].shape[::-1]}")
    h, w = grey[0].shape
    k = intrinsics(w, h, fov_deg)
    orb = cv2.ORB_create(nfeatures=3000)
    (kp_l, des_l), (kp_r, des_r) = (orb.detectAndCompute(g, None) for g in grey)
    pairs = []
    if des_l is not None and des_r is not None and len(kp_l) >= 2 and len(kp_r) >= 2:
        for m in cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(des_l, des_r, k=2):
            if len(m) == 2 and m[0].distance < 0.8 * m[1].distance:  # Lowe's ratio test: a distinct best match
                pairs.append((kp_l[m[0].queryIdx].pt, kp_r[m[0].trainIdx].pt))
    if len(pairs) < min_inliers:
        raise CalibrationError(f"only {len(pairs)} features matched between the two cameras' pictures (need "
                               f"{min_inliers}): point the car at a still scene with texture a few metres away")
    pts = np.asarray(pairs, np.float64)
    rays_l = _rays(pts[:, 0], k) @ left.rotation().T  # in the axes the model expects of the left camera
    rays_l = rays_l / rays_l[:, 2:3]
    rays_r = _unit(_rays(pts[:, 1], k))
    at_distance = rays_l.copy()
    at_distance[:, 0] -= baseline_m / distance_m  # seen from the right camera's place, all at distance_m
    q, inliers = ransac_rotation(_unit(at_distance), rays_r, threshold_px / k[0, 0])
    if inliers.sum() < min_inliers:
        raise CalibrationError(f"only {inliers.sum()} of {len(pairs)} matched features agree on one rotation "
                               f"(need {min_inliers}): point the car at a still scene a few metres away")
    q, _ = refine_with_depths(rays_l[inliers], rays_r[inliers], q, baseline_m, distance_m)
    m_right = q.T  # the right camera's axes in the expected ones
    turned = rays_r[inliers] @ q
    off_row = (turned[:, 1] / turned[:, 2] - rays_l[inliers, 1]) * k[0, 0]  # what no depth explains, pixels
    pitch, roll, yaw = mount_angles(m_right)
    gain = left.gain * _brightness_ratio(grey[0], grey[1], k, left.rotation(), m_right)
    return PairEstimate(CameraCalibration(pitch, roll, yaw, gain), len(pairs), int(inliers.sum()),
                        float(np.sqrt(np.mean(off_row ** 2))), math.degrees(math.atan(baseline_m / distance_m)))


def _brightness_ratio(left: np.ndarray, right: np.ndarray, k: np.ndarray, m_left: np.ndarray,
                      m_right: np.ndarray) -> float:
    """mean(left) / mean(right) over what both see, each turned to the mount the model expects."""
    h, w = left.shape
    views, masks = [], []
    for img, m in ((left, m_left), (right, m_right)):
        hom = k @ m @ np.linalg.inv(k)
        views.append(cv2.warpPerspective(img, hom, (w, h)).astype(np.float64))
        masks.append(cv2.warpPerspective(np.full((h, w), 255, np.uint8), hom, (w, h)) == 255)
    both = masks[0] & masks[1]
    dark = views[1][both].mean()
    if dark < 1.0:
        raise CalibrationError("the right camera's picture is black: is its lens covered?")
    return float(views[0][both].mean() / dark)
