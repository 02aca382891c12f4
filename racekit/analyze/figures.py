"""The report's figures (matplotlib, Agg), each returned as PNG bytes.

Track maps are the simulator's own ground picture (sim/texture.py draw_track), faded so what is drawn on them
stands out, in world metres (x right, y up), so trace positions go on them as they are.
"""
from __future__ import annotations

import io

import numpy as np

STATUS_STYLE = {  # episode ends: marker, colour, label
    "off_track": ("X", "#d62728", "off track"),
    "crashed": ("D", "#f2c500", "crashed"),
    "reversed": ("v", "#c51bcb", "driving backwards"),
    "immobilized": ("s", "#1f5fd6", "stuck"),
    "time_up": ("o", "#7f7f7f", "step cap"),
}
DPI = 90


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()


class TrackMap:
    """The track's ground picture and its extent in metres, drawn under the map figures."""

    def __init__(self, track, max_side_px: int = 720, fade: float = 0.45):
        from racekit.sim.texture import draw_track

        xmin, ymin, xmax, ymax = track.bounds(0.6)
        canvas = draw_track(track, px_per_m=max_side_px / max(xmax - xmin, ymax - ymin), margin=0.6)
        image = canvas.image.astype(float)
        self.image = (image + (255.0 - image) * fade).astype(np.uint8)
        width, height = canvas.size_m
        self.extent = (canvas.xmin, canvas.xmin + width, canvas.ymin, canvas.ymin + height)
        self.track = track
        self.aspect = height / width

    def draw(self, ax) -> None:
        ax.imshow(self.image, extent=self.extent, origin="upper", interpolation="bilinear")
        ax.set_xlim(self.extent[:2])
        ax.set_ylim(self.extent[2:])
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])

    def figsize(self, width: float) -> tuple[float, float]:
        return width, max(2.5, width * self.aspect)


def reward_map(tmap: TrackMap, mean: np.ndarray, counts: np.ndarray) -> bytes:
    """Mean reward at each waypoint on the map, and the same along the lap as bars."""
    plt = pyplot()
    fig = plt.figure(figsize=(13, 5.2))
    grid = fig.add_gridspec(1, 2, width_ratios=[1.15, 1])
    ax = fig.add_subplot(grid[0])
    tmap.draw(ax)
    wp = tmap.track.waypoints
    seen = counts > 0
    ax.scatter(wp[~seen, 0], wp[~seen, 1], s=10, color="#b0b0b0", edgecolors="#606060", linewidths=0.5,
               label="no steps here")
    points = ax.scatter(wp[seen, 0], wp[seen, 1], c=mean[seen], s=34, cmap="viridis", edgecolors="black",
                        linewidths=0.3)
    fig.colorbar(points, ax=ax, shrink=0.8, label="mean reward per step")
    ax.plot(*wp[0], marker=">", color="white", markeredgecolor="black", markersize=11, linestyle="none")
    ax.set_title("mean reward of the steps nearest each waypoint")
    if (~seen).any():
        ax.legend(loc="lower right", fontsize=8)
    bars = fig.add_subplot(grid[1])
    index = np.arange(len(mean))
    bars.bar(index[seen], mean[seen], width=1.0, color=plt.get_cmap("viridis")(_unit(mean[seen])))
    bars.set(xlabel="waypoint (0 = start line)", ylabel="mean reward per step", xlim=(-0.5, len(mean) - 0.5))
    steps = bars.twinx()
    steps.plot(index, counts, color="#444444", linewidth=0.8, alpha=0.6)
    steps.set_ylabel("steps (grey line)")
    bars.grid(alpha=0.3)
    bars.set_title("along the lap")
    fig.tight_layout()
    return png(fig)


def _unit(values: np.ndarray) -> np.ndarray:
    lo, hi = (float(np.min(values)), float(np.max(values))) if len(values) else (0.0, 1.0)
    return (values - lo) / (hi - lo) if hi > lo else np.full(len(values), 0.5)


def nearest_action(table: np.ndarray, steer: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """The index in a discrete action list of each (steering, speed) row, as the sim-trace's action column has it."""
    if not len(steer):
        return np.zeros(0, int)
    return np.argmin(np.abs(table[None, :, 0] - steer[:, None]) + np.abs(table[None, :, 1] - speed[:, None]), axis=1)


def action_histogram(panels: list[tuple[str, np.ndarray, np.ndarray]], actions: dict) -> bytes:
    """Steering by speed: a 2-D histogram per panel (title, steering, speed); discrete: one bubble per action."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    for ax, (title, steer, speed) in zip(axes[0], panels):
        if actions["type"] == "discrete":
            table = np.array(actions["actions"], float)
            index = nearest_action(table, steer, speed)
            share = np.bincount(index, minlength=len(table)) / max(1, len(index))
            ax.scatter(table[:, 0], table[:, 1], s=40 + 3000 * share, c=share, cmap="magma_r", vmin=0,
                       vmax=max(share.max(), 1e-6), edgecolors="black", linewidths=0.5)
            for i, ((st, sp), p) in enumerate(zip(table, share)):
                ax.annotate(f"{i}: {100 * p:.0f}%", (st, sp), textcoords="offset points", xytext=(0, 12 + 20 * p ** .5),
                            ha="center", fontsize=8)
            pad_x = max(2.0, 0.12 * np.ptp(table[:, 0]))
            pad_y = max(0.2, 0.25 * np.ptp(table[:, 1]))
            ax.set_xlim(table[:, 0].min() - pad_x, table[:, 0].max() + pad_x)
            ax.set_ylim(table[:, 1].min() - pad_y, table[:, 1].max() + 2 * pad_y)
        else:
            (s_lo, s_hi), (v_lo, v_hi) = actions["steering_deg"], actions["speed_mps"]
            bins = [np.linspace(s_lo, s_hi, 25), np.linspace(v_lo, v_hi, 15)]
            _, _, _, image = ax.hist2d(steer, speed, bins=bins, cmap="magma_r", cmin=1)
            fig.colorbar(image, ax=ax, label="steps")
        ax.set(xlabel="steering, degrees (+ = left)", ylabel="speed, m/s", title=f"{title}: {len(steer)} steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return png(fig)


def sections_figure(tmap: TrackMap, section: np.ndarray, steer: np.ndarray, speed: np.ndarray, actions: dict,
                    sections: int) -> bytes:
    """The lap in `sections` equal lengths on the map, and the actions taken in each."""
    plt = pyplot()
    track = tmap.track
    fig = plt.figure(figsize=(15, 4.8))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1.2, 1.2])
    ax = fig.add_subplot(grid[0])
    tmap.draw(ax)
    colours = plt.get_cmap("tab10")(np.arange(sections) % 10)
    for k in range(sections):
        s = np.linspace(k, k + 1, 40) * track.length / sections
        xy = track.point_at(np.minimum(s, track.length - 1e-6))
        ax.plot(xy[:, 0], xy[:, 1], color=colours[k], linewidth=5, alpha=0.8, solid_capstyle="butt")
        mid = track.point_at((k + 0.5) * track.length / sections)
        ax.text(mid[0], mid[1], str(k + 1), ha="center", va="center", fontsize=11, weight="bold",
                bbox={"boxstyle": "circle", "facecolor": "white", "edgecolor": colours[k]})
    ax.set_title(f"the lap in {sections} sections")
    labels = [str(k + 1) for k in range(sections)]
    if actions["type"] == "discrete":
        table = np.array(actions["actions"], float)
        index = nearest_action(table, steer, speed)
        shares = np.zeros((sections, len(table)))
        for k in range(sections):
            mine = index[section == k]
            if len(mine):
                shares[k] = np.bincount(mine, minlength=len(table)) / len(mine)
        bars = fig.add_subplot(grid[1:])
        left = np.zeros(sections)
        cmap = plt.get_cmap("coolwarm")
        steer_unit, speed_unit = _unit(table[:, 0]), _unit(table[:, 1])
        for i, (st, sp) in enumerate(table):
            colour = np.array(cmap(steer_unit[i]))
            colour[:3] += (1.0 - colour[:3]) * 0.55 * (1.0 - speed_unit[i])  # paler = slower
            bars.barh(labels, shares[:, i] * 100, left=left * 100, color=colour, edgecolor="white",
                      label=f"{i}: {st:+.0f} deg, {sp:.1f} m/s")
            left += shares[:, i]
        bars.invert_yaxis()
        bars.set(xlabel="share of the section's steps, %", ylabel="section", xlim=(0, 100),
                 title="discrete actions per section (blue = right, red = left; paler = slower)")
        bars.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        for position, values, name in ((1, steer, "steering, degrees (+ = left)"), (2, speed, "speed, m/s")):
            box = fig.add_subplot(grid[position])
            data = [values[section == k] for k in range(sections)]
            shown = [d if len(d) else np.array([np.nan]) for d in data]
            parts = box.boxplot(shown, tick_labels=labels, patch_artist=True, showfliers=False, widths=0.6)
            for patch, colour in zip(parts["boxes"], colours):
                patch.set_facecolor(colour)
                patch.set_alpha(0.6)
            box.set(xlabel="section", ylabel=name, title=f"{name.split(',')[0]} per section")
            box.grid(alpha=0.3)
    fig.tight_layout()
    return png(fig)


def progress_figure(iterations, evaluations: list[tuple[float, dict]]) -> bytes:
    """Per sim-trace iteration: mean progress, lap completion rate, lap times; evaluations at their place."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    x = iterations.number
    style = "o-" if len(x) <= 60 else "-"
    axes[0].plot(x, iterations.mean_progress, style, color="tab:green", markersize=4)
    axes[0].set(title="mean progress of ended episodes, %", ylim=(0, 105))
    axes[1].plot(x, iterations.completion, style, color="tab:blue", markersize=4, label="training episodes")
    axes[1].set(title="lap completion rate, %", ylim=(-3, 105))
    for it, times in zip(x, iterations.lap_times):
        axes[2].plot([it] * len(times), times, ".", color="tab:blue", alpha=0.6)
    best = [min(t) if t else np.nan for t in iterations.lap_times]
    if np.isfinite(best).any():
        axes[2].plot(x, best, "-", color="tab:blue", alpha=0.5, label="training laps (line: best)")
    axes[2].set(title="lap times, s")
    placed = [(pos, r) for pos, r in evaluations if np.isfinite(pos)]
    for k, (pos, result) in enumerate(placed):
        for ax in axes:
            ax.axvline(pos, color="tab:red", alpha=0.25, linestyle="--", label="evaluation" if k == 0 else None)
        if isinstance(result.get("completion"), (int, float)):
            axes[1].plot(pos, result["completion"], "D", color="tab:red", markersize=6,
                         label="evaluation completion" if k == 0 else None)
        times = result.get("lap_times") or []
        axes[2].plot([pos] * len(times), times, "D", color="tab:red", markersize=5,
                     label="evaluation laps" if k == 0 else None)
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if len(x):
            ax.set_xlim(x[0] - 0.5, x[-1] + 0.5)
        if len(x) <= 20:
            ax.set_xticks(x)
    for ax in axes[1:]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return png(fig)


def metrics_figure(rows: list[dict], results: list[dict]) -> bytes:
    """metrics.csv per PPO update: mean return, mean progress, laps; evaluations' mean lap times."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.0))
    steps = [r["global_step"] for r in rows]

    def column(name):
        return [np.nan if r.get(name) is None else r[name] for r in rows]

    style = "o-" if len(steps) <= 60 else "-"
    axes[0].plot(steps, column("mean_return"), style, markersize=3, color="tab:blue")
    axes[0].set(title="mean episode return per update")
    axes[1].plot(steps, column("mean_progress"), style, markersize=3, color="tab:green")
    axes[1].set(title="mean lap progress per update, %", ylim=(0, 105))
    axes[2].bar(steps, column("laps"), width=max(1, (steps[-1] - steps[0]) / max(1, len(steps)) * 0.6)
                if len(steps) > 1 else 1, color="tab:purple", alpha=0.5, label="training laps per update")
    axes[2].set(title="laps per update; evaluations' mean lap s")
    axes[2].set_ylim(0, 1.1 * max([1.0] + [v for v in column("laps") if np.isfinite(v)]))
    timed = [r for r in results if isinstance(r.get("mean_lap_time"), (int, float))]
    if timed:
        laps = axes[2].twinx()
        laps.plot([r["global_step"] for r in timed], [r["mean_lap_time"] for r in timed], "D", color="tab:red",
                  label="evaluation mean lap, s")
        laps.set_ylabel("evaluation mean lap, s", color="tab:red")
    for r in results:
        for ax in axes:
            ax.axvline(r.get("global_step", np.nan), color="tab:red", alpha=0.2, linestyle="--")
    for ax in axes:
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return png(fig)


def laps_figure(tmap: TrackMap, laps: list, top_speed: float) -> bytes:
    """Each lap's route on its own map, coloured by the commanded speed; where it was put back, marked."""
    plt = pyplot()
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    width = 5.2
    fig, axes = plt.subplots(1, len(laps), figsize=(width * len(laps), width * tmap.aspect + 0.9), squeeze=False)
    norm = Normalize(0.0, max(top_speed, 1e-3))
    line = None
    for ax, lap in zip(axes[0], laps):
        tmap.draw(ax)
        xy = np.column_stack([lap.x, lap.y])
        segments = np.stack([xy[:-1], xy[1:]], axis=1)
        line = LineCollection(segments, cmap="turbo", norm=norm, linewidths=2.6)
        line.set_array(lap.speed[1:])
        ax.add_collection(line)
        for x, y, status in lap.resets:
            marker, colour, _ = STATUS_STYLE.get(status, STATUS_STYLE["off_track"])
            ax.plot(x, y, marker=marker, color=colour, markeredgecolor="black", markersize=9, linestyle="none")
        clean = "clean" if lap.offtracks == 0 else f"{lap.offtracks} off-track{'s' if lap.offtracks != 1 else ''}"
        ax.set_title(f"{lap.time:.2f} s, {clean}\n{lap.label}", fontsize=10)
    if line is not None:
        fig.colorbar(line, ax=axes[0].tolist(), orientation="horizontal", fraction=0.06, pad=0.04,
                     label="commanded speed, m/s")
    return png(fig)


def ends_figure(tmap: TrackMap, ends: list[tuple[float, float, str, int]], resets: list[tuple[float, float, str, int]],
                sections: int) -> bytes:
    """Where training episodes ended (filled markers) and where races put the car back (hollow), on the map;
    their count per section of the lap beside it. Entries: (x, y, status, section)."""
    plt = pyplot()
    fig = plt.figure(figsize=(13, 5.2))
    grid = fig.add_gridspec(1, 2, width_ratios=[1.2, 1])
    ax = fig.add_subplot(grid[0])
    tmap.draw(ax)
    size, alpha = (46, 0.85) if len(ends) <= 300 else (14, 0.35)  # thousands of ends: a density
    for status, (marker, colour, label) in STATUS_STYLE.items():
        pts = [(x, y) for x, y, s, _ in ends if s == status]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, color=colour, edgecolors="black", linewidths=0.4, s=size,
                       alpha=alpha, label=f"{label} ({len(pts)})")
        pts = [(x, y) for x, y, s, _ in resets if s == status]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, facecolors="none", edgecolors=colour, linewidths=1.6, s=60,
                       label=f"{label}, evaluation ({len(pts)})")
    if ends or resets:
        ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    ax.set_title("where episodes ended (hollow: evaluations' put-backs)")
    bars = fig.add_subplot(grid[1])
    labels = [str(k + 1) for k in range(sections)]
    bottom = np.zeros(sections)
    for status, (_, colour, label) in STATUS_STYLE.items():
        counts = np.bincount([k for *_, s, k in ends + resets if s == status], minlength=sections)[:sections]
        if counts.any():
            bars.bar(labels, counts, bottom=bottom, color=colour, label=label, edgecolor="white")
            bottom += counts
    bars.set(xlabel="section of the lap (as in Actions)", ylabel="episode ends and put-backs",
             title="per section")
    if bottom.any():
        bars.legend(fontsize=8)
    bars.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return png(fig)


def saliency_figure(frames: list, method: str) -> bytes:
    """Per place: the camera frame (what the model sees, the newest of its stack) above the same frame with the
    heat map over it."""
    from racekit.analyze.saliency import overlay, upscaled

    plt = pyplot()
    n = len(frames)
    columns = min(n, 3)
    rows = (n + columns - 1) // columns
    cells = []
    for f in frames:
        view, hot = upscaled(f.frame), overlay(f.frame, f.heat)
        gap = np.full((max(4, view.shape[0] // 40), view.shape[1], 3), 150, np.uint8)
        cells.append(np.vstack([view, gap, hot]))
    height, width = cells[0].shape[:2]
    cell = 4.4
    fig, axes = plt.subplots(rows, columns, figsize=(cell * columns, rows * (cell * height / width + 0.55)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    heat = "gradient" if method == "gradient" else "occlusion"
    for i, (f, image) in enumerate(zip(frames, cells)):
        ax = axes[i // columns, i % columns]
        ax.set_axis_on()
        ax.imshow(image)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{i + 1}: {100 * f.fraction:.0f}% of the lap, steer {f.steering:+.1f} deg, {f.speed:.2f} m/s\n"
                     f"above: the camera; below: {heat} heat", fontsize=9)
    fig.tight_layout()
    return png(fig)


def places_map(tmap: TrackMap, frames: list) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=tmap.figsize(4.8))
    tmap.draw(ax)
    for i, f in enumerate(frames):
        ax.plot(f.x, f.y, "o", color="white", markeredgecolor="black", markersize=16)
        ax.text(f.x, f.y, str(i + 1), ha="center", va="center", fontsize=9, weight="bold")
    ax.set_title("where the frames were taken")
    fig.tight_layout()
    return png(fig)
