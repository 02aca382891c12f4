"""racekit's car runtime: everything that runs on the Raspberry Pi car.

Only the standard library, numpy, OpenCV, onnxruntime and pyserial (and, in
server/, Starlette and uvicorn) may be imported here (never torch, pybullet,
gymnasium, `sim`, `agent` or `racekit`), so `pip install racekit[car]` is
enough on the car. A test enforces this.

Modules, one concern each:
  errors       the exception types the command line turns into one-line messages
  model        the ONNX model file: contract check and inference
  preprocess   camera frame -> the model's camera spec (size, colour, frame stack)
  calibration  per-car pulse widths, the TOML file, fraction -> pulse mapping
  protocols/   byte encoders and decoders of the three serial protocols
  controllers  serial motor controller drivers, chosen by name
  virtual      software motor controllers on a pseudo-terminal (tests, simulator)
  link         a controller that reconnects with back-off when the port is lost
  safety       speed cap, no reverse, neutral on faults, e-stop, stop signals
  camera       camera sources (device, video file, registry for sim://)
  profiler     per-part timing (p50/p99) and missed deadlines
  drive        the fixed-rate car loop made of small parts
  service      `racekit car drive`: builds the parts in a safe order and runs the loop
  calibrate    the interactive calibration program (`racekit car calibrate`)
  server/      the car service (`racekit car serve`): models, start/stop, console; and its client
  firmware/    the racekit protocol's Arduino sketch and PROTOCOL.md
"""
__version__ = "0.1.0"
