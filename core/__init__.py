"""Embedding Explorer's engine, without Streamlit. The names below load on first use (PEP 562), so `import
core.optimizers` or `import core.limits` does not load torch, numpy or UMAP."""

import importlib

_EXPORTS = {
    "core.errors": ("ConfigError", "TrainingDiverged"),
    "core.optimizers": ("OPTIMIZERS", "optimizer_defaults"),
    "core.budget": ("RunBytes", "return_freed_memory", "run_bytes"),
    "core.config": ("INITS", "TrainConfig"),
    "core.records": ("History", "StepRecord"),
    "core.trainer": ("Trainer",),
    "core.metrics": ("knn_category_purity", "nearest_neighbours"),
    "core.layouts": ("LayoutCache", "LayoutError", "project", "umap_is_warm", "warm_up_umap"),
}
_HOMES = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """Import the module a public name lives in, the first time the name is asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value
