"""The camera networks a policy can have: racekit's own, and DeepRacer's three presets.

A network is a stack of convolutions, a flatten, then dense layers; the actor and critic heads sit on
its last layer. DeepRacer's presets are read from its simulator (deepracer-simapp
`bundle/markov/sensors/utils.py` for the camera embedders, `bundle/markov/architecture/constants.py`
for the middleware after them):
- shallow: conv 32x8/4, 64x4/2, 64x3/1 (ReLU), then dense 512 (ReLU);
- standard (DEEP_CONVOLUTIONAL_NETWORK): conv 32x5/2, 32x3/1, 64x3/2, 64x3/1 and dense 64, all tanh,
  then dense 512 (ReLU);
- deep: conv 32x8/4, 32x4/2, 64x4/2, 64x3/1 (ReLU; DeepRacer adds batch norm, which racekit folds into
  the convolutions when it imports one), dense 512, 512, then 256, 128 (ReLU; DeepRacer's dropout is
  off when a model drives).
DeepRacer (TensorFlow) flattens channel-last, (height, width, channels); racekit's own network flattens
channel-first as PyTorch does. A DeepRacer network keeps TensorFlow's order, so weights move between the
two without reordering.

A car with a LIDAR: DeepRacer concatenates each sensor's embedder (the camera's convolutions and its own
dense layers; the LIDAR's dense 256, 256) before the middleware (rl_coach's general network: embedders,
merger, middleware, heads), so a DeepRacer network says after how many of its dense layers a LIDAR joins
(`lidar_joins`: the camera embedder's dense layers, 0, 1 or 2); racekit's own network joins it at the heads.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class Network:
    convs: tuple[tuple[int, int, int, str], ...]  # (out channels, kernel, stride, activation), VALID padding
    dense: tuple[tuple[int, str], ...]  # (units, activation)
    flatten: str = "chw"  # "hwc": TensorFlow's order (DeepRacer's networks)
    # a LIDAR's embedding joins before dense layer `lidar_joins` (DeepRacer's: before its middleware); None: at the
    # heads. Not compared: it says where a second sensor goes, not what the camera's network is
    lidar_joins: int | None = field(default=None, compare=False)

    @property
    def hidden(self) -> int:
        """Width of the last layer: what the heads take."""
        return self.dense[-1][0]

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "Network":
        return cls(convs=tuple(tuple(c) for c in raw["convs"]), dense=tuple(tuple(d) for d in raw["dense"]),
                   flatten=raw.get("flatten", "chw"), lidar_joins=raw.get("lidar_joins"))


NETWORKS = {
    "racekit": Network(((32, 8, 4, "relu"), (64, 4, 2, "relu"), (64, 3, 1, "relu")), ((512, "relu"),)),
    "deepracer-shallow": Network(((32, 8, 4, "relu"), (64, 4, 2, "relu"), (64, 3, 1, "relu")),
                                 ((512, "relu"),), "hwc", 0),
    "deepracer-standard": Network(((32, 5, 2, "tanh"), (32, 3, 1, "tanh"), (64, 3, 2, "tanh"), (64, 3, 1, "tanh")),
                                  ((64, "tanh"), (512, "relu")), "hwc", 1),
    "deepracer-deep": Network(((32, 8, 4, "relu"), (32, 4, 2, "relu"), (64, 4, 2, "relu"), (64, 3, 1, "relu")),
                              ((512, "relu"), (512, "relu"), (256, "relu"), (128, "relu")), "hwc", 2),
}
# DeepRacer's name for each preset in model_metadata.json
DEEPRACER_NAMES = {"deepracer-shallow": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
                   "deepracer-standard": "DEEP_CONVOLUTIONAL_NETWORK",
                   "deepracer-deep": "DEEP_CONVOLUTIONAL_NETWORK_DEEP"}


def as_network(network: "Network | str | dict") -> Network:
    """A preset's name, a Network, or Network.as_dict() read back."""
    if isinstance(network, Network):
        return network
    if isinstance(network, dict):
        return Network.from_dict(network)
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    return NETWORKS[network]


def name_of(network: Network) -> str | None:
    """The preset a network is, or None."""
    return next((name for name, preset in NETWORKS.items() if preset == network), None)


class FlattenHWC(nn.Module):
    """Flatten (B, C, H, W) in TensorFlow's (H, W, C) order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


def build_trunk(network: Network, channels: int, height: int, width: int, init) -> nn.Sequential:
    """Convolutions, flatten, dense layers, each followed by its activation; `init` initialises each layer.

    For racekit's network the module indices are the ones its checkpoints were saved with."""
    trunk, in_channels = nn.Sequential(), channels
    for out, kernel, stride, activation in network.convs:
        trunk.append(init(nn.Conv2d(channels, out, kernel, stride=stride)))
        trunk.append(ACTIVATIONS[activation]())
        channels = out
    trunk.append(FlattenHWC() if network.flatten == "hwc" else nn.Flatten())
    with torch.no_grad():
        flat = trunk(torch.zeros(1, in_channels, height, width)).shape[1]
    for units, activation in network.dense:
        trunk.append(init(nn.Linear(flat, units)))
        trunk.append(ACTIVATIONS[activation]())
        flat = units
    return trunk
