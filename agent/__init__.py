"""Training: PPO from camera pixels (PyTorch), checkpoints, evaluation and ONNX export."""
