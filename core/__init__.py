"""Embedding Explorer's engine: everything the pages show is computed here, without Streamlit."""

from core.budget import RunBytes, return_freed_memory, run_bytes
from core.config import INITS, TrainConfig
from core.errors import ConfigError, TrainingDiverged
from core.metrics import knn_category_purity, nearest_neighbours
from core.optim import OPTIMIZERS, optimizer_defaults
from core.projection import ProjectionError, Projector, project, umap_is_warm, warm_up_umap
from core.trainer import History, StepRecord, Trainer

__all__ = [
    "INITS",
    "OPTIMIZERS",
    "ProjectionError",
    "Projector",
    "ConfigError",
    "RunBytes",
    "History",
    "StepRecord",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "knn_category_purity",
    "nearest_neighbours",
    "optimizer_defaults",
    "project",
    "return_freed_memory",
    "run_bytes",
    "umap_is_warm",
    "warm_up_umap",
]
