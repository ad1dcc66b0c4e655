"""learn: training data from recorded loops in the field names TRL's trainers read, LoRA training on the CPU, and
the trained adapter as a GGUF llama.cpp runs in every loop (`local+lora:DIR`)."""
from ._cycle import CycleSettings, run_cycle
from ._export import FORMATS, SELECTIONS, export_training, train_split, training_rows
from ._gguf import TARGET_MODULES, load_base, write_lora_gguf
from ._train import LEARN_INSTALL, METHODS, TrainSettings, require_learn_extra, train

__all__ = ["CycleSettings", "run_cycle", "FORMATS", "LEARN_INSTALL", "METHODS", "SELECTIONS", "TARGET_MODULES", "TrainSettings", "export_training",
           "load_base", "require_learn_extra", "train", "train_split", "training_rows", "write_lora_gguf"]
