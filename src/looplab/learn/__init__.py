"""learn: training data from recorded loops, in the field names TRL's trainers read."""
from ._export import FORMATS, SELECTIONS, export_training, train_split, training_rows

__all__ = ["FORMATS", "SELECTIONS", "export_training", "train_split", "training_rows"]
