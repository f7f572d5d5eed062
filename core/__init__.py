"""Embedding Explorer's engine: everything the pages show is computed here, without Streamlit."""

from core.config import INITS, TrainConfig
from core.errors import ConfigError, TrainingDiverged
from core.metrics import knn_category_purity, nearest_neighbours
from core.optim import OPTIMIZERS
from core.trainer import History, StepRecord, Trainer

__all__ = [
    "INITS",
    "OPTIMIZERS",
    "ConfigError",
    "History",
    "StepRecord",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "knn_category_purity",
    "nearest_neighbours",
]
