# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.racekit-installed

.PHONY: setup demo test test-slow bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU PyTorch: this pinned wheel is the CPU build on this kind of machine;
	# an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[sim,dev]"
	touch $(STAMP)

setup: $(STAMP)

# The whole path in a few minutes: the expert's lap, PPO from pixels on the default track until its
# first evaluation with 3 clean laps (at most 6 minutes), its ONNX export, and the exported model
# racing 3 laps (with a video).
demo: setup
	rm -rf runs/demo
	$(VENV)/bin/racekit sim demo --out runs/demo/expert-lap.mp4
	$(VENV)/bin/racekit train --reward examples/rewards/speed_along_track.py --steps 400000 --eval-every 10000 \
		--until-clean --minutes 6 --out runs/demo/run
	$(VENV)/bin/racekit export runs/demo/run -o runs/demo/model.onnx
	$(VENV)/bin/racekit race runs/demo/model.onnx --name demo --db runs/demo/leaderboard.sqlite --out runs/demo/race
	$(VENV)/bin/racekit leaderboard --db runs/demo/leaderboard.sqlite
	@echo "see runs/demo: expert-lap.mp4, run/training.png, model.onnx, race/ (replay video and track map)"

test: setup
	$(PY) -m pytest -q --durations=15

test-slow: setup
	$(PY) -m pytest -q -m slow

clean:
	rm -rf $(VENV) runs .pytest_cache
